#!/bin/sh
# Deploys code tag $1 (also in $CODE_TAG) onto the builder. Runs as root through SSM.
set -eu
echo "deploying ${APP_REPO} at tag $1"
# A real script would, for example:
#   git clone --depth 1 --branch "$1" "$APP_REPO" /opt/app
#   /opt/app/bin/install
echo "$1" > /etc/app-release

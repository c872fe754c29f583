#!/bin/sh
# Deploys code tag $1 (also in $CODE_TAG): what the classic Packer shell provisioner did.
# Runs as root (`sudo -S sh -c` over SSH).
set -eu
echo "deploying ${APP_REPO} at tag $1"
if ! command -v git >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq git
fi
rm -rf "$APP_DIR"
git clone --quiet "$APP_REPO" "$APP_DIR"
cd "$APP_DIR"
git -c advice.detachedHead=false checkout --quiet "$1"
echo "checked out $(git rev-parse --short HEAD) for $1"
# A real script would go on, e.g.: "$APP_DIR/bin/install"

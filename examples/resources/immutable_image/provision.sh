#!/bin/sh
set -eu
git clone --quiet "$APP_REPO" /opt/web
cd /opt/web
git -c advice.detachedHead=false checkout --quiet "$1"
/opt/web/bin/install

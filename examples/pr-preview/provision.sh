#!/bin/sh
# Runs on the builder with the code tag as $1 (also in CODE_TAG).
set -eu
echo "deploying $1"

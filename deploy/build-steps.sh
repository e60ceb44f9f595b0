#!/bin/sh
# Performs the Dockerfile's build and start steps without Docker (deploy/build-steps.ts): copies the
# build context to a temp directory, runs the COPY/RUN steps there, starts the runtime stage's CMD on
# 127.0.0.1 with the embedded media engine and waits for /readyz to answer 200.
#   bash deploy/build-steps.sh [--keep] [--npm-ci]
# --keep leaves the temp directory; --npm-ci runs a real `npm ci` instead of copying node_modules.
set -e
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
npx --no-install esbuild deploy/build-steps.ts --bundle --platform=node --format=cjs --packages=external \
  --log-level=warning --outfile="$tmp/build-steps.js"
node "$tmp/build-steps.js" "$PWD" "$@"

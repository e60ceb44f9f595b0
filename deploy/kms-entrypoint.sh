#!/bin/bash
# Kurento Media Server container entrypoint (docker-compose.yml, service `kms`, image
# kurento/kurento-media-server:7.x).
#
# Copies the committed configuration from kurento/config (mounted read-only at $KMS_CONFIG_SRC) into
# the image's configuration directories, then runs the image's own /entrypoint.sh. The files are
# copied, not bind-mounted in place, because that entrypoint applies the KMS_* environment
# (KMS_MIN_PORT, KMS_MAX_PORT, KMS_EXTERNAL_IPV4, KMS_TURN_URL, ...) by editing
# /etc/kurento/modules/kurento/*.conf.ini with `sed -i`, which cannot replace a bind-mounted file
# (rename: Device or resource busy) and would edit the repository's copy if it could.
#   kurento.conf.json       -> /etc/kurento/
#   *.conf.ini, *.conf.json -> /etc/kurento/modules/kurento/
set -euo pipefail

SRC="${KMS_CONFIG_SRC:-/busking/kurento}"
ETC="${KMS_ETC_DIR:-/etc/kurento}"
MODULES="${KMS_MODULES_DIR:-$ETC/modules/kurento}"
NEXT="${KMS_ENTRYPOINT:-/entrypoint.sh}"

[ -d "$SRC" ] || { echo "[kms-entrypoint] $SRC is missing (mount kurento/config there)" >&2; exit 1; }
mkdir -p "$MODULES"
shopt -s nullglob
for f in "$SRC"/*.conf.ini "$SRC"/*.conf.json; do
  name="$(basename "$f")"
  if [ "$name" = "kurento.conf.json" ]; then
    cp "$f" "$ETC/$name"
  else
    cp "$f" "$MODULES/$name"
  fi
  echo "[kms-entrypoint] using $name from kurento/config"
done

exec "$NEXT" "$@"

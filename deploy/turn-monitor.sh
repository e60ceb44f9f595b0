#!/bin/sh
# turn-monitor container command (docker-compose.yml): runs the coturn log monitor sidecar
# (dist/turn/src/sidecar.js, what `npm run turn:sidecar` runs) against the signaling broker's STOMP
# TCP listener (TURN_SIDECAR_BROKER, e.g. signaling:61613), following TURN_LOG.
#
#   turn-monitor.sh                 run the sidecar
#   turn-monitor.sh --mint-token    print the ops token it would mint, and exit
#
# The broker accepts the sidecar's events only from a principal with role `turn-sidecar` (or `ops`);
# a turn-sidecar token may SEND TURN events and do nothing else. TURN_SIDECAR_TOKEN is used when set
# (it expires like any token, JWT_MAX_TTL_S at most: replace it and restart before it does).
# Otherwise, with HS256 (JWT_SECRET set), tokens are minted here from JWT_SECRET (and
# JWT_ISSUER/JWT_AUDIENCE when set), one hour long (JWT_MAX_TTL_S if shorter), renewed into a
# private file every half lifetime; the sidecar reads that file at every reconnect, and the broker
# ends a session whose token expires, so the renewed token takes over. With RS256/ES256 the
# service cannot mint: issue a turn-sidecar token with your identity provider and set
# TURN_SIDECAR_TOKEN. All variables are from signaling/src/config.ts.
set -eu

TTL=3600
if [ -n "${JWT_MAX_TTL_S:-}" ] && [ "$JWT_MAX_TTL_S" -lt "$TTL" ]; then TTL="$JWT_MAX_TTL_S"; fi
export TTL

mint() {
  node -e '
    const jwt = require("jsonwebtoken");
    const opts = { algorithm: "HS256", expiresIn: Number(process.env.TTL) };
    if (process.env.JWT_ISSUER) opts.issuer = process.env.JWT_ISSUER;
    if (process.env.JWT_AUDIENCE) opts.audience = process.env.JWT_AUDIENCE;
    process.stdout.write(jwt.sign({ sub: "turn-monitor", name: "turn-monitor", roles: ["turn-sidecar"] }, process.env.JWT_SECRET, opts));
  '
}

if [ "${1:-}" = "--mint-token" ]; then
  [ -n "${JWT_SECRET:-}" ] || { echo "[turn-monitor] JWT_SECRET is empty" >&2; exit 2; }
  mint
  exit 0
fi

[ -n "${TURN_LOG:-}" ] || { echo "[turn-monitor] TURN_LOG is empty" >&2; exit 2; }
[ -n "${TURN_SIDECAR_BROKER:-}" ] || { echo "[turn-monitor] TURN_SIDECAR_BROKER is empty" >&2; exit 2; }

if [ -n "${TURN_SIDECAR_TOKEN:-}" ]; then
  exec node dist/turn/src/sidecar.js "$TURN_LOG"
fi
[ -n "${JWT_SECRET:-}" ] || { echo "[turn-monitor] neither TURN_SIDECAR_TOKEN nor JWT_SECRET: cannot authenticate to the broker" >&2; exit 2; }
umask 077
TOKEN_DIR="$(mktemp -d)"
mint > "$TOKEN_DIR/token"
# Renewal: a new token every half lifetime, swapped in with a rename so the sidecar never reads half a file.
(
  while sleep $((TTL / 2)); do
    mint > "$TOKEN_DIR/token.new" && mv "$TOKEN_DIR/token.new" "$TOKEN_DIR/token"
  done
) &
exec node dist/turn/src/sidecar.js "$TURN_LOG" --token-file "$TOKEN_DIR/token"

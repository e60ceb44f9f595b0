#!/bin/sh
# turn-monitor container command (docker-compose.yml): runs the coturn log monitor sidecar
# (dist/turn/src/sidecar.js, what `npm run turn:sidecar` runs) against the signaling broker's STOMP
# TCP listener (TURN_SIDECAR_BROKER, e.g. signaling:61613), following TURN_LOG.
#
#   turn-monitor.sh                 run the sidecar
#   turn-monitor.sh --mint-token    print the ops token it would mint, and exit
#
# The broker accepts the sidecar's events only from a principal with role `ops`. TURN_SIDECAR_TOKEN
# is used when set; otherwise, with HS256 (JWT_SECRET set), a token is minted here at start from
# JWT_SECRET (and JWT_ISSUER/JWT_AUDIENCE when set), so no long-lived token has to be stored. With
# RS256/ES256 the service cannot mint: issue an ops token with your identity provider and set
# TURN_SIDECAR_TOKEN. All variables are from signaling/src/config.ts.
set -eu

mint() {
  node -e '
    const jwt = require("jsonwebtoken");
    const opts = { algorithm: "HS256", expiresIn: "365d" };
    if (process.env.JWT_ISSUER) opts.issuer = process.env.JWT_ISSUER;
    if (process.env.JWT_AUDIENCE) opts.audience = process.env.JWT_AUDIENCE;
    process.stdout.write(jwt.sign({ sub: "turn-monitor", name: "turn-monitor", roles: ["ops"] }, process.env.JWT_SECRET, opts));
  '
}

if [ "${1:-}" = "--mint-token" ]; then
  [ -n "${JWT_SECRET:-}" ] || { echo "[turn-monitor] JWT_SECRET is empty" >&2; exit 2; }
  mint
  exit 0
fi

[ -n "${TURN_LOG:-}" ] || { echo "[turn-monitor] TURN_LOG is empty" >&2; exit 2; }
[ -n "${TURN_SIDECAR_BROKER:-}" ] || { echo "[turn-monitor] TURN_SIDECAR_BROKER is empty" >&2; exit 2; }

if [ -z "${TURN_SIDECAR_TOKEN:-}" ]; then
  [ -n "${JWT_SECRET:-}" ] || { echo "[turn-monitor] neither TURN_SIDECAR_TOKEN nor JWT_SECRET: cannot authenticate to the broker" >&2; exit 2; }
  TURN_SIDECAR_TOKEN="$(mint)"
  export TURN_SIDECAR_TOKEN
fi

exec node dist/turn/src/sidecar.js "$TURN_LOG"

# syntax=docker/dockerfile:1
#
# The busking image: the signaling service (STOMP broker, REST, web app) and, with another command,
# the coturn log monitor sidecar (docker-compose.yml: `turn-monitor`).
#
#   build    compiles TypeScript (tsc -p tsconfig.build.json) and bundles the web app (web/build.js)
#            into dist/, then drops the devDependencies from node_modules;
#   runtime  holds only package.json, dist/ and the production node_modules, owned by root and
#            run by the unprivileged `node` user.
#
# No Docker engine runs in CI: deploy/test/dockerfile.test.ts parses this file and performs its
# COPY/RUN steps and the runtime CMD as plain commands (deploy/build-steps.ts). Keep every RUN step
# a command that also works outside a container (no absolute /app paths, no apt-get), and keep the
# stage names `build` and `runtime`.

# ffmpeg and ffprobe cut shorts and make posters (stream copy, signaling/src/shorts/clip.ts): a
# static build, so the runtime stage needs no apt-get and stays a copy of files.
FROM mwader/static-ffmpeg:7.1 AS ffmpeg

# The full image, not -slim: it has python3, make and gcc, which build the media engine's native
# addon (kurento/native, copied into dist/ by `npm run build`); the runtime stage needs none of them.
FROM node:24-bookworm AS build
WORKDIR /app
# Dependencies first: this layer is reused until package.json or the lock file changes.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY . .
RUN npm run build
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
# HOST/PORT/STOMP_TCP_PORT are from signaling/src/config.ts (CONFIG_VARS); in a container the
# service listens on every interface. Everything else comes from the environment (docker-compose.yml).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    STOMP_TCP_PORT=61613
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=ffmpeg /ffmpeg /ffprobe /usr/local/bin/
USER node
# 8080: HTTP (web app, /api, STOMP over WebSocket at /stomp, /healthz, /readyz, /metrics)
# 61613: STOMP over TCP for backend services (the TURN monitor sidecar); never publish it publicly.
EXPOSE 8080 61613
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/signaling/src/main.js"]

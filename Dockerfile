# syntax=docker/dockerfile:1.7
#
# Chartroom image: build stage compiles everything (native better-sqlite3,
# both Prisma clients, TypeScript → dist/), runtime stage carries only what
# `node dist/server.js` reads. Build: docker build -t chartroom .

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------- build ----
FROM ${NODE_IMAGE} AS build

# better-sqlite3 compiles with node-gyp when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Prisma 6.19 asks for its native engines even though Chartroom only runs the
# wasm query compiler; pointing these at an existing file stops every engine
# download (same trick as scripts/prepare.mjs's offlinePrismaEnv()).
ENV PRISMA_SCHEMA_ENGINE_BINARY=/usr/local/bin/node \
    PRISMA_QUERY_ENGINE_LIBRARY=/usr/local/bin/node \
    PRISMA_SKIP_POSTINSTALL_GENERATE=1 \
    PRISMA_HIDE_UPDATE_MESSAGE=1 \
    CHECKPOINT_DISABLE=1 \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# Dependencies first, so this layer is reused until package-lock.json changes.
# --ignore-scripts: the root postinstall (scripts/prepare.mjs) needs the
# sources, which are not copied yet; the native addons are built just below.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts \
 && npm rebuild better-sqlite3

# Sources, then what `npm install`'s postinstall does: write the Prisma
# schemas, generate both clients, compile TypeScript to dist/.
COPY . .
RUN mkdir -p bin channels \
 && node scripts/prepare.mjs \
 && test -f dist/server.js && test -f dist/console/index.html

# Runtime dependencies only. The native addon's build leftovers (objects,
# static library, sqlite sources) are not needed to load it.
RUN npm prune --omit=dev --ignore-scripts \
 && addons="$(find /app/node_modules -type d -path '*/node_modules/better-sqlite3' -prune -print)" \
 && for d in $addons; do \
      rm -rf "$d/deps" "$d/src" "$d/build/Release/obj" "$d/build/Release/obj.target" \
             "$d/build/Release/.deps" "$d/build/Release/test_extension.node" "$d"/build/Release/*.a; \
    done \
 && node -e "for (const d of process.argv.slice(1)) require(d)(':memory:').close()" $addons

# -------------------------------------------------------------- runtime ----
FROM ${NODE_IMAGE} AS runtime

# A fixed numeric uid/gid: Kubernetes' runAsNonRoot can only verify a
# numeric USER, and volume ownership stays predictable across rebuilds.
RUN groupadd --system --gid 10001 chartroom \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin chartroom

WORKDIR /app

# MALLOC_ARENA_MAX and the node flags in CMD: as `npm start` runs the server
# (fewer malloc arenas and a 4 MB young generation keep RSS down; see
# docs/performance.md).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    PORT=8080 \
    HOST=0.0.0.0 \
    DATA_DIR=/app/data \
    CHANNELS_DIR=/app/channels

# Application files stay owned by root (the app cannot rewrite its own code);
# only DATA_DIR belongs to the runtime user.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Migrations are read at start-up from prisma/<provider>/migrations.
COPY --from=build /app/prisma ./prisma
COPY --from=build /app/channels ./channels
COPY --from=build /app/bin ./bin

RUN mkdir -p /app/data && chown 10001:10001 /app/data && chmod 0750 /app/data
# SQLite database (the embedded default) and development keys live here.
VOLUME ["/app/data"]

USER 10001:10001
EXPOSE 8080

# server.ts shuts down gracefully on SIGTERM (close-with-grace, at most
# SHUTDOWN_TIMEOUT_MS). Node runs as PID 1 and spawns no children, so no
# init is required; `docker run --init` / compose `init: true` is fine too.
STOPSIGNAL SIGTERM

# No curl in the slim image: Node 20's fetch probes liveness.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# Not `npm start`: its prestart re-runs scripts/prepare.mjs, which needs the
# dev toolchain pruned above and a writable tree.
CMD ["node", "--max-semi-space-size=4", "--liftoff-only", "dist/server.js"]

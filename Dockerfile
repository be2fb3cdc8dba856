# syntax=docker/dockerfile:1.7
# The Kura images, built from the repository root. The manifests once, one build stage, one shared
# runtime base, one target per app (the last is the default):
#   docker build --target sync-runner -t kura-sync .        # Cloud Run service
#   docker build --target backfill -t kura-backfill .       # Cloud Run Job

# ---- manifests: the root and workspace package.json files and the lock, listed once (npm ci needs
# every workspace manifest to match the lock file, in the build and in the runtime base) ----
FROM scratch AS manifests
COPY package.json package-lock.json /m/
COPY packages/core/package.json /m/packages/core/
COPY packages/shopify-client/package.json /m/packages/shopify-client/
COPY packages/lightspeed-client/package.json /m/packages/lightspeed-client/
COPY packages/stocky-client/package.json /m/packages/stocky-client/
COPY packages/warehouse/package.json /m/packages/warehouse/
COPY packages/sandbox/package.json /m/packages/sandbox/
COPY apps/sync-runner/package.json /m/apps/sync-runner/
COPY apps/backfill/package.json /m/apps/backfill/

# ---- build: full workspace install, then both apps and the packages they import ----
FROM node:24-slim AS build
WORKDIR /repo
COPY --from=manifests /m/ ./
COPY nx.json tsconfig.base.json ./
RUN npm ci --no-audit --no-fund
COPY packages/ packages/
COPY apps/sync-runner/ apps/sync-runner/
COPY apps/backfill/ apps/backfill/
RUN npx nx run-many -t build -p @kura/sync-runner @kura/backfill --outputStyle=static

# ---- runtime: the workspace manifests (npm ci checks them against the lock) and built packages ----
FROM node:24-slim AS runtime
ENV NODE_ENV=production
# The apps turn on Node's compile cache (in the temporary directory) for the starts that follow on
# the same disk (cron's kura-sync run). A Cloud Run instance or Job task starts once, and its /tmp
# is memory (~11 MB of entries), so the images leave it off.
ENV NODE_DISABLE_COMPILE_CACHE=1
WORKDIR /app
COPY --from=manifests /m/ ./
COPY --from=build /repo/packages/core/dist packages/core/dist
COPY --from=build /repo/packages/shopify-client/dist packages/shopify-client/dist
COPY --from=build /repo/packages/lightspeed-client/dist packages/lightspeed-client/dist
COPY --from=build /repo/packages/stocky-client/dist packages/stocky-client/dist
COPY --from=build /repo/packages/warehouse/dist packages/warehouse/dist
# The sandbox is loaded only when KURA_SANDBOX=1 (demos, smoke tests of a deployment).
COPY --from=build /repo/packages/sandbox/dist packages/sandbox/dist
COPY --from=build /repo/packages/sandbox/schema packages/sandbox/schema
COPY --from=build /repo/packages/sandbox/bin packages/sandbox/bin

# ---- kura-backfill: production dependencies of the app only, non-root ----
FROM runtime AS backfill
RUN npm ci --omit=dev --no-audit --no-fund -w @kura/backfill --include-workspace-root=false \
  && npm cache clean --force
COPY --from=build /repo/apps/backfill/dist apps/backfill/dist
COPY --from=build /repo/apps/backfill/bin apps/backfill/bin
USER node
# Run as a program: main.js re-executes node bounded first (@kura/core/bounded-launch: KURA_NODE_HEAP_MB,
# default 192, KURA_NODE_SEMI_SPACE_MB, and glibc MALLOC_ARENA_MAX / MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_).
# bin/kura-backfill.mjs is the package's bin (a committed launcher that imports dist/main.js).
ENTRYPOINT ["/app/apps/backfill/bin/kura-backfill.mjs"]

# ---- kura-sync (the default target): production dependencies of the app only, non-root ----
FROM runtime AS sync-runner
RUN npm ci --omit=dev --no-audit --no-fund -w @kura/sync-runner --include-workspace-root=false \
  && npm cache clean --force
COPY --from=build /repo/apps/sync-runner/dist apps/sync-runner/dist
COPY --from=build /repo/apps/sync-runner/bin apps/sync-runner/bin
USER node
ENV PORT=8080
EXPOSE 8080
# Cloud Run sends SIGTERM; node is PID 1 here and the app handles the signal itself (drain, then exit 0).
CMD ["node", "apps/sync-runner/bin/kura-sync.mjs", "serve"]

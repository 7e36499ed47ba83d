# syntax=docker/dockerfile:1
# One image for every process of outbox-relay: relay, orders, subscriber, payments, operator and outboxctl share
# the outbox, inbox and telemetry libraries and most dependencies, so one image is smaller in total and cannot mix
# versions. The first argument picks the process (docker/entrypoint.sh); Kubernetes manifests run
# `node services/<name>/dist/main.js` from /app instead, as the operator does for relay pods.
#   docker build -t outbox-relay:dev .        (or: make images)
#   docker run --rm outbox-relay:dev          lists the entry points
# test/packaging/dockerfile.test.ts checks that every file copied here exists and every entry point is built.

ARG NODE_IMAGE=node:26-bookworm-slim

# ---- deps: every dependency, TypeScript included; cached until a package.json or the lock changes
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
COPY services/runtime/package.json services/runtime/
COPY services/outbox/package.json services/outbox/
COPY services/inbox/package.json services/inbox/
COPY services/telemetry/package.json services/telemetry/
COPY services/orders/package.json services/orders/
COPY services/relay/package.json services/relay/
COPY services/subscriber/package.json services/subscriber/
COPY services/payments/package.json services/payments/
COPY services/outboxctl/package.json services/outboxctl/
COPY services/operator/package.json services/operator/
COPY docker/npm-ci.sh docker/
RUN sh docker/npm-ci.sh --ignore-scripts

# ---- build: compile every workspace into services/*/dist
FROM deps AS build
COPY tsconfig.base.json ./
COPY services/ services/
# The git revision outbox_relay_build_info reports (the build context has no .git): make images passes it.
ARG GIT_REVISION=unknown
RUN GIT_REVISION="$GIT_REVISION" npm run build

# ---- prod-deps: runtime dependencies only (no TypeScript, jest, helm...), without type declarations and maps
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY services/runtime/package.json services/runtime/
COPY services/outbox/package.json services/outbox/
COPY services/inbox/package.json services/inbox/
COPY services/telemetry/package.json services/telemetry/
COPY services/orders/package.json services/orders/
COPY services/relay/package.json services/relay/
COPY services/subscriber/package.json services/subscriber/
COPY services/payments/package.json services/payments/
COPY services/outboxctl/package.json services/outboxctl/
COPY services/operator/package.json services/operator/
COPY docker/npm-ci.sh /tmp/
RUN sh /tmp/npm-ci.sh --omit=dev --ignore-scripts \
  && find /app/node_modules /app/services -path '*/node_modules/*' -type f \
       \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' \) -delete \
  && rm /tmp/npm-ci.sh

# ---- runtime: node, production node_modules, compiled code and SQL migrations; owned by root, run as 10001
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# 10001 is the user the operator's relay pods and the Helm charts run as (runAsNonRoot needs a numeric user).
RUN groupadd --system --gid 10001 outbox \
  && useradd --system --uid 10001 --gid outbox --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin outbox
COPY --from=prod-deps /app ./
COPY --from=build /src/services/runtime/dist services/runtime/dist
COPY --from=build /src/services/outbox/dist services/outbox/dist
COPY --from=build /src/services/inbox/dist services/inbox/dist
COPY --from=build /src/services/telemetry/dist services/telemetry/dist
COPY --from=build /src/services/orders/dist services/orders/dist
COPY --from=build /src/services/relay/dist services/relay/dist
COPY --from=build /src/services/subscriber/dist services/subscriber/dist
COPY --from=build /src/services/payments/dist services/payments/dist
COPY --from=build /src/services/outboxctl/dist services/outboxctl/dist
COPY --from=build /src/services/operator/dist services/operator/dist
COPY services/outbox/migrations services/outbox/migrations
COPY services/inbox/migrations services/inbox/migrations
COPY services/orders/migrations services/orders/migrations
COPY services/payments/migrations services/payments/migrations
COPY services/payments/migrations-fake-gateway services/payments/migrations-fake-gateway
COPY docker/entrypoint.sh docker/healthcheck.mjs docker/
USER 10001:10001
# operator 8080, orders 8081, relay 8090 (each service's default HTTP port)
EXPOSE 8080 8081 8090
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "/app/docker/healthcheck.mjs"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["help"]

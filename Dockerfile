# syntax=docker/dockerfile:1
# modelgate: one image, two entry points.
#   modelgate-init <command>   the init container / Job / CronJob (all, migrate, models, refresh, wait, status)
#   modelgate-app              the HTTP server (the default command)
# Runs as the numeric user 10001 and needs no writable path except the artifact directory (/var/run/modelgate,
# an emptyDir in Kubernetes) and /tmp, so it works with a read-only root filesystem. See README "Container image".
#
# BASE_IMAGE: the runtime stage's base, any Node LTS image laid out like the official one (node on PATH, /bin/sh,
# /usr/bin/env); it needs no npm. BUILD_IMAGE: the build stage's base, with npm as well and the very same node
# binary (the build writes V8 code caches that only that binary accepts); by default the same image.
# `npm run image:check` builds this file against two bases made locally by scripts/image/base.sh (a runtime base
# without npm, and the same plus npm for the build).
ARG BASE_IMAGE=node:22-bookworm-slim
ARG BUILD_IMAGE=${BASE_IMAGE}

FROM ${BUILD_IMAGE} AS build
# An npm mirror, when the build machine needs one (e.g. --build-arg NPM_CONFIG_REGISTRY=https://npm.example/).
ARG NPM_CONFIG_REGISTRY
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: compiling and bundling need none (esbuild's native binary comes as an optional package).
# Behind a TLS-intercepting proxy, hand its CA bundle in as a build secret: --secret id=npm-ca,src=<bundle.pem>
# (docker buildx and buildah alike); it is used for this step only and never stored in a layer. npm's download
# cache is a cache mount, so a changed lockfile does not download everything again.
RUN --mount=type=secret,id=npm-ca --mount=type=cache,id=modelgate-npm,target=/root/.npm,sharing=locked \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
 && npm ci --ignore-scripts
# Sources: .dockerignore admits only what building needs (tsconfig files, scripts/build/, app/, init/, core/).
COPY . .
# `npm run build` type-checks, then bundles each executable with everything it imports into dist/bin, with a V8
# code cache made by this node. The runtime gets no node_modules at all: the launchers, bundles, code caches and
# license notes of dist/bin, the API reference's browser files (dist/docs: Swagger UI, sent from disk by /docs),
# the migrations (knex loads them from disk) and package.json (version, package root), plus the license texts of
# the production packages.
RUN npm run build \
 && mkdir -p /out/app/dist/bin /out/app/dist/docs /out/app/core/db \
 && cp -a dist/bin/*.js dist/bin/*.bundle.cache dist/bin/*.LEGAL.txt /out/app/dist/bin/ \
 && cp -a dist/docs/. /out/app/dist/docs/ \
 && cp -a core/db/migrations /out/app/core/db/ \
 && cp -a package.json /out/app/ \
 && node scripts/image/third-party-notices.mjs /out/app/THIRD-PARTY-NOTICES.txt

FROM ${BASE_IMAGE} AS runtime
ARG BASE_IMAGE
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
# The repository URL; set by whoever builds from a clone (scripts/image/build.sh uses the git remote).
ARG SOURCE=
LABEL org.opencontainers.image.title="modelgate" \
      org.opencontainers.image.description="OpenAI-compatible model gateway: modelgate-init (migrations, model artifact) and modelgate-app (HTTP server)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and not writable by the app user: the code cannot be changed by the process running it.
COPY --from=build --chown=0:0 /out/app /app
# V8 accepts a code cache only from the same build of itself; a rejected one would make every start compile the
# bundle from source, silently. So a BASE_IMAGE whose node differs from BUILD_IMAGE's stops the build here. Both
# binaries go on PATH; the artifact directory exists (owned by the app user) for runs without a volume.
RUN for bin in modelgate-app modelgate-init; do \
      if MODELGATE_DEBUG_CODE_CACHE=1 node "dist/bin/$bin.js" --help 2>&1 >/dev/null | grep 'code cache'; then \
        echo "BASE_IMAGE's node ($(node --version)) rejects the code cache of BUILD_IMAGE's: use images with the same node build" >&2; \
        exit 1; \
      fi; \
    done \
 && ln -s /app/dist/bin/modelgate-init.js /usr/local/bin/modelgate-init \
 && ln -s /app/dist/bin/modelgate-app.js /usr/local/bin/modelgate-app \
 && mkdir -p /var/run/modelgate \
 && chown 10001:10001 /var/run/modelgate
USER 10001:10001
EXPOSE 8080
# No wrapper: the container's command is the binary itself, so Kubernetes `command: [modelgate-init]` and
# `docker run IMAGE modelgate-init all` behave alike. The base image's entry point (if any) is cleared.
ENTRYPOINT []
CMD ["modelgate-app"]

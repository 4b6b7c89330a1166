# syntax=docker/dockerfile:1
# modelgate: one image, two entry points.
#   modelgate-init <command>   the init container / Job / CronJob (all, migrate, models, refresh, wait, status)
#   modelgate-app              the HTTP server (the default command)
# Runs as the numeric user 10001 and needs no writable path except the artifact directory (/var/run/modelgate,
# an emptyDir in Kubernetes) and /tmp, so it works with a read-only root filesystem. See README "Container image".
#
# BASE_IMAGE: any Node LTS image laid out like the official one (node and npm on PATH, a /bin/sh). `npm run
# image:check` builds this file against a base made locally by scripts/image/base.sh.
ARG BASE_IMAGE=node:22-bookworm-slim

FROM ${BASE_IMAGE} AS build
# An npm mirror, when the build machine needs one (e.g. --build-arg NPM_CONFIG_REGISTRY=https://npm.example/).
ARG NPM_CONFIG_REGISTRY
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: compiling needs none, and none of the production dependencies has one.
# Behind a TLS-intercepting proxy, hand its CA bundle in as a build secret: --secret id=npm-ca,src=<bundle.pem>
# (docker buildx and buildah alike); it is used for this step only and never stored in a layer. npm's download
# cache is a cache mount, so a changed lockfile does not download everything again.
RUN --mount=type=secret,id=npm-ca --mount=type=cache,id=modelgate-npm,target=/root/.npm,sharing=locked \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
 && npm ci --ignore-scripts
# Sources: .dockerignore admits only what compiling needs (tsconfig files, scripts/postbuild.js, app/, init/, core/).
COPY . .
# The runtime gets only what it executes: compiled JavaScript (no source maps: their sources are not shipped),
# the migrations (loaded from source at run time), package.json (version, package root) and production modules
# without TypeScript sources, type declarations and source maps (node never loads them from node_modules).
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts \
 && find dist -name '*.js.map' -type f -delete \
 && find node_modules -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' \) -delete \
 && mkdir -p /out/app/core/db \
 && cp -a package.json dist node_modules /out/app/ \
 && cp -a core/db/migrations /out/app/core/db/

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
# Both binaries on PATH; the artifact directory exists (owned by the app user) for runs without a volume.
RUN ln -s /app/dist/init/main.js /usr/local/bin/modelgate-init \
 && ln -s /app/dist/app/main.js /usr/local/bin/modelgate-app \
 && mkdir -p /var/run/modelgate \
 && chown 10001:10001 /var/run/modelgate
USER 10001:10001
EXPOSE 8080
# No wrapper: the container's command is the binary itself, so Kubernetes `command: [modelgate-init]` and
# `docker run IMAGE modelgate-init all` behave alike. The base image's entry point (if any) is cleared.
ENTRYPOINT []
CMD ["modelgate-app"]

# syntax=docker/dockerfile:1
# kserve-reclaimer image:  docker build -t registry.example.com/kserve-reclaimer:0.1.0 .
# No image is published yet: push this one where the cluster can pull it and point the install at
# it (docs/install.md, "Getting the binary and the image").
# Two stages: the build stage bundles the CLI and its dependencies with esbuild (a dev dependency);
# the runtime stage gets only dist/ and package.json ("type": "module", and --version reads it): the
# bundle needs no node_modules.

# ---- build ----------------------------------------------------------------------------------
FROM node:24-bookworm AS build
WORKDIR /src
# dependencies first, so a source change does not reinstall them
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/bundle.ts ./scripts/bundle.ts
COPY src ./src
# `npm run build` = node scripts/bundle.ts: src/cli/entry.ts and everything it imports -> dist/
# (cli/entry.js, chunks/*.js, lazy/*.cjs for the packages loaded on first use)
RUN npm run build

# ---- runtime --------------------------------------------------------------------------------
# distroless: no shell, no package manager, a non-root user (65532) in the :nonroot variant.
FROM gcr.io/distroless/nodejs24-debian12:nonroot AS runtime
WORKDIR /app
ENV NODE_ENV=production
# files stay owned by root and read-only for uid 65532 (the pod also mounts the root filesystem read-only)
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/dist ./dist
USER 65532:65532
EXPOSE 8080
# PID 1 without tini: distroless has no shell and no init, so node is PID 1. The kernel delivers
# no signal to PID 1 that has no handler, but `kserve-reclaimer run` registers SIGTERM and SIGINT
# handlers (drain in-flight patches, release the Lease, exit), so `kubectl delete pod` and rolling
# updates stop it cleanly; and the daemon starts no child processes, so there are no zombies to
# reap. This is the same command as the npm bin `kserve-reclaimer` (dist/cli/entry.js).
ENTRYPOINT ["/nodejs/bin/node", "dist/cli/entry.js"]
CMD ["run"]

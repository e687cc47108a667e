# syntax=docker/dockerfile:1
#
# discv4-native bootnode image.
#
#   docker build -t discv4-native .
#   docker run -d --name discv4 --restart unless-stopped \
#     -v discv4-data:/data -p 30303:30303/udp -p 127.0.0.1:9090:9090 \
#     -e DISCV4_NAT=extip:203.0.113.7 discv4-native
#
# DISCV4_NAT=extip:<public IP> makes the ENR advertise a reachable address
# (bound to 0.0.0.0 without it, the node advertises 127.0.0.1). Settings the
# CMD does not give as flags come from DISCV4_* variables (-e). Arguments
# after the image name replace CMD: keep --datadir /data so the node key
# and DB land on the volume, and --metrics-addr for the HEALTHCHECK.

ARG NODE_VERSION=20

# ---- build: compile the native addon and the TypeScript -------------------
FROM node:${NODE_VERSION}-bookworm AS build
# node-gyp's toolchain (present in this image already; listed so it stays so).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Compile against the headers of the node binary in this image instead of
# downloading them (the runtime stage has the same Node version).
ENV npm_config_nodedir=/usr/local
# npm ci runs this package's own scripts: `install` (node-gyp rebuild:
# binding.gyp + native/ -> build/Release/discv4_native.node) and `prepare`
# (npm run build: src/ -> dist/), so their inputs are copied first.
COPY package.json package-lock.json binding.gyp tsconfig.json tsconfig.build.json ./
COPY native ./native
COPY scripts ./scripts
COPY src ./src
RUN --mount=type=cache,target=/root/.npm npm ci
RUN npm run build \
 && node dist/cjs/cli/main.js --version \
 && npm prune --omit=dev

# ---- runtime: node, the built package and its production dependencies -----
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
RUN groupadd --system --gid 10001 discv4 \
 && useradd --system --uid 10001 --gid discv4 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin discv4 \
 && mkdir -p /data \
 && chown discv4:discv4 /data \
 && chmod 0700 /data
WORKDIR /opt/discv4-native
# Owned by root: the bootnode cannot modify its own code. The addon is
# loaded from <package root>/build/Release/discv4_native.node (src/crypto/
# native.ts walks up from dist/cjs/crypto); package.json gives --version.
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/build/Release/discv4_native.node ./build/Release/discv4_native.node
COPY --from=build /src/package.json ./package.json
COPY LICENSE ./LICENSE

USER 10001:10001
# Node key (<datadir>/nodekey) and node DB (<datadir>/nodes): keep this
# volume, the key is the bootnode's identity (its enode URL).
VOLUME ["/data"]
# Discovery (UDP) and Prometheus metrics (http://<host>:9090/metrics).
EXPOSE 30303/udp
EXPOSE 9090/tcp
# The CLI flushes and closes its DB on SIGTERM and exits 0 (within 5 s,
# inside docker stop's default 10 s).
STOPSIGNAL SIGTERM
# Healthy while the metrics server answers; needs the --metrics-addr of CMD
# (with a CMD without it, run with --no-healthcheck).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/metrics',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/cjs/cli/main.js"]
CMD ["--datadir", "/data", "--addr", "0.0.0.0:30303", "--metrics-addr", "0.0.0.0:9090"]

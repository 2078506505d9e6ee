# Shoal's container image. Build from the repository root:
#   docker build -t shoal:dev .
# DuckDB is linked in with cgo, so the builder needs a C/C++ toolchain
# (golang:*-bookworm has gcc and g++) and the runtime needs libstdc++.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Dependencies first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# go-duckdb compiles DuckDB's amalgamation: the first build takes minutes.
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/shoal ./cmd/shoal

FROM debian:bookworm-slim
# libstdc++6: DuckDB is C++. curl: the compose health check (GET /readyz).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl libstdc++6 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 shoal \
 && useradd --system --uid 10001 --gid shoal --home-dir /var/lib/shoal --shell /usr/sbin/nologin shoal \
 && mkdir -p /var/lib/shoal \
 && chown shoal:shoal /var/lib/shoal \
 && chmod 0700 /var/lib/shoal
COPY --from=build /out/shoal /usr/local/bin/shoal
# Never root: the DuckDB file and the pseudonym key are read by uid 10001.
USER 10001:10001
WORKDIR /var/lib/shoal
# The DuckDB file (shoal.duckdb) lives here: keep it on a persistent volume.
# Shoal keeps it 0700 and its files 0600 (it tightens them at startup and
# refuses a directory it does not own and cannot make private).
VOLUME ["/var/lib/shoal"]
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/shoal"]
# Listen on every interface (the default 127.0.0.1 is unreachable from
# outside the container). Flags, not SHOAL_* variables, so that a --config
# file or the environment of compose/Kubernetes can still set the rest.
CMD ["run", "--http-addr=0.0.0.0:9464", "--data-dir=/var/lib/shoal"]

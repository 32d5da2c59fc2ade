# authmilter as a sidecar beside Postfix or Sendmail.
#
#   docker build -t authmilter .
#   docker run -v /etc/authmilter:/etc/authmilter:ro -p 127.0.0.1:8891:8891 authmilter
#
# contrib/docker-compose.yml runs it beside a Postfix container, the two
# sharing a Unix socket volume. The configuration and the signing keys
# (owned by uid 65532, mode 0600) come in read-only under /etc/authmilter.
# The HEALTHCHECK needs [metrics] listen = "127.0.0.1:9891" in the
# configuration (contrib/docker/authmilter.toml has it).
#
# Stage 1 builds a static binary (no cgo, so no libc in the final image);
# stage 2 is an empty image holding the binary, CA-free (authmilter makes no
# TLS connections), running as an unprivileged user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/authmilter ./cmd/authmilter
# A passwd entry for the runtime user, and the directories it owns.
RUN mkdir -p /out/etc /out/run/authmilter && \
    echo 'authmilter:x:65532:65532:authmilter:/nonexistent:/sbin/nologin' > /out/etc/passwd && \
    echo 'authmilter:x:65532:' > /out/etc/group

FROM scratch
COPY --from=build /out/etc/passwd /out/etc/group /etc/
COPY --from=build --chown=65532:65532 /out/run/authmilter /run/authmilter
COPY --from=build /out/authmilter /usr/local/bin/authmilter
USER 65532:65532
# The configuration (and, later, signing keys) come in as a read-only volume;
# a unix socket for the MTA can live in the shared /run/authmilter volume.
VOLUME ["/etc/authmilter", "/run/authmilter"]
EXPOSE 8891
# `authmilter health` GETs http://127.0.0.1:9891/healthz (the [metrics]
# listener) and exits 0 on 200: the image has no shell, curl or wget.
HEALTHCHECK --interval=30s --timeout=10s --start-period=15s --retries=3 \
    CMD ["/usr/local/bin/authmilter", "health"]
ENTRYPOINT ["/usr/local/bin/authmilter"]
CMD ["serve", "-c", "/etc/authmilter/authmilter.toml"]

# authmilter as a sidecar beside Postfix or Sendmail.
#
#   docker build -t authmilter .
#   docker run -v /etc/authmilter:/etc/authmilter:ro -p 127.0.0.1:8891:8891 authmilter
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
ENTRYPOINT ["/usr/local/bin/authmilter"]
CMD ["serve", "-c", "/etc/authmilter/authmilter.toml"]

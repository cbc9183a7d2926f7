# sockgate: a static, CGO-free binary (the SQLite driver is pure Go) in a
# distroless image that runs as a non-root user.
#
#   docker build -t sockgate .
#   docker run --rm -p 3000:3000 -e JWT_SECRET=... sockgate
#
# No BuildKit-only syntax (RUN --mount, heredocs): the classic builder of
# Debian's docker.io builds it too.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/sockgate ./cmd/sockgate \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/healthcheck ./deploy/healthcheck \
 && mkdir -p /out/data

# static-debian12: CA certificates, /etc/passwd with nonroot (65532), tzdata;
# no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sockgate /out/healthcheck /usr/local/bin/
# The data directory (SQLite file when no DATABASE_URL, attachments):
# owned by nonroot, so a named volume mounted there starts writable.
COPY --from=build --chown=65532:65532 /out/data /data
ENV SOCKGATE_ADDR=:3000 \
    SOCKGATE_DATA_DIR=/data
USER 65532:65532
EXPOSE 3000
# Exec form: there is no shell. The check is a small program of this
# repository (deploy/healthcheck): GET /readyz on 127.0.0.1:3000.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/healthcheck"]
ENTRYPOINT ["/usr/local/bin/sockgate"]

# Herald in a container: a static binary on an empty image, run as a user without privileges.
#
#   docker build --build-arg VERSION=v1.2.3 -t herald .
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/site" -e HERALD_STORE -e HERALD_SECRET herald publish
#
# The site is mounted at /site, the working folder. docs/ci.md has the recipes.

ARG GO_VERSION=1.26.8

# The build runs on the builder's own platform and cross-compiles to the target's (docker buildx
# --platform linux/arm64), with the build command every recipe shares: scripts/build.sh.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=
ARG TARGETOS
ARG TARGETARCH
RUN scripts/build.sh /out/herald "$TARGETOS" "$TARGETARCH" "$VERSION"
# The final image's files, gathered in one tree so that COPY keeps each one's mode (a /tmp anyone may
# write to, as herald send --dry-run works in a copy there), and what the binary needs from a system, no
# more: CA certificates (SMTP over TLS, a PostgreSQL store with sslmode=verify-full, the site's published
# feed). Time zones are built into the binary (time/tzdata).
RUN mkdir -p /image/tmp /image/etc/ssl/certs /image/usr/local/bin && chmod 1777 /image/tmp && \
    cp /etc/ssl/certs/ca-certificates.crt /image/etc/ssl/certs/ && \
    cp /out/herald /image/usr/local/bin/herald

FROM scratch
COPY --from=build /image/ /
# A numeric user, since the image has no /etc/passwd: 65532, as distroless's nonroot. A site mounted from
# the host must be writable by it, or run with --user "$(id -u):$(id -g)".
USER 65532:65532
WORKDIR /site
ENTRYPOINT ["/usr/local/bin/herald"]
CMD ["--help"]

# The Argo CD sidecar image: kubectl-gitops on PATH and plugin.yaml where argocd-cmp-server
# reads it. argocd-cmp-server itself is not in the image: the repo-server's copyutil init
# container copies it into the shared var-files volume (/var/run/argocd), and the sidecar's
# command runs it from there (see deploy/).
#
#   docker build -t ghcr.io/kubectl-gitops/kubectl-gitops:v0.1.0 .

FROM rust:1.95-slim-bookworm AS build
# `kubectl-gitops version` reports these (build.rs); the build context has no .git. The
# release workflow passes the tag's commit and its date, so image and binaries agree.
ARG KUBECTL_GITOPS_COMMIT=unknown
ARG SOURCE_DATE_EPOCH
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY vendor ./vendor
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin kubectl-gitops \
    && strip target/release/kubectl-gitops

# kustomize, pinned: kubectl-gitops builds the directories that hold a kustomization with it.
# The version is PINNED_KUSTOMIZE_VERSION in src/source/build.rs (tests/builds.rs checks that
# both say the same; a local render with another kustomize warns). The archive is checked
# against the release's checksums.txt.
FROM debian:bookworm-slim AS kustomize
ARG KUSTOMIZE_VERSION=v5.6.0
ARG TARGETARCH
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && base="https://github.com/kubernetes-sigs/kustomize/releases/download/kustomize%2F${KUSTOMIZE_VERSION}" \
    && archive="kustomize_${KUSTOMIZE_VERSION}_linux_${TARGETARCH:-amd64}.tar.gz" \
    && cd /tmp \
    && curl -fsSLO "$base/$archive" \
    && curl -fsSLO "$base/checksums.txt" \
    && grep " $archive\$" checksums.txt | sha256sum -c - \
    && tar -xzf "$archive" -C /usr/local/bin kustomize \
    && /usr/local/bin/kustomize version

# distroless/cc: glibc and CA certificates, no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/kubectl-gitops /usr/local/bin/kubectl-gitops
COPY --from=kustomize /usr/local/bin/kustomize /usr/local/bin/kustomize
COPY plugin.yaml /home/argocd/cmp-server/config/plugin.yaml
# Argo CD's repo-server runs as uid 999 and must reach the plugin's socket; the sidecar runs as
# the same non-root user with a read-only root filesystem. kubectl-gitops writes nothing: it
# reads the app directory and prints to stdout. argocd-cmp-server works in /tmp (the cmp-tmp
# volume).
USER 999:999
ENV HOME=/tmp
WORKDIR /home/argocd
ENTRYPOINT ["/var/run/argocd/argocd-cmp-server"]

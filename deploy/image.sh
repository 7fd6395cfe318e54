#!/bin/sh
# `make image`: build localhost/routing-lab:latest with podman, on a machine without a container registry.
#
# - podman, runc and mmdebstrap come from Debian (installed here when missing and we are root).
# - The base: $BASE if given; else Debian's image if a registry answers; else a local Debian base made with
#   mmdebstrap from Debian's packages (cached: .image-cache/*.tar, and the image in podman's storage).
# - Python packages: wheels built on this machine (cached in .image-cache/wheels, rebuilt when
#   pyproject.toml changes) and installed offline in the image: a build cannot reach the package index here.
set -eu
cd "$(dirname "$0")/.."
CACHE=.image-cache
TAG=${IMAGE:-localhost/routing-lab:latest}
DEBS="ca-certificates curl iproute2 openssl python3 python3-venv"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/containers.conf}"
mkdir -p "$CACHE"

if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v mmdebstrap >/dev/null; then
    if [ "$(id -u)" != 0 ]; then
        echo "make image: needs podman, runc and mmdebstrap: sudo apt-get install podman runc mmdebstrap" >&2
        exit 2
    fi
    echo "installing podman, runc and mmdebstrap (first run only) ..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc mmdebstrap >/dev/null
fi

if [ -z "${BASE:-}" ]; then
    key=$(printf '%s\n' bookworm minbase $DEBS | sha256sum | cut -c1-12)
    local_base=localhost/debian-bookworm-min:$key
    if podman image exists "$local_base"; then
        BASE=$local_base
    elif timeout 60 podman pull -q docker.io/library/debian:bookworm-slim >/dev/null 2>&1; then
        BASE=docker.io/library/debian:bookworm-slim
    else
        tar="$CACHE/debian-bookworm-min-$key.tar"
        if [ ! -s "$tar" ]; then
            echo "no container registry reachable: making a Debian base with mmdebstrap (about a minute) ..."
            mmdebstrap --quiet --format=tar --variant=minbase --include="$(echo $DEBS | tr ' ' ,)" bookworm "$tar.part"
            mv "$tar.part" "$tar"
        fi
        podman import --quiet "$tar" "$local_base" >/dev/null
        BASE=$local_base
    fi
fi

stamp=$(sha256sum pyproject.toml | cut -c1-16)
if [ "$(cat "$CACHE/wheels/.stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "building wheels for the image (cached until pyproject.toml changes) ..."
    rm -rf "$CACHE/wheels"
    if ! .venv/bin/pip wheel --quiet --wheel-dir "$CACHE/wheels" . 'setuptools>=68' wheel >"$CACHE/wheels.log" 2>&1; then
        cat "$CACHE/wheels.log" >&2
        exit 1
    fi
    rm -f "$CACHE"/wheels/routing_lab-*.whl   # the image installs the lab itself from its source
    echo "$stamp" > "$CACHE/wheels/.stamp"
fi

echo "building $TAG from $BASE ..."
podman build --quiet --isolation chroot --build-arg BASE="$BASE" \
    --build-arg PIP_ARGS="--no-index --find-links /wheels" --volume "$PWD/$CACHE/wheels:/wheels:ro" \
    -t "$TAG" -f Containerfile . >/dev/null
echo "built $TAG: podman run --rm -it --network none --cap-add NET_ADMIN $TAG"

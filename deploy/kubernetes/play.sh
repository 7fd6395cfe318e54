#!/bin/sh
# make kube-play: the learners' manifests on this machine, without a cluster. podman kube play starts two
# learners' pods from learners.sh (network: none, as the NetworkPolicy would have it), the lab replays a
# scenario inside learner-1, and both pods are removed again, also on failure.
set -eu
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/containers.conf}"
manifest=$(mktemp --suffix=.yaml)
trap 'podman kube down "$manifest" >/dev/null 2>&1 || true; rm -f "$manifest"' EXIT
deploy/kubernetes/learners.sh 2 "${IMAGE:-localhost/routing-lab:latest}" > "$manifest"
podman kube play --network none "$manifest"
podman exec learner-1-lab lab run "${NAME:-proxy-resolve}"
echo "kube-play: learner-1's lab replayed ${NAME:-proxy-resolve}; removing the pods"

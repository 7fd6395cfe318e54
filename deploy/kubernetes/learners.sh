#!/bin/sh
# learners.sh N [IMAGE]: one pod and one terminal Service per learner (learner-1 .. learner-N), from
# learner.yaml, on standard output:   deploy/kubernetes/learners.sh 30 registry.example/routing-lab:1 | kubectl apply -f -
set -eu
count=${1:?usage: learners.sh N [IMAGE]}
image=${2:-localhost/routing-lab:latest}
template="$(dirname "$0")/learner.yaml"
i=1
while [ "$i" -le "$count" ]; do
    [ "$i" = 1 ] || echo "---"
    grep -v '^#' "$template" | sed -e "s|learner-1|learner-$i|g" -e "s|image: localhost/routing-lab:latest|image: $image|"
    i=$((i + 1))
done

#!/bin/sh
# learners.sh N [IMAGE] [SCENARIO]: one pod and one terminal Service per learner (learner-1 .. learner-N),
# from learner.yaml, on standard output; each pod serves SCENARIO (default: seed) in a browser terminal:
#   deploy/kubernetes/learners.sh 30 registry.example/routing-lab:1 proxy-resolve | kubectl apply -f -
set -eu
count=${1:?usage: learners.sh N [IMAGE] [SCENARIO]}
image=${2:-localhost/routing-lab:latest}
scenario=${3:-seed}
case $scenario in *[!A-Za-z0-9._-]*) echo "learners.sh: scenario names are letters, digits, . _ -" >&2; exit 2;; esac
template="$(dirname "$0")/learner.yaml"
i=1
while [ "$i" -le "$count" ]; do
    [ "$i" = 1 ] || echo "---"
    grep -v '^#' "$template" | sed -e "s|learner-1|learner-$i|g" -e "s|image: localhost/routing-lab:latest|image: $image|" \
        -e "/name: LAB_SCENARIO/{n;s|value: seed|value: $scenario|;}"
    i=$((i + 1))
done

"""The Kubernetes manifests agree with each other (fast; ``make test-image`` plays them with podman).

A NetworkPolicy whose selector misses the pods, or a Service that selects every learner's pod, fails
silently on a cluster; these tests catch it here.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml

from lab.paths import ROOT

KUBE = ROOT / "deploy/kubernetes"
TERMINAL_PORT = 7681  # where `lab serve` listens in a learner's pod


def load(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((KUBE / name).read_text()) if doc]


@pytest.fixture(scope="module")
def learners() -> list[dict[str, Any]]:
    out = subprocess.run([str(KUBE / "learners.sh"), "3", "registry.example/lab:1"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def pods(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == "Pod"]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_one_pod_and_one_terminal_service_per_learner(learners: list[dict[str, Any]]) -> None:
    names = [(d["kind"], d["metadata"]["name"]) for d in learners]
    assert names == [
        ("Pod", "learner-1"), ("Service", "learner-1-terminal"),
        ("Pod", "learner-2"), ("Service", "learner-2-terminal"),
        ("Pod", "learner-3"), ("Service", "learner-3-terminal"),
    ]  # fmt: skip
    for service in (d for d in learners if d["kind"] == "Service"):
        chosen = [
            p["metadata"]["name"]
            for p in pods(learners)
            if selects(service["spec"]["selector"], p["metadata"]["labels"])
        ]
        assert chosen == [service["metadata"]["name"].removesuffix("-terminal")]
        assert service["spec"]["ports"][0]["targetPort"] == TERMINAL_PORT
    assert {p["spec"]["containers"][0]["image"] for p in pods(learners)} == {"registry.example/lab:1"}


def test_learner_pods_hold_net_admin_and_nothing_more(learners: list[dict[str, Any]]) -> None:
    for pod in pods(learners):
        spec = pod["spec"]
        assert spec["automountServiceAccountToken"] is False
        assert not spec.get("hostNetwork")
        assert not spec.get("volumes")
        (container,) = spec["containers"]
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["privileged"] is False
        assert context["capabilities"] == {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_BIND_SERVICE"]}
        assert {"requests", "limits"} <= set(container["resources"])
        assert {"name": "LAB_IN_PLACE", "value": "1"} in container["env"]


def test_the_admission_policy_allows_what_the_pods_add(learners: list[dict[str, Any]]) -> None:
    policy = next(d for d in load("admission-policy.yaml") if d["kind"] == "ValidatingAdmissionPolicy")
    text = " ".join(v["expression"] for v in policy["spec"]["validations"])
    allowed = re.search(r"a in \[([^\]]*)\]", text)
    assert allowed is not None
    assert sorted(re.findall(r"'([A-Z_]+)'", allowed.group(1))) == sorted(
        pods(learners)[0]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"]
    )
    binding = next(d for d in load("admission-policy.yaml") if d["kind"] == "ValidatingAdmissionPolicyBinding")
    (namespace,) = load("namespace.yaml")
    assert binding["spec"]["matchResources"]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": namespace["metadata"]["name"]
    }


def test_the_network_policy_covers_every_learner_and_lets_nothing_out(learners: list[dict[str, Any]]) -> None:
    (policy,) = load("networkpolicy.yaml")
    (namespace,) = load("namespace.yaml")
    spec = policy["spec"]
    assert all(selects(spec["podSelector"]["matchLabels"], p["metadata"]["labels"]) for p in pods(learners))
    assert "Egress" in spec["policyTypes"]
    assert spec["egress"] == []
    assert spec["ingress"] == [{"ports": [{"protocol": "TCP", "port": TERMINAL_PORT}]}]
    assert {d["metadata"]["namespace"] for d in [policy, *learners]} == {namespace["metadata"]["name"]}
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_each_pod_serves_its_learners_terminal_on_the_services_port(learners: list[dict[str, Any]]) -> None:
    for pod in pods(learners):
        (container,) = pod["spec"]["containers"]
        command = container["command"]
        assert command[:2] == ["lab", "serve"]
        assert command[command.index("--port") + 1] == str(TERMINAL_PORT)
        assert command[command.index("--bind") + 1] == "0.0.0.0"  # the Service reaches the pod's own address
        env = {e["name"]: e for e in container["env"]}
        assert env["LAB_IN_PLACE_TERMINAL"]["value"] == str(TERMINAL_PORT)  # the lab keeps that way in open
        secret = env["LAB_SERVE_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert secret == {"name": f"{pod['metadata']['name']}-token", "key": "token", "optional": True}
        assert container["readinessProbe"]["tcpSocket"]["port"] == TERMINAL_PORT
        # the scenario comes from the environment: podman kube play leaves "$(VAR)" in a command as it is
        assert not any("$(" in word for word in command), command
        assert env["LAB_SCENARIO"]["value"]

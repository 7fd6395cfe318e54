"""Real peer addresses, with the real curl: the client is a laptop with an address of its own, and every
host sees the peer a real network would show it - a proxy sees the laptop, whatever sits behind a proxy or
the load balancer sees that hop, and the load balancer logs as ``remoteIp`` whoever connected to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.apps import logs
from lab.model import scenario
from lab.model.client import CLIENT_ADDRESS
from lab.model.outcome import CurlResult
from lab.runtime import addressing
from tests.conftest import LabFactory
from tests.worlds import BEHIND, seed_variant

pytestmark = pytest.mark.netns

LAPTOP = CLIENT_ADDRESS  # the seed's client
PROXY_IP = "10.9.9.9"
CERT = ["--cert", "certs/client.crt", "--key", "certs/client.key"]
# curl prints the local address of its connection: the laptop, never a lab host's address.
LOCAL_IP = ["-o", "/dev/null", "-w", "%{local_ip}"]
TO_GLB6 = ["--connect-to", "mydomain:443:[fd00:88::88]:443"]


def peers(result: CurlResult) -> dict[str, str]:
    """host -> the IP of the peer it accepted (each host once)."""
    seen: dict[str, str] = {}
    for event in result.events:
        if event.kind == "accepted":
            ip = event.peer.rpartition(":")[0]
            assert seen.setdefault(event.host, ip) == ip, f"{event.host} saw two peers"
    return seen


def remote_ips(result: CurlResult, host: str = "glb") -> list[str]:
    return [e.entry["httpRequest"]["remoteIp"] for e in result.events if e.host == host and e.kind == "log" and e.entry]


@pytest.mark.parametrize(
    ("route", "expected", "logged"),
    [
        (["--resolve", "mydomain:443:88.88.88.88", *CERT], {"glb": LAPTOP}, [LAPTOP]),
        (["--resolve", "mydomain:443:10.1.1.1"], {"old": LAPTOP}, []),
        (["-k", "--resolve", "mydomain:443:198.0.8.245"], {"reset": LAPTOP}, []),
        # The proxy sees the laptop; the host behind it sees the proxy.
        (["-x", "http://10.9.9.9:3128"], {"proxy": LAPTOP, "old": PROXY_IP}, []),
        (
            ["--connect-to", "mydomain:443:88.88.88.88:443", "-x", "http://10.9.9.9:3128", *CERT],
            {"proxy": LAPTOP, "glb": PROXY_IP},
            [PROXY_IP],  # Google logs the proxy's egress address: that is who connected
        ),
        (["-x", "socks5h://10.9.9.9:1080"], {"socks": LAPTOP, "old": PROXY_IP}, []),
    ],
    ids=["direct-glb", "direct-old", "direct-reset", "http-proxy", "http-proxy-to-glb", "socks5h"],
)
async def test_each_host_sees_the_peer_a_real_network_shows(
    lab: LabFactory, route: list[str], expected: dict[str, str], logged: list[str]
) -> None:
    async with lab("seed") as runner:
        result = await runner.run(["curl", "-sS", *LOCAL_IP, *route, "https://mydomain"])
    assert peers(result) == expected, result.stderr
    assert remote_ips(result) == logged
    assert result.exit_code == (35 if "reset" in expected else 0), result.stderr  # reset: no ServerHello
    assert result.stdout == LAPTOP  # curl's own view of its connection (-w writes it on failure too)


async def test_behind_the_load_balancer_and_the_proxy(lab: LabFactory, tmp_path: Path) -> None:
    async with lab(seed_variant(tmp_path, BEHIND)) as runner:
        forwarded = await runner.run(
            ["curl", "-sS", "--resolve", "mydomain:443:88.88.88.88", *CERT, "https://mydomain/api/x"]
        )
        absolute_uri = await runner.run(["curl", "-sS", "-x", "http://10.9.9.9:3128", "http://plain/x"])
    assert forwarded.exit_code == 0, forwarded.stderr
    assert peers(forwarded) == {"glb": LAPTOP, "api": "88.88.88.88"}  # the backend sees the load balancer
    assert remote_ips(forwarded) == [LAPTOP]
    assert "peer: 88.88.88.88" in forwarded.stdout  # and says so in its answer
    assert absolute_uri.exit_code == 0, absolute_uri.stderr
    assert peers(absolute_uri) == {"proxy": LAPTOP, "plain": PROXY_IP}  # proxy.py's own forwarding binds too
    assert "peer: 10.9.9.9" in absolute_uri.stdout


async def test_the_client_address_is_a_topology_setting_ipv4_and_ipv6(lab: LabFactory, tmp_path: Path) -> None:
    world = seed_variant(
        tmp_path,
        '[hosts.glb6]\nkind = "glb"\naddress = "[fd00:88::88]:443"\ncert.names = ["mydomain"]\n'
        '[client]\naddress = ["172.16.5.9", "2001:db8:5::9"]\n',
    )
    async with lab(world) as runner:
        v4 = await runner.run(
            ["curl", "-sS", *LOCAL_IP, "--resolve", "mydomain:443:88.88.88.88", *CERT, "https://mydomain"]
        )
        v6 = await runner.run(
            ["curl", "-sS", *LOCAL_IP, "--resolve", "mydomain:443:fd00:88::88", *CERT, "https://mydomain"]
        )
        # A host has one address: the IPv4 proxy cannot leave from an IPv6 address of its own, so it still
        # connects (from the kernel's choice, the client's IPv6 address) rather than fail.
        across = await runner.run(["curl", "-sS", "-x", "http://10.9.9.9:3128", *TO_GLB6, *CERT, "https://mydomain"])
    assert (v4.exit_code, v4.stdout, peers(v4), remote_ips(v4)) == (
        0,
        "172.16.5.9",
        {"glb": "172.16.5.9"},
        ["172.16.5.9"],
    )
    assert (v6.exit_code, v6.stdout, peers(v6)) == (0, "2001:db8:5::9", {"glb6": "2001:db8:5::9"})
    assert remote_ips(v6, "glb6") == ["2001:db8:5::9"]
    assert (across.exit_code, peers(across)) == (0, {"proxy": "172.16.5.9", "glb6": "2001:db8:5::9"})
    entry = next(e.entry for e in v4.events if e.kind == "log" and e.entry)
    assert " from 172.16.5.9 " in logs.one_line(entry)  # what `lab logs` shows


def test_address_commands_route_only_host_addresses_through_the_client() -> None:
    """The plan is pure: every host address gets a local route whose source is the client (per family);
    loopback hosts are left alone; the lab's routes are marked so the next world removes exactly them."""
    seed = scenario.load("seed")
    lines = addressing.commands(seed)
    assert lines[:2] == [f"route flush table local proto {addressing.PROTO}", "addr flush dev lo scope global"]
    assert f"addr add {LAPTOP}/32 dev lo" in lines
    routes = [line for line in lines if line.startswith("route replace")]
    assert {line.split()[5] for line in routes} == {"88.88.88.88/32", "10.1.1.1/32", "10.9.9.9/32", "198.0.8.245/32"}
    assert all(line.endswith(f"src {LAPTOP}") for line in routes)
    assert not any(":" in line for line in lines)  # no IPv6 host: no IPv6 address for the client either
    assert addressing.ipv6_commands(seed) == []

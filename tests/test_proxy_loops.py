"""No tunnel loops: a proxy refuses itself as a destination, and another lab proxy unless the scenario asks for a
chain (``chain = true``), and a chain stays two proxies long. Before, ``CONNECT 10.9.9.9:3128`` inside the proxy's
own tunnel went 100 levels deep on one TCP connection (101 threads, 818 file descriptors)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from lab.model.events import TunnelOpened, TunnelRefused
from tests.conftest import LabFactory
from tests.test_proxy import PROXY, exchange, kinds, settled
from tests.test_socks import SOCKS
from tests.worlds import seed_variant

pytestmark = pytest.mark.netns

SELF = b"CONNECT 10.9.9.9:3128 HTTP/1.1\r\nHost: 10.9.9.9:3128\r\n\r\n"


def socks_connect(ip: str, port: int) -> bytes:
    return b"\x05\x01\x00" + b"\x05\x01\x00\x01" + bytes(map(int, ip.split("."))) + port.to_bytes(2, "big")


async def test_the_http_proxy_will_not_tunnel_into_itself(lab: LabFactory) -> None:
    async with lab("seed") as runner:
        with trio.fail_after(5):
            stream = await trio.open_tcp_stream(*PROXY)
            async with stream:
                await stream.send_all(SELF)
                answer = await stream.receive_some(4096)
                assert answer.startswith(b"HTTP/1.1 403 Forbidden"), answer
                assert b"this proxy itself" in answer
                await stream.send_all(SELF)  # what went a hundred levels deep: more CONNECTs in the "tunnel"
                assert await stream.receive_some(4096) == b""  # refused and closed: nothing nests
        await settled(runner)
        events = runner.world.timeline.since(0)
    assert kinds(events, "proxy") == ["listening", "accepted", "tunnel-requested", "tunnel-refused", "closed"]


@pytest.mark.parametrize(
    ("via", "request_bytes", "expected"),
    [
        (SOCKS, socks_connect("10.9.9.9", 1080), b"\x05\x00\x05\x02"),  # SOCKS to itself: not allowed (0x02)
        (SOCKS, socks_connect("10.9.9.9", 3128), b"\x05\x00\x05\x02"),  # to the HTTP proxy: no chain asked for
        (PROXY, b"CONNECT 10.9.9.9:1080 HTTP/1.1\r\nHost: 10.9.9.9:1080\r\n\r\n", b"HTTP/1.1 403 Forbidden"),
    ],
)
async def test_proxies_refuse_lab_proxies_as_destinations(
    lab: LabFactory, via: tuple[str, int], request_bytes: bytes, expected: bytes
) -> None:
    async with lab("seed") as runner:
        answer = await exchange(request_bytes, via)
        await settled(runner)
        events = runner.world.timeline.since(0)
    assert answer.startswith(expected)
    assert not [e for e in events if isinstance(e, TunnelOpened)]
    (refused,) = [e for e in events if isinstance(e, TunnelRefused)]
    assert "itself" in refused.reason or "chain = true" in refused.reason


@pytest.mark.parametrize("chain", [True, False])
async def test_a_chain_when_the_scenario_asks_for_one(lab: LabFactory, tmp_path: Path, chain: bool) -> None:
    world = seed_variant(tmp_path, f"[hosts.socks]\nchain = {str(chain).lower()}\n")
    async with lab(world) as runner:
        result = await runner.run(
            ["curl", "-sS", "--preproxy", "socks5://10.9.9.9:1080", "-x", "http://10.9.9.9:3128", "https://mydomain"]
        )
    if chain:  # curl -> socks -> proxy -> old
        assert result.exit_code == 0, result.stderr
        assert result.reached == "old"
        opened = [e.upstream_host for e in result.events if isinstance(e, TunnelOpened)]
        assert opened == ["proxy", "old"]
    else:
        assert result.exit_code == 97  # curl: the SOCKS proxy refused (not allowed)
        assert result.reached is None


async def test_a_chain_stays_two_proxies_long(lab: LabFactory, tmp_path: Path) -> None:
    world = seed_variant(tmp_path, "[hosts.socks]\nchain = true\n[hosts.proxy]\nchain = true\n")
    async with lab(world) as runner:
        with trio.fail_after(5):
            stream = await trio.open_tcp_stream(*SOCKS)
            async with stream:
                await stream.send_all(socks_connect("10.9.9.9", 3128))  # socks -> proxy: a chain of two
                assert await stream.receive_some(12) == b"\x05\x00"
                reply = await stream.receive_some(10)
                assert reply[:2] == b"\x05\x00"
                await stream.send_all(b"CONNECT 10.9.9.9:1080 HTTP/1.1\r\nHost: x\r\n\r\n")  # and back: a third
                answer = await stream.receive_some(4096)
        await settled(runner)
        events = runner.world.timeline.since(0)
    assert answer.startswith(b"HTTP/1.1 403 Forbidden"), answer
    assert b"came through the lab proxy 'socks' already" in answer
    assert [e.upstream_host for e in events if isinstance(e, TunnelOpened)] == ["proxy"]

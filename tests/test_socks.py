"""The SOCKS5 proxy with the real curl (socks5:// vs socks5h://) and with raw, hostile clients."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import trio

from lab.model.events import TunnelRefused
from lab.runtime.runner import Runner
from tests.conftest import LabFactory
from tests.test_proxy import CERT, exchange, kinds, nothing_connected, outside_listener, settled

pytestmark = pytest.mark.netns

SOCKS = ("10.9.9.9", 1080)


async def still_serving(runner: Runner) -> None:
    result = await runner.run(["curl", "-sS", "-x", "socks5h://10.9.9.9:1080", "https://mydomain"])
    assert result.exit_code == 0, result.stderr
    assert (result.reached, result.tunnel) == ("old", "mydomain:443")


@pytest.mark.parametrize(
    ("scheme", "route", "tunnel", "reached", "address_type"),
    [
        ("socks5", ["--resolve", "mydomain:443:88.88.88.88"], "88.88.88.88:443", "glb", "ipv4"),  # curl resolves
        ("socks5h", ["--resolve", "mydomain:443:88.88.88.88"], "mydomain:443", "old", "domain"),  # the proxy does
        ("socks5h", ["--connect-to", "mydomain:443:88.88.88.88:443"], "88.88.88.88:443", "glb", "ipv4"),
        ("socks5", [], "198.0.8.245:443", None, "ipv4"),  # the client's hosts file: the dead address
    ],
)
async def test_who_resolves_the_name(
    lab: LabFactory, scheme: str, route: list[str], tunnel: str, reached: str | None, address_type: str
) -> None:
    async with lab("seed") as runner:
        result = await runner.run(["curl", "-sS", *route, *CERT, "-x", f"{scheme}://10.9.9.9:1080", "https://mydomain"])
    assert result.exit_code == (0 if reached else 35), result.stderr
    assert (result.tunnel, result.reached) == (tunnel, reached)
    socks = [e for e in result.events if e.host == "socks"]
    assert [e.kind for e in socks] == [
        "accepted",
        "tunnel-requested",
        "resolved",
        "tunnel-opened",
        "client-hello",
        "closed",
    ]
    assert socks[1].address_type == address_type
    assert socks[2].table == ("proxy DNS" if address_type == "domain" else "IP literal")
    assert socks[4].sni == "mydomain"
    upstream = socks[3].upstream_host
    # The upstream host sees the proxy as its client, not curl.
    assert next(e for e in result.events if e.host == upstream and e.kind == "accepted").peer.startswith("10.9.9.9:")


async def test_unknown_name_and_the_proxy_keeps_serving(lab: LabFactory) -> None:
    async with lab("seed") as runner:
        result = await runner.run(["curl", "-sS", "-x", "socks5h://10.9.9.9:1080", "https://nosuch.example"])
        await still_serving(runner)
    assert result.exit_code == 97
    assert "(4)" in (result.error or "")  # host unreachable
    refused = next(e for e in result.events if e.kind == "tunnel-refused")
    assert "no entry for 'nosuch.example'" in refused.reason


@pytest.mark.parametrize("how", ["ipv4", "name"])
async def test_outside_destinations_are_refused_and_nothing_is_sent(lab: LabFactory, tmp_path: Path, how: str) -> None:
    world = tmp_path / "outside.toml"
    world.write_text('topology = "seed"\n[hosts.socks.dns]\nmydomain = "10.1.1.1"\nevil = "127.0.0.1"\n')
    async with lab(str(world)) as runner, outside_listener() as listener:
        port = listener.socket.getsockname()[1].to_bytes(2, "big")
        address = b"\x01" + ipaddress.IPv4Address("127.0.0.1").packed if how == "ipv4" else b"\x03\x04evil"
        answer = await exchange(b"\x05\x01\x00" + b"\x05\x01\x00" + address + port, SOCKS)
        await settled(runner)
        assert answer[:2] == b"\x05\x00"  # method chosen
        assert answer[2:4] == b"\x05\x02"  # connection not allowed by ruleset
        assert nothing_connected(listener)
        assert "tunnel-opened" not in kinds(runner.world.timeline.since(0), "socks")
        await still_serving(runner)


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        (b"GET http://mydomain/ HTTP/1.1\r\nHost: mydomain\r\n\r\n", 1),  # HTTP at the SOCKS port
        (b"\x04\x01\x01\xbb\x0a\x01\x01\x01\x00", 1),  # SOCKS4
        (b"\x05\x01", 0),  # a greeting cut short, then the client leaves
        (b"\x05\x01\x00\x05\x01\x00\x03\x08mydo", 0),  # a request cut short
    ],
)
async def test_garbage_gets_one_event_and_the_proxy_keeps_serving(lab: LabFactory, data: bytes, errors: int) -> None:
    async with lab("seed") as runner:
        await exchange(data, SOCKS, hang_up=True)
        await settled(runner)
        socks = kinds(runner.world.timeline.since(0), "socks")
        assert socks == ["listening", "accepted", *["error"] * errors, "closed"]
        await still_serving(runner)


@pytest.mark.parametrize(
    ("request_bytes", "code", "why"),
    [
        (b"\x05\x02\x00\x01\x0a\x01\x01\x01\x01\xbb", 0x07, "BIND is not supported"),
        (b"\x05\x03\x00\x01" + bytes(6), 0x07, "UDP ASSOCIATE is not supported"),
        (b"\x05\x01\x00\x07" + bytes(6), 0x08, "unknown address type 0x07"),
    ],
)
async def test_unsupported_requests_get_their_reply_code(
    lab: LabFactory, request_bytes: bytes, code: int, why: str
) -> None:
    """A raw client asks for what curl never does; RFC 1928's reply comes back, one event says why."""
    async with lab("seed") as runner:
        answer = await exchange(b"\x05\x01\x00" + request_bytes, SOCKS)
        assert answer == b"\x05\x00" + bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0])
        await settled(runner)
        events = [e for e in runner.world.timeline.since(0) if e.host == "socks"]
        assert [e.kind for e in events] == ["listening", "accepted", "tunnel-refused", "closed"]
        refused = events[2]
        assert isinstance(refused, TunnelRefused)
        assert refused.status == code
        assert why in refused.reason
        await still_serving(runner)


async def test_client_leaving_mid_tunnel(lab: LabFactory) -> None:
    async with lab("seed") as runner:
        with trio.fail_after(5):
            stream = await trio.open_tcp_stream(*SOCKS)
            await stream.send_all(b"\x05\x01\x00\x05\x01\x00\x03\x08mydomain\x01\xbb")
            reply = b""
            while len(reply) < 12:
                reply += await stream.receive_some(64)
            assert reply[:4] == b"\x05\x00\x05\x00"
            await stream.send_all(b"\x16\x03\x01\x02\x00\x01")
            await stream.aclose()
        await settled(runner)
        events = runner.world.timeline.since(0)
        assert kinds(events, "socks")[-1] == "closed"
        assert kinds(events, "old")[-1] == "closed"
        await still_serving(runner)


async def test_user_and_password(lab: LabFactory, tmp_path: Path) -> None:
    world = tmp_path / "auth.toml"
    world.write_text('topology = "seed"\n[hosts.socks]\nauth = { user = "alice", password = "s3cret" }\n')
    async with lab(str(world)) as runner:
        right = await runner.run(["curl", "-sS", "-x", "socks5h://alice:s3cret@10.9.9.9:1080", "https://mydomain"])
        wrong = await runner.run(["curl", "-sS", "-x", "socks5h://alice:nope@10.9.9.9:1080", "https://mydomain"])
        none = await runner.run(["curl", "-sS", "-x", "socks5h://10.9.9.9:1080", "https://mydomain"])
    assert (right.exit_code, right.reached, right.tunnel) == (0, "old", "mydomain:443")
    assert next(e for e in right.events if e.kind == "tunnel-requested").user == "alice"
    for refused, why in [(wrong, "wrong user or password"), (none, "needs user/password")]:
        assert refused.exit_code == 97, refused.stderr
        assert refused.reached is None
        assert why in next(e for e in refused.events if e.kind == "tunnel-refused").summary

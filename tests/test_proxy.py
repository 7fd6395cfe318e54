"""The corporate proxies: own DNS, refusals, hostile clients - and they keep serving after each."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import trio

from lab import scenario
from lab.proxydns import NothingListening, OutsideLab, UnknownName, resolve
from lab.runner import Runner
from lab.socks5proto import ConnectRequest, Socks5Error, Socks5Server
from tests.conftest import LabFactory

PROXY = ("10.9.9.9", 3128)
SOCKS = ("10.9.9.9", 1080)


# -- pure decisions ------------------------------------------------------------------------------


def test_proxy_dns_uses_its_own_table_not_the_clients() -> None:
    seed = scenario.load("seed")
    found = resolve("mydomain", 443, {"mydomain": "10.1.1.1"}, seed)
    assert (found.address, found.source, found.upstream) == ("10.1.1.1", "proxy DNS", "old")
    literal = resolve("88.88.88.88", 443, {}, seed)
    assert (literal.source, literal.upstream) == ("IP literal", "glb")
    with pytest.raises(UnknownName, match="no entry for 'nowhere'"):
        resolve("nowhere", 443, {"mydomain": "10.1.1.1"}, seed)
    with pytest.raises(OutsideLab, match="not an open relay"):
        resolve("8.8.8.8", 443, {}, seed)
    with pytest.raises(NothingListening):
        resolve("10.1.1.1", 80, {}, seed)


SOCKS_CASES = [
    (b"\x05\x01\x00" + b"\x05\x01\x00\x03\x08mydomain\x01\xbb", ConnectRequest("mydomain", 443, "domain")),
    (b"\x05\x01\x00" + b"\x05\x01\x00\x01XXXX\x01\xbb", ConnectRequest("88.88.88.88", 443, "ipv4")),
    (
        b"\x05\x01\x00" + b"\x05\x01\x00\x04" + ipaddress.IPv6Address("::1").packed + b"\x00\x50",
        ConnectRequest("::1", 80, "ipv6"),
    ),
]


@pytest.mark.parametrize(("data", "expected"), SOCKS_CASES, ids=["domain", "ipv4", "ipv6"])
def test_socks5_requests_byte_by_byte(data: bytes, expected: ConnectRequest) -> None:
    data = data.replace(b"XXXX", bytes([88, 88, 88, 88]))
    server = Socks5Server()
    sent, request = b"", None
    for i in range(len(data)):  # split everywhere: the parser must buffer
        out, got = server.receive_data(data[i : i + 1])
        sent += out
        request = request or got
    assert sent == b"\x05\x00"
    assert request == expected
    assert server.reply(0)[:2] == b"\x05\x00"
    assert server.tunnel


def test_socks5_user_password() -> None:
    server = Socks5Server(("u", "p"))
    out, _ = server.receive_data(b"\x05\x02\x00\x02")
    assert out == b"\x05\x02"
    out, _ = server.receive_data(b"\x01\x01u\x01x")
    assert out == b"\x01\x01"  # wrong password: failure, nothing more
    assert not server.tunnel


@pytest.mark.parametrize(
    ("garbage", "message"),
    [
        (b"GET / HTTP/1.1\r\n", "not SOCKS5"),
        (b"\x05\x01\x00\x05\x02\x00\x01", "only CONNECT"),
        (b"\x05\x01\x00\x05\x01\x00\x09", "unknown address type"),
    ],
)
def test_socks5_garbage_is_an_error_not_a_crash(garbage: bytes, message: str) -> None:
    with pytest.raises(Socks5Error, match=message):
        Socks5Server().receive_data(garbage)


# -- the real proxies, with the real curl and with raw sockets ------------------------------------


async def exchange(address: tuple[str, int], data: bytes, *, read: bool = True) -> bytes:
    stream = await trio.open_tcp_stream(*address)
    async with stream:
        await stream.send_all(data)
        if not read:
            return b""
        reply = b""
        with trio.move_on_after(5):
            while chunk := await stream.receive_some(65536):
                reply += chunk
        return reply


async def still_serves(runner: Runner) -> None:
    result = await runner.run(["curl", "-sS", "-x", "http://10.9.9.9:3128", "https://mydomain"])
    assert result.tunnel == "mydomain:443"
    assert result.reached == "old"


async def test_connect_goes_where_the_proxys_dns_says(lab: LabFactory) -> None:
    async with lab("seed") as runner:
        result = await runner.run(
            ["curl", "-sS", "--resolve", "mydomain:443:88.88.88.88", "-x", "http://10.9.9.9:3128", "https://mydomain"]
        )
    assert result.tunnel == "mydomain:443"
    assert result.reached == "old"
    resolved = next(e for e in result.events if e.kind == "resolved")
    assert (resolved.data["address"], resolved.data["table"]) == ("10.1.1.1", "proxy DNS")
    hello = next(e for e in result.events if e.kind == "client-hello")
    assert hello.data["sni"] == "mydomain"


@pytest.mark.parametrize(
    ("target", "status", "why"),
    [("nowhere:443", 502, "no entry for 'nowhere'"), ("8.8.8.8:443", 403, "not an open relay")],
)
async def test_refusals_send_nothing_upstream(lab: LabFactory, target: str, status: int, why: str) -> None:
    async with lab("seed") as runner:
        start = len(runner.world.timeline)
        reply = await exchange(PROXY, f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        events = runner.world.timeline.since(start)
        await still_serves(runner)
    assert reply.startswith(f"HTTP/1.1 {status}".encode())
    refused = next(e for e in events if e.kind == "tunnel-refused")
    assert refused.data["status"] == status
    assert why in refused.data["reason"]
    assert not [e for e in events if e.host != "proxy"], "a refused tunnel must not reach any host"


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"HELLO\r\n\r\n", 400),
        (b"CONNECT mydomain:443\r\nX-Injected: 1 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (b"CONNECT mydomain:443 HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40), 400),
    ],
    ids=["garbage-line", "crlf-in-target", "oversized-head", "tls-to-plain-proxy"],
)
async def test_malformed_requests_get_an_http_error_and_one_event(
    lab: LabFactory, request_bytes: bytes, status: int
) -> None:
    async with lab("seed") as runner:
        start = len(runner.world.timeline)
        reply = await exchange(PROXY, request_bytes)
        events = runner.world.timeline.since(start)
        await still_serves(runner)
    assert reply.startswith(f"HTTP/1.1 {status} ".encode())
    errors = [e for e in events if e.kind == "error"]
    assert len(errors) == 1
    assert not [e for e in events if e.kind == "tunnel-requested"]


async def test_client_that_leaves_mid_tunnel(lab: LabFactory) -> None:
    async with lab("seed") as runner:
        stream = await trio.open_tcp_stream(*PROXY)
        await stream.send_all(b"CONNECT mydomain:443 HTTP/1.1\r\nHost: mydomain:443\r\n\r\n")
        reply = await stream.receive_some(1024)
        await stream.send_all(b"\x16\x03\x01")  # the start of a ClientHello, then gone
        await stream.aclose()
        await trio.to_thread.run_sync(runner.world.timeline.wait_idle, 5.0)
        await still_serves(runner)
    assert reply.startswith(b"HTTP/1.1 200")


async def test_proxy_authentication(lab: LabFactory, tmp_path: Path) -> None:
    file = tmp_path / "auth.toml"
    file.write_text('title = "t"\ntopology = "seed"\n[hosts.proxy]\nauth = { user = "alice", password = "s3cret" }\n')
    async with lab(str(file)) as runner:
        denied = await runner.run(["curl", "-sS", "-x", "http://10.9.9.9:3128", "https://mydomain"])
        allowed = await runner.run(
            ["curl", "-sS", "-x", "http://10.9.9.9:3128", "--proxy-user", "alice:s3cret", "https://mydomain"]
        )
    assert denied.exit_code == 56
    assert "407" in (denied.error or "")
    assert allowed.reached == "old"
    headers = next(e for e in allowed.events if e.kind == "tunnel-requested").data["headers"]
    assert headers["Proxy-Authorization"] == "Basic ***"  # never echo credentials into the timeline


@pytest.mark.parametrize(
    ("scheme", "resolve_flag", "tunnel", "reached"),
    [
        ("socks5", True, "88.88.88.88:443", "glb"),
        ("socks5h", True, "mydomain:443", "old"),
        ("socks5", False, "198.0.8.245:443", None),
    ],
)
async def test_socks5_and_socks5h_differ(
    lab: LabFactory, scheme: str, resolve_flag: bool, tunnel: str, reached: str | None
) -> None:
    pin = ["--resolve", "mydomain:443:88.88.88.88"] if resolve_flag else []
    client_cert = ["--cert", "certs/client.crt", "--key", "certs/client.key"]
    async with lab("seed") as runner:
        result = await runner.run(
            ["curl", "-sS", "-m", "5", *pin, *client_cert, "-x", f"{scheme}://10.9.9.9:1080", "https://mydomain"]
        )
    assert result.tunnel == tunnel
    assert result.reached == reached


async def test_socks_garbage_leaves_it_serving(lab: LabFactory) -> None:
    async with lab("seed") as runner:
        start = len(runner.world.timeline)
        reply = await exchange(SOCKS, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        events = runner.world.timeline.since(start)
        result = await runner.run(["curl", "-sS", "-x", "socks5h://10.9.9.9:1080", "https://mydomain"])
    assert reply == b""
    assert [e.kind for e in events if e.kind == "error"] == ["error"]
    assert result.reached == "old"


async def test_environment_proxy_and_no_proxy(lab: LabFactory) -> None:
    async with lab("seed") as runner:
        via_env = await runner.run(["env", "https_proxy=http://10.9.9.9:3128", "curl", "-sS", "https://mydomain"])
        bypass = await runner.run(
            [
                "env",
                "https_proxy=http://10.9.9.9:3128",
                "NO_PROXY=mydomain",
                "curl",
                "-sS",
                "-m",
                "5",
                "--resolve",
                "mydomain:443:10.1.1.1",
                "https://mydomain",
            ]
        )
    assert via_env.tunnel == "mydomain:443"
    assert via_env.reached == "old"
    assert bypass.tunnel is None
    assert bypass.reached == "old"

"""The HTTP proxy (proxy.py inside the lab) with the real curl and with raw, hostile clients.

Every hostile case ends with a real curl through the same proxy: it must keep serving.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from lab.model.events import Event
from lab.paths import ROOT
from lab.runtime.runner import Runner
from tests.conftest import LabFactory

pytestmark = pytest.mark.netns

PROXY = ("10.9.9.9", 3128)
CERT = ["--cert", "certs/client.crt", "--key", "certs/client.key"]
VIA_PROXY = ["-x", "http://10.9.9.9:3128"]


async def settled(runner: Runner) -> None:
    """Wait until every lab connection has closed (the hosts' last events are in)."""
    assert await trio.to_thread.run_sync(runner.world.timeline.wait_idle, 5.0)


def kinds(events: list[Event] | tuple[Event, ...], host: str) -> list[str]:
    return [e.kind for e in events if e.host == host]


async def exchange(data: bytes, address: tuple[str, int] = PROXY, *, hang_up: bool = False) -> bytes:
    """Send ``data`` (then half-close, if ``hang_up``), and read until the server closes."""
    with trio.fail_after(5):
        stream = await trio.open_tcp_stream(*address)
        async with stream:
            await stream.send_all(data)
            if hang_up:
                await stream.send_eof()
            answer = b""
            while chunk := await stream.receive_some(65536):
                answer += chunk
    return answer


async def still_serving(runner: Runner) -> None:
    result = await runner.run(["curl", "-sS", *VIA_PROXY, "https://mydomain"])
    assert result.exit_code == 0, result.stderr
    assert (result.reached, result.tunnel) == ("old", "mydomain:443")


@asynccontextmanager
async def outside_listener() -> AsyncIterator[trio.SocketListener]:
    """A listener on an address that is not a lab host; nothing may ever connect to it."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with listeners[0]:
        yield listeners[0]


def nothing_connected(listener: trio.SocketListener) -> bool:
    # A finished TCP handshake would wait in the accept queue: an empty queue means no connection was made.
    listener.socket._sock.setblocking(False)  # type: ignore[attr-defined]
    try:
        listener.socket._sock.accept()  # type: ignore[attr-defined]
    except BlockingIOError:
        return True
    return False


@pytest.mark.parametrize("tls_max", ["1.2", "1.3"])
@pytest.mark.parametrize(
    ("route", "tunnel", "reached"),
    [
        (["--resolve", "mydomain:443:88.88.88.88"], "mydomain:443", "old"),  # the seed's surprise
        (["--connect-to", "mydomain:443:88.88.88.88:443"], "88.88.88.88:443", "glb"),  # the fix
        (["--connect-to", "mydomain:443:10.1.1.1:443"], "10.1.1.1:443", "old"),
    ],
)
async def test_connect_line_decides_the_upstream(
    lab: LabFactory, tls_max: str, route: list[str], tunnel: str, reached: str
) -> None:
    async with lab("seed") as runner:
        result = await runner.run(["curl", "-sS", "--tls-max", tls_max, *route, *CERT, *VIA_PROXY, "https://mydomain"])
    assert result.exit_code == 0, result.stderr
    assert (result.tunnel, result.reached) == (tunnel, reached)
    assert f"served-by: {reached}" in result.stdout
    proxy = [e for e in result.events if e.host == "proxy"]
    assert [e.kind for e in proxy] == [
        "accepted",
        "tunnel-requested",
        "resolved",
        "tunnel-opened",
        "client-hello",
        "closed",
    ]
    requested, resolved, opened, hello, closed = proxy[1:]
    assert requested.line == f"CONNECT {tunnel} HTTP/1.1"
    assert requested.headers["Host"] == tunnel
    assert resolved.upstream == reached
    assert resolved.table == ("proxy DNS" if tunnel.startswith("mydomain") else "IP literal")
    assert opened.upstream_host == reached
    assert hello.sni == "mydomain"  # SNI stays the URL's name, whatever the CONNECT line says
    assert closed.received > 0
    assert closed.sent > 0


@pytest.mark.parametrize(
    ("env", "args", "proxy_env", "tunnel", "reached"),
    [
        (["https_proxy=http://10.9.9.9:3128"], [], ["https_proxy"], "mydomain:443", "old"),
        (["HTTPS_PROXY=http://10.9.9.9:3128"], [], ["HTTPS_PROXY"], "mydomain:443", "old"),
        (["ALL_PROXY=http://10.9.9.9:3128"], [], ["ALL_PROXY"], "mydomain:443", "old"),
        (["http_proxy=http://10.9.9.9:3128"], [], [], None, "glb"),  # only for http:// URLs
        (["https_proxy=http://10.9.9.9:3128", "NO_PROXY=mydomain"], [], ["NO_PROXY"], None, "glb"),
        (["https_proxy=http://10.9.9.9:3128", "no_proxy=.mydomain"], [], ["no_proxy"], None, "glb"),
        (["https_proxy=http://10.9.9.9:3128"], ["--noproxy", "mydomain"], [], None, "glb"),
        (
            ["https_proxy=http://10.9.9.9:3128", "NO_PROXY=other"],
            [],
            ["NO_PROXY", "https_proxy"],
            "mydomain:443",
            "old",
        ),
    ],
)
async def test_proxy_from_the_environment(
    lab: LabFactory, env: list[str], args: list[str], proxy_env: list[str], tunnel: str | None, reached: str
) -> None:
    async with lab("seed") as runner:
        result = await runner.run(
            ["env", *env, "curl", "-sv", *args, "--resolve", "mydomain:443:88.88.88.88", *CERT, "https://mydomain"]
        )
    assert result.exit_code == 0, result.stderr
    assert (result.tunnel, result.reached) == (tunnel, reached)
    assert list(result.proxy_env) == proxy_env


async def test_connect_to_an_unknown_name_gets_502_with_the_reason(lab: LabFactory) -> None:
    async with lab("seed") as runner:
        result = await runner.run(["curl", "-sS", "-v", *VIA_PROXY, "https://nosuch.example"])
        await still_serving(runner)
    assert result.exit_code == 56
    assert "CONNECT tunnel failed, response 502" in (result.error or "")
    assert result.tunnel == "nosuch.example:443"
    assert result.reached is None
    refused = next(e for e in result.events if e.kind == "tunnel-refused")
    assert refused.status == 502
    assert "no entry for 'nosuch.example'" in refused.reason


@pytest.mark.parametrize("how", ["ip", "name"])
async def test_outside_destinations_are_refused_and_nothing_is_sent(lab: LabFactory, tmp_path: Path, how: str) -> None:
    world = tmp_path / "outside.toml"
    world.write_text('topology = "seed"\n[hosts.proxy.dns]\nmydomain = "10.1.1.1"\nevil = "127.0.0.1"\n')
    async with lab(str(world)) as runner, outside_listener() as listener:
        port = listener.socket.getsockname()[1]
        target = f"127.0.0.1:{port}" if how == "ip" else f"evil:{port}"
        answer = await exchange(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        await settled(runner)
        assert answer.startswith(b"HTTP/1.1 403 Forbidden")
        assert b"not an open relay" in answer
        assert nothing_connected(listener)
        events = runner.world.timeline.since(0)
        assert "tunnel-opened" not in kinds(events, "proxy")
        await still_serving(runner)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"\x16\x03\x01\x00\x30" + bytes(48) + b"\r\n\r\n", 400),  # TLS straight at the proxy port
        (b"CONNECT mydomain:443\r\nX-Injected: yes HTTP/1.1\r\nHost: mydomain\r\n\r\n", 400),  # CR/LF in the target
        (b"CONNECT mydomain:443\rX-Injected: yes HTTP/1.1\r\nHost: mydomain\r\n\r\n", 400),
        (b"CONNECT mydomain HTTP/1.1\r\nHost: mydomain\r\n\r\n", 400),  # no port
        (b"GET / HTTP/1.1\r\nHost: mydomain\r\n\r\n", 400),  # origin-form: not a proxy request
        (b"CONNECT mydomain:443 HTTP/1.1\r\nHost: mydomain\r\nX: " + b"a" * 40_000 + b"\r\n\r\n", 431),
        (b"GET http://1.1.1.1:65536/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # proxy.py answered nothing to these
        (b"GET http://1.1.1.1:-1/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET http://1.1.1.1:99999/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET http://[::1/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"CONNECT mydomain:443 HTTP/1.1\nHost: mydomain:443\n\n", 400),
        (b"CONNECT mydomain:443 HTTP/9.9\r\nHost: mydomain:443\r\n\r\n", 505),  # proxy.py's own 400, no event
    ],
)
async def test_bad_requests_get_4xx_one_event_and_the_proxy_keeps_serving(
    lab: LabFactory, data: bytes, status: int
) -> None:
    async with lab("seed") as runner:
        answer = await exchange(data)
        await settled(runner)
        events = runner.world.timeline.since(0)
        assert answer.startswith(f"HTTP/1.1 {status} ".encode())
        assert kinds(events, "proxy") == ["listening", "accepted", "error", "closed"]
        assert kinds(events, "old") == ["listening"]  # nothing went upstream
        await still_serving(runner)


async def test_pipelined_connect_heads_open_one_tunnel_that_carries_the_rest(lab: LabFactory) -> None:
    head = b"CONNECT mydomain:443 HTTP/1.1\r\nHost: mydomain:443\r\n\r\n"
    async with lab("seed") as runner:
        answer = await exchange(head + head, hang_up=True)  # proxy.py alone answered nothing to this
        await settled(runner)
        events = runner.world.timeline.since(0)
        assert answer == b"HTTP/1.1 200 Connection established\r\n\r\n"
        assert kinds(events, "proxy") == [
            "listening",
            "accepted",
            "tunnel-requested",
            "resolved",
            "tunnel-opened",
            "closed",
        ]
        # the second head went through the tunnel, as any bytes after a CONNECT do: the old service saw no TLS
        assert kinds(events, "old") == ["listening", "accepted", "tls-failed", "closed"]
        await still_serving(runner)


async def test_client_leaving_mid_head_and_mid_tunnel(lab: LabFactory) -> None:
    async with lab("seed") as runner:
        timeline = runner.world.timeline
        assert await exchange(b"CONNECT mydomain:443 HTTP/1.1\r\nHost: myd", hang_up=True) == b""
        await settled(runner)
        assert "client closed after 40 bytes" in next(e.summary for e in timeline.since(0) if e.kind == "error")

        start = len(timeline)
        with trio.fail_after(5):
            stream = await trio.open_tcp_stream(*PROXY)
            await stream.send_all(b"CONNECT mydomain:443 HTTP/1.1\r\nHost: mydomain:443\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += await stream.receive_some(1024)
            assert head.startswith(b"HTTP/1.1 200")
            await stream.send_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # half a ClientHello, then gone
            await stream.aclose()
        await settled(runner)
        events = timeline.since(start)
        assert kinds(events, "proxy") == ["accepted", "tunnel-requested", "resolved", "tunnel-opened", "closed"]
        assert kinds(events, "old")[0] == "accepted"
        assert kinds(events, "old")[-1] == "closed"
        await still_serving(runner)


async def test_proxy_authentication_and_absolute_uri_forwarding(lab: LabFactory, tmp_path: Path) -> None:
    world = tmp_path / "auth.toml"
    world.write_text(
        'topology = "seed"\n'
        '[hosts.plain]\nkind = "backend"\naddress = "10.2.2.2:80"\ntls = false\n'
        '[hosts.proxy]\ndns = { mydomain = "10.1.1.1", plain = "10.2.2.2" }\n'
        'auth = { user = "alice", password = "s3cret" }\n'
    )
    async with lab(str(world)) as runner:
        anonymous = await runner.run(["curl", "-sS", *VIA_PROXY, "https://mydomain"])
        wrong = await runner.run(["curl", "-sS", "--proxy-user", "alice:nope", *VIA_PROXY, "https://mydomain"])
        right = await runner.run(["curl", "-sS", "-x", "http://alice:s3cret@10.9.9.9:3128", "https://mydomain"])
        forwarded = await runner.run(["curl", "-sS", "-U", "alice:s3cret", *VIA_PROXY, "http://plain/x?y=1"])
        no_auth_get = await runner.run(["curl", "-sS", "-i", *VIA_PROXY, "http://plain/x"])
    for refused, why in [(anonymous, "none was sent"), (wrong, "wrong user or password")]:
        assert refused.exit_code == 56
        assert "response 407" in (refused.error or "")
        event = next(e for e in refused.events if e.kind == "tunnel-refused")
        assert event.status == 407
        assert why in event.reason
    assert (right.exit_code, right.reached) == (0, "old")
    shown = next(e for e in right.events if e.kind == "tunnel-requested").headers
    assert shown["Proxy-Authorization"] == "Basic alice:***"
    assert "s3cret" not in json.dumps([e.to_json() for e in right.events])
    assert (forwarded.exit_code, forwarded.reached, forwarded.tunnel) == (0, "plain", "plain:80")
    assert "request: GET /x?y=1 HTTP/1.1" in forwarded.stdout
    assert next(e for e in forwarded.events if e.kind == "tunnel-requested").line == ("GET http://plain/x?y=1 HTTP/1.1")
    assert no_auth_get.stdout.startswith("HTTP/1.1 407")
    assert "Proxy-Authenticate: Basic" in no_auth_get.stdout


def test_exec_json_reports_the_tunnel_as_the_proxy_saw_it() -> None:
    """`lab exec seed --json -- curl … -x http://10.9.9.9:3128 …` in a fresh process (the CLI contract)."""
    done = subprocess.run(
        [
            sys.executable,
            *["-m", "lab", "exec", "seed", "--json", "--"],
            *["curl", "-sS", "--resolve", "mydomain:443:88.88.88.88", *CERT, *VIA_PROXY, "https://mydomain"],
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert (record["tunnel"], record["reached"]) == ("mydomain:443", "old")
    resolved = next(e for e in record["events"] if e["kind"] == "resolved")
    assert resolved["data"] == {
        "name": "mydomain",
        "address": "10.1.1.1",
        "table": "proxy DNS",
        "upstream": "old",
    }


async def test_kept_alive_requests_to_another_host_are_routed_afresh(lab: LabFactory, tmp_path: Path) -> None:
    """proxy.py would send every request of a kept-alive connection to its first upstream; the lab's won't."""
    world = tmp_path / "two.toml"
    world.write_text(
        'topology = "seed"\n'
        '[hosts.plain]\nkind = "backend"\naddress = "10.2.2.2:80"\ntls = false\n'
        '[hosts.plain2]\nkind = "backend"\naddress = "10.2.2.3:80"\ntls = false\n'
        '[hosts.proxy]\ndns = { plain = "10.2.2.2", plain2 = "10.2.2.3" }\n'
    )
    async with lab(str(world)) as runner:
        result = await runner.run(["curl", "-sS", *VIA_PROXY, "http://plain/a", "http://plain/b", "http://plain2/c"])
    assert result.exit_code == 0, result.stderr
    served = [line for line in result.stdout.splitlines() if line.startswith(("served-by", "request"))]
    assert served == [
        "served-by: plain",
        "request: GET /a HTTP/1.1",
        "served-by: plain",
        "request: GET /b HTTP/1.1",
        "served-by: plain2",
        "request: GET /c HTTP/1.1",
    ]
    assert result.reached == "plain2"
    proxy = kinds(result.events, "proxy")
    assert proxy.count("accepted") == 2  # curl reconnected after the proxy closed the first connection
    assert proxy.count("request") == 1  # /b: same upstream, same connection
    assert proxy.count("tunnel-refused") == 1  # /c: another host, connection closed without an answer

"""Deadlines, request-body size and open connections, per host (``[hosts.NAME] limits``).

Time is trio's autojump clock: a test that waits ten minutes of the lab's time takes milliseconds, and no
test sleeps. Clock tests use only the hosts that run entirely in trio (the HTTP proxy's worker threads
would let the clock jump while they work); the proxy's head deadline is trio's too, so it is here.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import pytest
import trio
import trio.testing

from lab.errors import ScenarioError
from lab.model import scenario
from lab.model.events import Event, LimitReached
from lab.model.limits import Limits
from lab.runtime.runner import Runner
from lab.session import open_lab
from tests.conftest import LabFactory
from tests.worlds import seed_variant

pytestmark = pytest.mark.netns

HOSTS = {"glb": ("88.88.88.88", 443), "old": ("10.1.1.1", 443), "reset": ("198.0.8.245", 443),
         "proxy": ("10.9.9.9", 3128), "socks": ("10.9.9.9", 1080), "web": ("10.3.3.3", 443)}  # fmt: skip
ORIGIN = '[hosts.web]\nkind = "origin"\naddress = "10.3.3.3:443"\n'  # the seed has every other kind


@asynccontextmanager
async def world(tmp_path: Path, text: str = "") -> AsyncIterator[Runner]:
    """The seed with ``text`` on top; the test fails after an hour of the lab's time (milliseconds of ours)."""
    async with open_lab(scenario.load(seed_variant(tmp_path, text))) as runner:
        with trio.fail_after(3600):  # from here: start-up waits on a thread, which lets the clock jump
            yield runner


def limit_events(runner: Runner, host: str) -> list[LimitReached]:
    return [e for e in runner.world.timeline.since(0) if isinstance(e, LimitReached) and e.host == host]


async def wait_closed(stream: trio.abc.Stream) -> bytes:
    """Everything the host still sends, until it closes."""
    seen = b""
    while data := await stream.receive_some(65536):
        seen += data
    return seen


def client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


STALLS = {"proxy": b"CONNECT myd", "socks": b"\x05"}  # the TLS hosts: b"\x16\x03"


@pytest.mark.parametrize("host", sorted(HOSTS))
async def test_a_client_that_never_finishes_its_handshake_is_cut_off(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, host: str
) -> None:
    async with world(tmp_path, ORIGIN) as runner:
        async with await trio.open_tcp_stream(*HOSTS[host]) as stream:
            started = trio.current_time()
            await stream.send_all(STALLS.get(host, b"\x16\x03"))  # the start of what the host waits for, then nothing
            assert await wait_closed(stream) == b""
            waited = trio.current_time() - started
        await trio.to_thread.run_sync(runner.world.timeline.wait_idle, 5.0)
        (event,) = limit_events(runner, host)
    assert waited == pytest.approx(Limits().handshake_timeout, abs=0.5)
    assert event.limit == "handshake_timeout"
    assert "within 10 s" in event.summary


async def test_an_idle_connection_is_closed_after_the_idle_timeout(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with world(tmp_path, "[hosts.old.limits]\nidle_timeout = 120\n") as runner:
        tls = trio.SSLStream(await trio.open_tcp_stream(*HOSTS["old"]), client_context(), server_hostname="mydomain")
        async with tls:
            await tls.send_all(b"GET / HTTP/1.1\r\nHost: mydomain\r\n\r\n")  # kept alive after the answer
            answer = await tls.receive_some(65536)
            assert answer.startswith(b"HTTP/1.1 200")
            answered = trio.current_time()
            with pytest.raises(trio.BrokenResourceError):  # the host closed without close_notify
                await wait_closed(tls)
            assert trio.current_time() - answered == pytest.approx(120, abs=0.5)
        await trio.to_thread.run_sync(runner.world.timeline.wait_idle, 5.0)
        (event,) = limit_events(runner, "old")
    assert (event.limit, event.value) == ("idle_timeout", 120)


async def test_bytes_keep_a_connection_alive_and_a_silent_host_outwaits_curl(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with world(tmp_path, '[hosts.reset]\nmode = "silent"\n') as runner:
        hello = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = client_context().wrap_bio(*hello, server_hostname="mydomain")
        with pytest.raises(ssl.SSLWantReadError):
            tls.do_handshake()
        async with await trio.open_tcp_stream(*HOSTS["reset"]) as stream:
            await stream.send_all(hello[1].read())
            for _ in range(5):  # a byte every 500 s: never idle for 600 s
                await trio.sleep(500)
                await stream.send_all(b"\x00")
            started = trio.current_time()
            assert await wait_closed(stream) == b""
            waited = trio.current_time() - started
        await trio.to_thread.run_sync(runner.world.timeline.wait_idle, 5.0)
        (event,) = limit_events(runner, "reset")
    assert waited == pytest.approx(600, abs=0.5)  # after curl's own 300 s connect timeout: curl gives up first
    assert event.limit == "idle_timeout"


async def test_one_connection_over_the_limit_is_closed_at_once(lab: LabFactory, tmp_path: Path) -> None:
    async with lab(seed_variant(tmp_path, "[hosts.old.limits]\nmax_connections = 2\n")) as runner:
        held = [await trio.open_tcp_stream(*HOSTS["old"]) for _ in range(2)]
        await trio.testing.wait_all_tasks_blocked()
        async with await trio.open_tcp_stream(*HOSTS["old"]) as extra:
            with trio.fail_after(5):
                assert await wait_closed(extra) == b""
        result = await runner.run(["curl", "-sS", "--resolve", "mydomain:443:10.1.1.1", "https://mydomain/"])
        assert result.exit_code != 0  # the host is full: curl's connection is closed too
        await held[0].aclose()
        await trio.to_thread.run_sync(runner.world.timeline.wait_idle, 0.5)  # times out: two are still open
        assert runner.world.timeline.open_connections == 1
        result = await runner.run(["curl", "-sS", "--resolve", "mydomain:443:10.1.1.1", "https://mydomain/"])
        assert result.exit_code == 0, result.stderr  # room again
        await held[1].aclose()
        events = limit_events(runner, "old")
    assert [e.limit for e in events] == ["max_connections", "max_connections"]
    assert "2 are open, the limit (limits.max_connections)" in events[0].summary


@pytest.mark.parametrize("version", ["--http2", "--http1.1"])
async def test_a_request_body_over_the_limit_gets_413(lab: LabFactory, tmp_path: Path, version: str) -> None:
    body = tmp_path / "body.bin"
    body.write_bytes(b"x" * 50_000)
    async with lab(seed_variant(tmp_path, "[hosts.old.limits]\nmax_body = 10000\n")) as runner:
        url = ["--resolve", "mydomain:443:10.1.1.1", "https://mydomain/"]
        big = await runner.run(["curl", "-sS", version, "-w", "%{http_code}", "--data-binary", f"@{body}", *url])
        small = await runner.run(["curl", "-sS", version, "-d", "x" * 9000, *url])
    assert big.stdout.endswith("413"), big.stderr
    assert "request body over 10000 bytes (this host's limits.max_body)" in big.stdout
    (event,) = [e for e in big.events if isinstance(e, LimitReached)]
    assert (event.host, event.limit, event.value) == ("old", "max_body", 10000)
    assert "body: 9000 bytes" in small.stdout


async def test_a_20_mb_h2_body_without_end_stream_is_not_held_whole(lab: LabFactory) -> None:
    """The body stops at limits.max_body (8 MiB): the stream gets 413 and RST_STREAM, the connection lives on."""
    context = client_context()
    context.set_alpn_protocols(["h2"])
    async with lab("seed") as runner:
        stream = trio.SSLStream(await trio.open_tcp_stream(*HOSTS["old"]), context, server_hostname="mydomain")
        await stream.do_handshake()
        h2conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        h2conn.initiate_connection()
        post = [(":method", "POST"), (":path", "/"), (":scheme", "https"), (":authority", "mydomain")]
        h2conn.send_headers(1, post)
        statuses: dict[int, bytes] = {}
        chunk, sent, reset = b"x" * 16384, 0, False
        with trio.fail_after(30):
            while not reset and sent < 20 * 2**20:
                while sent < 20 * 2**20 and h2conn.local_flow_control_window(1) >= len(chunk):
                    h2conn.send_data(1, chunk)  # never END_STREAM
                    sent += len(chunk)
                await stream.send_all(h2conn.data_to_send())
                for event in h2conn.receive_data(await stream.receive_some(65536)):
                    if isinstance(event, h2.events.ResponseReceived) and event.stream_id is not None:
                        statuses[event.stream_id] = dict(event.headers or [])[b":status"]
                    reset = reset or isinstance(event, h2.events.StreamReset)
                await stream.send_all(h2conn.data_to_send())
            assert statuses == {1: b"413"}
            assert sent <= 8 * 2**20 + 2**20  # the host said stop within one window of the limit
            h2conn.send_headers(
                3, [(":method", "GET"), (":path", "/"), (":scheme", "https"), (":authority", "x")], end_stream=True
            )
            await stream.send_all(h2conn.data_to_send())
            while 3 not in statuses:
                for event in h2conn.receive_data(await stream.receive_some(65536)):
                    if isinstance(event, h2.events.ResponseReceived) and event.stream_id is not None:
                        statuses[event.stream_id] = dict(event.headers or [])[b":status"]
                await stream.send_all(h2conn.data_to_send())
        assert statuses[3] == b"200"  # the same connection still serves
        await stream.aclose()
        events: list[Event] = [e for e in runner.world.timeline.since(0) if isinstance(e, LimitReached)]
    assert [(e.host, e.limit) for e in events] == [("old", "max_body")]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[hosts.old.limits]\nidle_timeout = 0\n", "idle_timeout must be seconds, from 0.1 to 86400, not 0"),
        ('[hosts.old.limits]\nmax_body = "1MB"\n', "'max_body' must be a number of bytes up to 1 GiB, not '1MB'"),
        ("[hosts.old.limits]\nmax_conections = 5\n", "unknown limits key 'max_conections'"),
        ("[hosts.old]\nlimits = 5\n", "limits (like { idle_timeout = 60, max_connections = 100 }) must be a table"),
    ],
)
def test_bad_limits_are_file_line_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario.load(seed_variant(tmp_path, text))
    assert message in str(caught.value)
    assert caught.value.line is not None


def test_limits_are_per_host_with_defaults(tmp_path: Path) -> None:
    loaded = scenario.load(seed_variant(tmp_path, "[hosts.glb.limits]\nhandshake_timeout = 2.5\n"))
    assert loaded.hosts["glb"].limits == Limits(handshake_timeout=2.5)
    assert loaded.hosts["old"].limits == Limits()

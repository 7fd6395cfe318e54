"""Hostile bytes on real sockets, per host kind: each host answers or hangs up with one event, never crashes,
never prints, closes every connection, and still serves the real curl afterwards.

Inputs are real first flights mutated (:mod:`tests.test_fuzz_protocols`): request heads at the HTTP proxy,
SOCKS5 negotiations, ClientHellos at the TLS hosts, and - after a real TLS handshake - HTTP/1.1 requests and
HTTP/2 frames at the load balancer and a backend. ``LAB_FUZZ_SOCKETS`` inputs per host kind (``make fuzz``
runs thousands); a seeded generator, so a failure names its seed and repeats.
"""

from __future__ import annotations

import collections
import contextlib
import os
import random
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import h2.config
import h2.connection
import pytest
import trio

from lab.hosts import MODULES
from lab.model.events import PeerError
from lab.paths import CERT_DIR
from lab.runtime.runner import Runner
from tests.conftest import LabFactory
from tests.test_fuzz_protocols import COUNTS, HEADS, HELLOS, SOCKS, TIMES, UNITS, Edit, mutate
from tests.worlds import seed_variant

pytestmark = pytest.mark.netns

INPUTS = int(os.environ.get("LAB_FUZZ_SOCKETS", "40"))
SEED = int(os.environ.get("LAB_FUZZ_SEED", "1"))
CATCH_ALL = "could not handle what the peer sent"  # World's last resort: a bug to fix, not an answer
REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: mydomain\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
    b"POST /api/x?bytes=10 HTTP/1.1\r\nHost: mydomain\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
    b"HEAD / HTTP/1.1\r\nHost: mydomain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
]


def _h2_flight(end_stream: bool, extra: tuple[bytes, bytes] = (b"user-agent", b"curl/7.88.1")) -> bytes:
    """A client's first HTTP/2 bytes; ``extra`` is one more header, sent as is (h2 checks nothing here)."""
    config = h2.config.H2Configuration(client_side=True, validate_outbound_headers=False, header_encoding=None)
    conn = h2.connection.H2Connection(config)
    conn.initiate_connection()
    head = [(b":method", b"POST"), (b":path", b"/"), (b":scheme", b"https"), (b":authority", b"mydomain"), extra]
    conn.send_headers(1, head)
    conn.send_data(1, b"body", end_stream=end_stream)
    return conn.data_to_send()


H2_FLIGHTS = [_h2_flight(True), _h2_flight(False)]
ODD_SNI = HELLOS[0].replace(b"mydomain", b"myd\xc3\xa9mai")  # same length: a well-formed hello, a non-ASCII name


def odd_header(rng: random.Random) -> tuple[bytes, bytes]:
    """A header with bytes no well-behaved client sends: not UTF-8, controls, upper case, empty."""
    name = rng.choice([b"x-odd", b"X-Odd", b"", b"x\xff", b"user-agent", b"te", b"connection", b":path"])
    return name, rng.choice([b"\xff\xfe", rng.randbytes(rng.randrange(8)), b"a\r\nb", b"trailers", b"\x00"])


# Where each kind listens in the seed, what it is sent, and the curl that must still work afterwards.
TARGETS = {
    "http-proxy": (("10.9.9.9", 3128), "raw", HEADS, ["-x", "http://10.9.9.9:3128", "https://mydomain"]),
    "socks5": (("10.9.9.9", 1080), "raw", SOCKS, ["-x", "socks5h://10.9.9.9:1080", "https://mydomain"]),
    "reset": (("198.0.8.245", 443), "raw", HELLOS, ["https://mydomain"]),
    "backend": (("10.1.1.1", 443), "tls", [*REQUESTS, *H2_FLIGHTS], ["--resolve", "mydomain:443:10.1.1.1", "https://mydomain"]),
    "origin": (("10.3.3.3", 443), "tls", [*REQUESTS, *H2_FLIGHTS], ["-k", "--resolve", "web:443:10.3.3.3", "https://web"]),
    "glb": (
        ("88.88.88.88", 443),
        "tls",
        [*REQUESTS, *H2_FLIGHTS],
        ["--resolve", "mydomain:443:88.88.88.88", "--cert", "certs/client.crt", "--key", "certs/client.key",
         "https://mydomain"],
    ),
}  # fmt: skip


WORLD = '[hosts.web]\nkind = "origin"\naddress = "10.3.3.3:443"\n'  # the seed has every other kind


def test_every_host_kind_is_fuzzed() -> None:
    assert set(TARGETS) == set(MODULES)  # a new host kind needs its row here


def edits(rng: random.Random) -> list[Edit]:
    return [
        (
            rng.randrange(1 << 16),
            rng.randrange(4),
            rng.choice([bytes([rng.randrange(256)]), rng.randbytes(rng.randrange(5)), rng.choice(UNITS)]),
            rng.choice(TIMES),
        )
        for _ in range(rng.randrange(1, 6))
    ]


def tls_context(kind: str, alpn: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols([alpn])
    if kind == "glb":
        context.load_cert_chain(CERT_DIR / "client.crt", CERT_DIR / "client.key")
    return context


async def send_raw(address: tuple[str, int], data: bytes) -> None:
    async with await trio.open_tcp_stream(*address) as stream:
        await stream.send_all(data)
        await stream.send_eof()
        while await stream.receive_some(65536):
            pass


async def send_in_tls(address: tuple[str, int], context: ssl.SSLContext, data: bytes) -> None:
    tls = trio.SSLStream(await trio.open_tcp_stream(*address), context, server_hostname="mydomain")
    async with tls:
        await tls.do_handshake()
        await tls.send_all(data)  # then close_notify: the host reads to the end of what came


def exchanges(kind: str, rng: random.Random) -> list[Callable[[], Awaitable[None]]]:
    address, how, bases, _ = TARGETS[kind]
    made: list[Callable[[], Awaitable[None]]] = []
    for _ in range(INPUTS):
        base = rng.choice(bases)
        if how == "tls" and rng.random() < 0.3:  # TLS hosts also get hostile ClientHellos
            data = rng.choice([ODD_SNI, mutate(rng.choice([*HELLOS, ODD_SNI]), edits(rng))])
            made.append(lambda data=data: send_raw(address, data))
            continue
        if base in H2_FLIGHTS and rng.random() < 0.5:
            base = _h2_flight(rng.random() < 0.5, odd_header(rng))
            data = base
        else:
            data = mutate(base, edits(rng)) if rng.random() < 0.9 else base
        if how == "raw":
            made.append(lambda data=data: send_raw(address, data))
        else:
            alpn = "h2" if base.startswith(b"PRI * HTTP/2.0") else "http/1.1"
            made.append(lambda data=data, alpn=alpn: send_in_tls(address, tls_context(kind, alpn), data))
    return made


async def still_serves(runner: Runner, curl_args: list[str]) -> None:
    result = await runner.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10", *curl_args])
    if curl_args == ["https://mydomain"]:  # the reset host: it reads the ClientHello and hangs up, as before
        assert result.exit_code == 35, result.stderr
    else:
        assert (result.exit_code, result.stdout) == (0, "200"), result.stderr


@pytest.mark.parametrize("kind", sorted(TARGETS))
async def test_hostile_bytes_per_host_kind(
    lab: LabFactory, tmp_path: Path, capfd: pytest.CaptureFixture[str], kind: str
) -> None:
    rng = random.Random(f"{SEED}-{kind}")
    limit = trio.CapacityLimiter(8)

    async def one(exchange: Callable[[], Awaitable[None]]) -> None:
        async with limit:
            COUNTS[f"socket {kind}"] += 1
            with trio.fail_after(10), contextlib.suppress(trio.BrokenResourceError, OSError, ssl.SSLError):
                await exchange()  # a host that hangs up on it has answered too

    async with lab(seed_variant(tmp_path, WORLD)) as runner:
        everything = runner.world.timeline.mark(0)
        async with trio.open_nursery() as nursery:
            for exchange in exchanges(kind, rng):
                nursery.start_soon(one, exchange)
        assert await trio.to_thread.run_sync(runner.world.timeline.wait_idle, 10.0), "a connection stayed open"
        events = runner.world.timeline.since(everything)
        await still_serves(runner, TARGETS[kind][3])
    unexpected = [e.summary for e in events if isinstance(e, PeerError) and (e.host == "lab" or CATCH_ALL in e.summary)]
    assert unexpected == [], f"seed {SEED}: {unexpected[:5]}"
    printed = capfd.readouterr().err
    if os.environ.get("LAB_FUZZ_SHOW"):
        with capfd.disabled():
            print(kind, sorted(collections.Counter((e.host, e.kind) for e in events).items()))
    assert "Traceback" not in printed, printed[-2000:]
    assert "Exception" not in printed, printed[-2000:]

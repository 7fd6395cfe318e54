"""Hostile input to every sans-io parser: generated and mutated, it ends in a result or the parser's documented
error type, never in another exception.

Each parser gets two properties: arbitrary input (bytes or text), and real input - a ClientHello OpenSSL
wrote, curl -v transcripts, curl command lines from the catalog, Certificate messages with the lab's own
certificates - with bytes flipped, inserted, cut. Streaming parsers are also fed in arbitrary pieces.
``LAB_FUZZ_EXAMPLES`` sets the examples per property (``make fuzz`` runs 10,000 and records the figures);
:data:`COUNTS` counts the inputs each parser saw.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import ssl
import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.model import scenario
from lab.paths import CERT_DIR
from lab.protocols import clienthello, curlargs, curlv, logmatch, logquery, proxyhead, socks5, tlscert

EXAMPLES = int(os.environ.get("LAB_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
COUNTS: Counter[str] = Counter()
DATA = Path(__file__).parent / "data"

# -- real input to start from ---------------------------------------------------------------------


def _client_hello(alpn: list[str], sni: str = "mydomain") -> bytes:
    context = ssl.create_default_context()
    context.set_alpn_protocols(alpn)
    outgoing = ssl.MemoryBIO()
    tls = context.wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname=sni)
    with contextlib.suppress(ssl.SSLWantReadError):  # it waits for a ServerHello: the hello is written
        tls.do_handshake()
    return outgoing.read()


HELLOS = [_client_hello(["h2", "http/1.1"]), _client_hello([], "xn--bcher-kva.example")]
HEADS = [
    b"CONNECT mydomain:443 HTTP/1.1\r\nHost: mydomain:443\r\nUser-Agent: curl/7.88.1\r\n"
    b"Proxy-Connection: Keep-Alive\r\n\r\n",
    b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n",
    b"GET http://plain/x?y=1 HTTP/1.1\r\nHost: plain\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
]
SOCKS = [
    b"\x05\x01\x00" + b"\x05\x01\x00\x03\x08mydomain\x01\xbb",
    b"\x05\x01\x02" + b"\x01\x05alice\x06s3cret" + b"\x05\x01\x00\x01\x0a\x01\x01\x01\x01\xbb" + b"\x16\x03\x01",
    b"\x05\x02\x00\x02" + b"\x05\x01\x00\x04" + bytes(15) + b"\x01" + b"\x01\xbb",
]
TRANSCRIPTS = [p.read_text(errors="replace") for p in sorted((DATA / "transcripts").glob("*.txt"))[:20]]
COMMANDS = [
    shlex.split(step["run"])
    for path in scenario.catalog()
    for step in tomllib.loads(path.read_text()).get("steps", [])
    if isinstance(step, dict) and isinstance(step.get("run"), str)
]
FILTERS = [
    'jsonPayload.statusDetails=~"client_cert"',
    'httpRequest.status=0 severity>=INFO AND NOT jsonPayload.statusDetails:"tls"',
    '(resource.type="http_load_balancer" OR resource.labels.forwarding_rule_name:"lab") '
    'timestamp>="2024-01-01T00:00:00Z"',
    '"mydomain" -httpRequest.status=200',
]
RECORD = {
    "httpRequest": {"status": 0, "requestUrl": "https://mydomain/", "latency": "0.1s"},
    "jsonPayload": {"statusDetails": "client_cert_not_provided", "@type": "x"},
    "severity": "INFO",
    "timestamp": "2024-05-01T10:00:00Z",
    "resource": {"type": "http_load_balancer", "labels": {"forwarding_rule_name": "lab-rule"}},
}


def _certificate_messages() -> list[bytes]:
    ders = [ssl.PEM_cert_to_DER_cert(pem) for pem in _pems(CERT_DIR / "client.crt")] or [b"\x30\x03\x02\x01\x01"]
    tls12 = b"".join(len(d).to_bytes(3, "big") + d for d in ders)
    tls13 = b"".join(len(d).to_bytes(3, "big") + d + b"\x00\x00" for d in ders)
    body12 = len(tls12).to_bytes(3, "big") + tls12
    body13 = b"\x00" + len(tls13).to_bytes(3, "big") + tls13
    return [b"\x0b" + len(b).to_bytes(3, "big") + b for b in (body12, body13)]


def _pems(path: Path) -> list[str]:
    if not path.exists():
        return []
    text = path.read_text()
    return [part + "-----END CERTIFICATE-----\n" for part in text.split("-----END CERTIFICATE-----")[:-1]]


CERT_MESSAGES = _certificate_messages()

# -- how input is mutated ---------------------------------------------------------------------------

# Runs of one thing: deep nesting, numbers with thousands of digits, endless headers.
UNITS = [b"(", b"9", b"NOT ", b"\\", b'"', b"[", b":", b"\x00", b"\xff", b"\r\n", b"\n", b"a.", b"%", b"-"]
TIMES = [1, 1, 1, 2, 100, 5000]
edits = st.lists(
    st.tuples(
        st.integers(min_value=0),
        st.integers(0, 3),
        st.binary(max_size=4) | st.sampled_from(UNITS),
        st.sampled_from(TIMES),
    ),
    min_size=1,
    max_size=6,
)
Edit = tuple[int, int, bytes, int]


def amplified(base: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.builds(lambda a, unit, n, b: a + unit * n + b, base, st.sampled_from(UNITS), st.sampled_from(TIMES), base)


def mutate(data: bytes, changes: list[Edit]) -> bytes:
    """Each change replaces ``cut`` bytes at a position with ``new`` ones, ``times`` over (a flip, an insertion,
    a deletion, a run)."""
    raw = bytearray(data)
    for position, cut, new, times in changes:
        at = position % (len(raw) + 1)
        raw[at : at + cut] = new * times
    return bytes(raw)


def mutate_text(text: str, changes: list[Edit]) -> str:
    return mutate(text.encode(), changes).decode("utf-8", "replace")


def pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` in pieces at the given (arbitrary) positions, as a socket might deliver it."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


texts = st.text(max_size=400) | amplified(st.binary(max_size=30)).map(lambda b: b.decode("utf-8", "replace"))
CURL_PREFIXES = ["* Connected to x (1.2.3.4) port ", "curl: (", "* TLSv1.3 (IN), TLS alert, x (", "< HTTP/", ""]
curl_lines = st.builds(  # the start of a line curl -v prints, then a number of any length, then anything
    lambda prefix, digits, rest: prefix + "9" * digits + rest,
    st.sampled_from(CURL_PREFIXES),
    st.sampled_from([0, 1, 5, 6, 5000]),
    st.sampled_from(["", ") x", " (#0)", "):", ")"]) | texts,
)


# -- the properties --------------------------------------------------------------------------------

T = TypeVar("T")


def documented(call: Callable[[], T], error: type[Exception]) -> T | Exception:
    """What ``call`` returns, or the error of the documented type it raised (which must say why); any other
    exception fails the test."""
    try:
        return call()
    except error as exc:
        raised: Exception = exc
    assert str(raised), f"{type(raised).__name__} without a message"
    return raised


def feed_head(data: bytes, cuts: list[int]) -> None:
    COUNTS["proxyhead"] += 1
    reader = proxyhead.HeadReader()
    verdicts = [reader.receive_data(piece) for piece in pieces(data, cuts)]
    final = verdicts[-1]
    assert final is None or isinstance(final, proxyhead.ProxyRequest | proxyhead.BadRequest)
    if isinstance(final, proxyhead.BadRequest):
        assert final.status in (400, 431, 505)
        assert final.response().startswith(b"HTTP/1.1 ")
    if isinstance(final, proxyhead.ProxyRequest):
        assert 0 < final.port < 65536
        assert final.host
        assert final.head + final.early == final.data


@FUZZ
@given(data=st.binary(max_size=600) | amplified(st.binary(max_size=40)), cuts=st.lists(st.integers(0), max_size=4))
def test_proxy_heads_generated(data: bytes, cuts: list[int]) -> None:
    feed_head(data, cuts)


@FUZZ
@given(base=st.sampled_from(HEADS), changes=edits, cuts=st.lists(st.integers(min_value=0), max_size=4))
def test_proxy_heads_mutated(base: bytes, changes: list[Edit], cuts: list[int]) -> None:
    feed_head(mutate(base, changes), cuts)


def feed_socks(data: bytes, cuts: list[int], credentials: tuple[str, str] | None) -> None:
    COUNTS["socks5"] += 1
    server = socks5.Socks5Server(credentials)

    def run() -> None:
        for piece in pieces(data, cuts):
            out, request = server.receive_data(piece)
            assert isinstance(out, bytes)
            if request is not None:
                assert 0 <= request.port < 65536
                assert request.target
                server.reply(socks5.SUCCEEDED)
                server.take_buffered()

    documented(run, socks5.Socks5Error)


@FUZZ
@given(
    data=st.binary(max_size=300) | amplified(st.binary(max_size=20)),
    cuts=st.lists(st.integers(min_value=0), max_size=4),
    credentials=st.none() | st.just(("alice", "s3cret")),
)
def test_socks5_generated(data: bytes, cuts: list[int], credentials: tuple[str, str] | None) -> None:
    feed_socks(data, cuts, credentials)


@FUZZ
@given(
    base=st.sampled_from(SOCKS),
    changes=edits,
    cuts=st.lists(st.integers(min_value=0), max_size=4),
    credentials=st.none() | st.just(("alice", "s3cret")),
)
def test_socks5_mutated(base: bytes, changes: list[Edit], cuts: list[int], credentials: tuple[str, str] | None) -> None:
    feed_socks(mutate(base, changes), cuts, credentials)


def feed_hello(data: bytes, cuts: list[int]) -> None:
    COUNTS["clienthello"] += 1
    found = documented(lambda: clienthello.parse(data), clienthello.NotClientHello)
    assert found is None or isinstance(found, clienthello.ClientHello | clienthello.NotClientHello)
    reader = clienthello.HelloReader()
    for piece in pieces(data, cuts):
        result = reader.feed(piece)
        assert result is None or isinstance(result, clienthello.ClientHello | clienthello.NotClientHello)


@FUZZ
@given(data=st.binary(max_size=600) | amplified(st.binary(max_size=40)), cuts=st.lists(st.integers(0), max_size=4))
def test_client_hello_generated(data: bytes, cuts: list[int]) -> None:
    feed_hello(b"\x16\x03" + data, cuts)


@FUZZ
@given(base=st.sampled_from(HELLOS), changes=edits, cuts=st.lists(st.integers(min_value=0), max_size=4))
def test_client_hello_mutated(base: bytes, changes: list[Edit], cuts: list[int]) -> None:
    feed_hello(mutate(base, changes), cuts)


def read_verbose(text: str) -> None:
    COUNTS["curlv"] += 1
    verbose = curlv.parse(text)
    assert verbose.error_code is None or verbose.error_code >= 0
    for line in text.splitlines():
        curlv.connected(line)


@FUZZ
@given(text=texts | curl_lines)
def test_curl_verbose_generated(text: str) -> None:
    read_verbose(text)


@FUZZ
@given(base=st.sampled_from(TRANSCRIPTS), changes=edits)
def test_curl_verbose_mutated(base: str, changes: list[Edit]) -> None:
    read_verbose(mutate_text(base, changes))


def read_command(argv: list[str], lenient: bool) -> None:
    COUNTS["curlargs"] += 1
    options = documented(lambda: curlargs.parse_command(argv, lenient=lenient), ValueError)  # CurlUsageError too
    if isinstance(options, ValueError):
        return
    for name in ("proxy", "resolve", "connect-to", "url", "cert", "header"):
        options.values(name)
        options.last(name)
        options.uses(name)
        options.without(name)
    options.flag("insecure")
    assert isinstance(options.proxy, str | None)
    options.resolve  # noqa: B018 - a property that reads the options
    options.verbose  # noqa: B018


words = st.text(max_size=20) | st.sampled_from(["-x", "--proxy", "-H", "--resolve", "-", "--", "-vk", "--no-insecure"])


@FUZZ
@given(argv=st.lists(words, max_size=8), lenient=st.booleans())
def test_curl_argv_generated(argv: list[str], lenient: bool) -> None:
    read_command(argv, lenient)


@FUZZ
@given(
    base=st.sampled_from(COMMANDS),
    at=st.integers(min_value=0),
    word=words,
    drop=st.booleans(),
    lenient=st.booleans(),
)
def test_curl_argv_mutated(base: list[str], at: int, word: str, drop: bool, lenient: bool) -> None:
    argv = list(base)
    where = at % (len(argv) + 1)
    if drop and where < len(argv):
        del argv[where]
    else:
        argv.insert(where, word)
    read_command(argv, lenient)


def read_certificates(message: bytes, tls13: bool) -> None:
    COUNTS["tlscert"] += 1
    chain = documented(lambda: tlscert.certificate_list(message, tls13=tls13), tlscert.MalformedCertificateMessage)
    assert isinstance(chain, tlscert.MalformedCertificateMessage) or all(isinstance(der, bytes) for der in chain)


@FUZZ
@given(message=st.binary(max_size=300) | amplified(st.binary(max_size=20)), tls13=st.booleans())
def test_certificate_message_generated(message: bytes, tls13: bool) -> None:
    read_certificates(b"\x0b" + message, tls13)


@FUZZ
@given(index=st.sampled_from([0, 1]), changes=edits, tls13=st.booleans())
def test_certificate_message_mutated(index: int, changes: list[Edit], tls13: bool) -> None:
    read_certificates(mutate(CERT_MESSAGES[index], changes), tls13 if changes[0][1] else index == 1)


def read_filter(expression: str, record: dict[str, Any]) -> None:
    COUNTS["logquery"] += 1
    documented(lambda: logquery.parse_filter(expression), logquery.FilterError)
    matched = documented(lambda: logmatch.matches(record, expression), logquery.FilterError)
    assert isinstance(matched, bool | logquery.FilterError)


@FUZZ
@given(expression=st.text(max_size=80) | texts)
def test_log_filter_generated(expression: str) -> None:
    read_filter(expression, RECORD)


@FUZZ
@given(base=st.sampled_from(FILTERS), changes=edits)
def test_log_filter_mutated(base: str, changes: list[Edit]) -> None:
    read_filter(mutate_text(base, changes), RECORD)

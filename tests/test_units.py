"""Sans-io pieces of the runtime: ClientHello reader, curl -v reader, the timeline."""

from __future__ import annotations

import ssl
import threading
import tomllib
from pathlib import Path

import pytest

from lab.errors import CommandError
from lab.model.command import split_command
from lab.model.events import Accepted, Closed
from lab.protocols import clienthello, curlv
from lab.runtime.timeline import Timeline


def real_client_hello(server_hostname: str | None, alpn: list[str]) -> bytes:
    """The bytes OpenSSL really sends first, produced through memory BIOs (no socket)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def test_client_hello_names_sni_and_alpn() -> None:
    hello = clienthello.parse(real_client_hello("mydomain", ["h2", "http/1.1"]))
    assert hello == clienthello.ClientHello(sni="mydomain", alpn=("h2", "http/1.1"))


def test_client_hello_without_sni_for_ip_literals() -> None:
    hello = clienthello.parse(real_client_hello(None, ["http/1.1"]))
    assert hello == clienthello.ClientHello(sni=None, alpn=("http/1.1",))


@pytest.mark.parametrize(
    ("garbage", "why"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", "record type 0x47"),
        (b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00", "message type 2 is not ClientHello"),
        (b"\x16\x03\x01\xff\xff\x01" + b"\xff" * 40, "a TLS record of 65535 bytes"),
        (b"\x16\x09", "version major 9"),
        (b"\x16\x03\x01\x00\x06\x01\x00\x00\x02\x03\x03", "malformed ClientHello"),
    ],
)
def test_garbage_is_not_a_client_hello(garbage: bytes, why: str) -> None:
    with pytest.raises(clienthello.NotClientHello, match=why):
        clienthello.parse(garbage)


@pytest.mark.parametrize(
    ("sni", "alpn"),
    [("mydomain", ["h2", "http/1.1"]), (None, ["http/1.1"]), ("x" * 63 + "." + "y" * 63 + ".example", [])],
)
def test_every_cut_of_a_real_client_hello_means_need_more_data(sni: str | None, alpn: list[str]) -> None:
    data = real_client_hello(sni, alpn)
    for cut in range(len(data)):
        assert clienthello.parse(data[:cut]) is None, cut
    assert clienthello.parse(data) == clienthello.ClientHello(sni=sni, alpn=tuple(alpn))


def test_a_client_hello_split_across_tls_records_is_reassembled() -> None:
    data = real_client_hello("mydomain", ["h2"])
    body = data[5:]
    split = data[:3] + len(body[:50]).to_bytes(2, "big") + body[:50] + data[:3] + len(body[50:]).to_bytes(2, "big")
    assert clienthello.parse(split + body[50:]) == clienthello.ClientHello(sni="mydomain", alpn=("h2",))


def test_hello_reader_buffers_byte_by_byte() -> None:
    data = real_client_hello("mydomain", ["h2"])
    reader = clienthello.HelloReader()
    answers = [reader.feed(data[i : i + 1]) for i in range(len(data))]
    assert answers[:-1] == [None] * (len(data) - 1)
    assert answers[-1] == clienthello.ClientHello(sni="mydomain", alpn=("h2",))
    assert reader.done


CURL_788 = """\
* Added mydomain:443:88.88.88.88 to DNS cache
* Hostname mydomain was found in DNS cache
*   Trying 88.88.88.88:443...
* Connected to mydomain (88.88.88.88) port 443 (#0)
* ALPN: offers h2,http/1.1
} [5 bytes data]
* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384
*  subject: C=GB; CN=mydomain
> GET / HTTP/2
> Host: mydomain
< HTTP/2 200
< served-by: glb
curl: (56) OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert certificate required, errno 0
"""


def test_curl_verbose_reader_keeps_the_deciding_lines() -> None:
    parsed = curlv.parse(CURL_788)
    assert parsed.connected == ("mydomain (88.88.88.88) port 443",)
    assert [c.address for c in parsed.connections] == ["88.88.88.88:443"]
    assert parsed.error_code == 56
    assert parsed.error == (
        "curl: (56) OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert certificate required, errno 0"
    )
    assert parsed.response_status == "< HTTP/2 200"
    assert "*   Trying 88.88.88.88:443..." in parsed.key_lines
    assert "< served-by: glb" in parsed.key_lines
    assert "} [5 bytes data]" not in parsed.key_lines


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # curl 7.x
        ("* Connected to mydomain (88.88.88.88) port 443 (#0)", ("mydomain", "88.88.88.88", 443, 0, None)),
        ("* Connected to ::1 (::1) port 8443 (#3)", ("::1", "::1", 8443, 3, None)),
        ("* Connected to (nil) (88.88.88.88) port 443 (#0)", (None, "88.88.88.88", 443, 0, None)),  # --connect-to
        ("* Connected to 10.9.9.9 () port 1080", ("10.9.9.9", None, 1080, None, None)),  # curl 8, SOCKS
        # curl 8.0-8.20: no connection number
        ("* Connected to corp-proxy (10.9.9.9) port 3128", ("corp-proxy", "10.9.9.9", 3128, None, None)),
        # curl 8.21+ (lib/connect.c conn_connect_trace): the client's own address too
        (
            "* Established connection to mydomain (88.88.88.88 port 443) from 10.1.1.2 port 40522 ",
            ("mydomain", "88.88.88.88", 443, None, "10.1.1.2:40522"),
        ),
        ("* Established 2nd connection to h (::1 port 21) from ::1 port 9", ("h", "::1", 21, None, "[::1]:9")),
        ("* Connected to mydomain", None),
        ("* Connection #0 to host mydomain left intact", None),
        ("> Connected to mydomain (88.88.88.88) port 443", None),
    ],
)
def test_connected_lines_of_every_curl_version(line: str, expected: tuple[object, ...] | None) -> None:
    found = curlv.connected(line)
    assert (None if found is None else (found.name, found.ip, found.port, found.number, found.local)) == expected
    if found is not None:  # the old string field keeps its shape for its readers
        assert curlv.parse(line).connected == (f"{found.name or '(nil)'} ({found.ip or ''}) port {found.port}",)
        assert curlv.parse(line).connections == (found,)


def test_every_connection_in_the_transcript_corpus_is_read() -> None:
    """The corpus (tests/data/transcripts: real curl 7.88.1 and 8.14.1 runs): every connection line is read,
    and the address is one of the servers that really took part (or a redacted "x.x.x.x")."""
    corpus = Path(__file__).parent / "data" / "transcripts"
    manifest = tomllib.loads((corpus / "manifest.toml").read_text(encoding="utf-8"))
    read = 0
    for entry in manifest["transcript"]:
        servers = {server["address"] for server in entry.get("servers", [])}
        for raw in (corpus / entry["file"]).read_text(encoding="utf-8").splitlines():
            line = curlv.clean_line(raw)
            if not line.startswith(("* Connected to ", "* Established ")):
                continue
            found = curlv.connected(line)
            assert found is not None, line
            assert found.address is None or found.address in servers or "x.x.x.x" in line, (entry["file"], line)
            read += 1
    assert read > 50


@pytest.mark.parametrize(
    ("argv", "env", "args"),
    [
        (["curl", "-v", "x"], {}, ["curl", "-v", "x"]),
        (
            ["env", "https_proxy=http://p:1", "NO_PROXY=a", "curl", "x"],
            {"https_proxy": "http://p:1", "NO_PROXY": "a"},
            ["curl", "x"],
        ),
        (
            ["HTTPS_PROXY=http://p:1", "/usr/bin/curl", "x"],
            {"HTTPS_PROXY": "http://p:1"},
            ["/usr/bin/curl", "x"],
        ),
    ],
)
def test_commands_split_into_environment_and_curl(argv: list[str], env: dict[str, str], args: list[str]) -> None:
    assert split_command(argv) == (env, args)


@pytest.mark.parametrize("argv", [[], ["env"], ["wget", "x"], ["env", "A=1", "sh", "-c", "curl x"]])
def test_only_curl_runs(argv: list[str]) -> None:
    with pytest.raises(CommandError, match="curl"):
        split_command(argv)


def test_timeline_from_threads_and_idle_wait() -> None:
    timeline = Timeline()
    seen: list[str] = []
    timeline.subscribe(lambda event: seen.append(event.kind))
    conn = timeline.new_conn()
    timeline.emit(Accepted(host="old", conn=conn))
    assert timeline.open_connections == 1
    assert timeline.wait_idle(0.01) is False
    closer = threading.Thread(target=timeline.emit, args=(Closed(host="old", conn=conn),))
    closer.start()
    assert timeline.wait_idle(5.0) is True
    closer.join()
    assert seen == ["accepted", "closed"]
    events = timeline.since(0)
    assert events[0].t <= events[1].t
    assert events[1].to_json()["conn"] == conn

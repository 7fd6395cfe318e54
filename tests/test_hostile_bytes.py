"""Bytes that are not UTF-8 - in header values over HTTP/2 and HTTP/1.1, in the SNI, in a User-Agent through the
proxy - are bytes the lab shows escaped (``\\xff``), never an exception, a dropped connection or a traceback.

The last test runs them all against a real ``lab up`` and reads the lab process's stderr: events and curl's
own output, not one traceback.
"""

from __future__ import annotations

import inspect
import socket
import ssl
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from OpenSSL import SSL

from lab.model.events import LogEntry, PeerError, RequestReceived, TlsOk
from lab.paths import CERT_DIR, ROOT
from tests.conftest import LabFactory
from tests.worlds import BEHIND, seed_variant

pytestmark = pytest.mark.netns

CERT = ["--cert", "certs/client.crt", "--key", "certs/client.key"]
ODD = "\udcff"  # os.fsencode makes this the byte 0xff on curl's command line


@pytest.mark.parametrize("version", ["--http2", "--http1.1"])
@pytest.mark.parametrize(
    ("route", "receiver"),
    [
        (["--resolve", "mydomain:443:10.1.1.1"], "old"),
        (["--resolve", "mydomain:443:88.88.88.88", *CERT], "glb"),
        (["--resolve", "mydomain:443:88.88.88.88", *CERT], "api"),  # forwarded by the load balancer
    ],
)
async def test_non_utf8_header_values_are_bytes_not_errors(
    lab: LabFactory, tmp_path: Path, version: str, route: list[str], receiver: str
) -> None:
    path = "/api/x" if receiver == "api" else "/"
    async with lab(seed_variant(tmp_path, BEHIND)) as runner:
        result = await runner.run(
            ["curl", "-sS", version, *route, "-A", f"curl{ODD}", "-H", f"X-Odd: a{ODD}é", f"https://mydomain{path}"]
        )
    assert result.exit_code == 0, result.stderr  # h2 was exit 18/92: the connection dropped without GOAWAY
    assert f"served-by: {receiver}" in result.stdout
    assert [e.kind for e in result.events if isinstance(e, PeerError)] == []
    assert any(isinstance(e, RequestReceived) and e.host == receiver for e in result.events)
    if receiver != "old":
        (entry,) = [e.entry for e in result.events if isinstance(e, LogEntry) and e.entry]
        assert entry["httpRequest"]["userAgent"] == "curl\\xff"


def _hello_with_sni(address: tuple[str, int], sni: bytes) -> bytes:
    """A real TLS client (OpenSSL) that sends ``sni`` as is, then one request; the answer (b"" if refused)."""
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    with socket.create_connection(address, timeout=5) as sock:
        sock.settimeout(None)  # pyOpenSSL needs a blocking socket; the kernel bounds each wait instead
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 5, 0))
        tls = SSL.Connection(context, sock)
        tls.set_tlsext_host_name(sni)
        tls.set_connect_state()
        try:
            tls.do_handshake()
            tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return tls.recv(65536)
        except SSL.Error:  # the load balancer wants a client certificate
            return b""


@pytest.mark.parametrize("address", [("10.1.1.1", 443), ("88.88.88.88", 443)])
async def test_a_non_ascii_sni_is_shown_escaped(lab: LabFactory, address: tuple[str, int]) -> None:
    async with lab("seed") as runner:
        timeline = runner.world.timeline
        answer = await trio.to_thread.run_sync(_hello_with_sni, address, b"\xc3\xa9.example")
        assert await trio.to_thread.run_sync(timeline.wait_idle, 5.0)
        events = timeline.since(0)
    assert [e for e in events if isinstance(e, PeerError)] == []
    seen = [getattr(e, "sni", None) for e in events if e.kind in ("tls-ok", "tls-failed")]
    assert seen == ["\\xc3\\xa9.example"]  # the old service failed the handshake here ("callback failed")
    if address[0] == "10.1.1.1":
        assert any(isinstance(e, TlsOk) for e in events)
        assert b"sni: \\xc3\\xa9.example" in answer


PROBE = r"""
import socket, struct
from OpenSSL import SSL
{hello}
_hello_with_sni(("10.1.1.1", 443), b"\xff\xfe")
_hello_with_sni(("88.88.88.88", 443), b"\xc3\xa9")
for head in [b"GET http://1.1.1.1:65536/ HTTP/1.1\r\nHost: x\r\n\r\n", b"CONNECT a:1 HTTP/9.9\r\nHost: a\r\n\r\n"]:
    with socket.create_connection(("10.9.9.9", 3128), timeout=5) as s:
        s.sendall(head)
        print("answered", s.recv(100)[9:12].decode())
"""


def test_the_lab_process_prints_no_traceback_whatever_it_is_sent(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE.format(hello=inspect.getsource(_hello_with_sni)))
    commands = [
        f"curl -sS -o /dev/null -x http://10.9.9.9:3128 -A $'\\xff' --connect-to mydomain:443:88.88.88.88:443 "
        f"{' '.join(CERT)} https://mydomain/",
        "curl -sS -o /dev/null --http2 -H $'X-Odd: \\xff' --resolve mydomain:443:10.1.1.1 https://mydomain/",
        f"{sys.executable} {probe}",
        "exit",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "lab", "up", "seed"],
        cwd=ROOT,
        input="\n".join(commands) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "Exception" not in done.stderr
    assert "answered 400" in done.stdout  # the probe ran and was answered
    assert "answered 505" in done.stdout
    assert "SNI \\xff\\xfe" in done.stderr  # the events, as the lab printed them


@pytest.mark.parametrize(
    ("host", "address"), [("old", ("10.1.1.1", 443)), ("glb", ("88.88.88.88", 443)), ("web", ("10.3.3.3", 443))]
)
@pytest.mark.parametrize(
    ("head", "status"),
    [(b"GARBAGE\r\n\r\n", 400), (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", 431)],
)
async def test_http_hosts_answer_a_bad_head_with_a_status_and_one_event(
    lab: LabFactory, tmp_path: Path, host: str, address: tuple[str, int], head: bytes, status: int
) -> None:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    context.load_cert_chain(CERT_DIR / "client.crt", CERT_DIR / "client.key")
    async with lab(seed_variant(tmp_path, '[hosts.web]\nkind = "origin"\naddress = "10.3.3.3:443"\n')) as runner:
        tls = trio.SSLStream(await trio.open_tcp_stream(*address), context, server_hostname="mydomain")
        async with tls:
            await tls.send_all(head)
            answer = await tls.receive_some(65536)
        assert await trio.to_thread.run_sync(runner.world.timeline.wait_idle, 5.0)
        errors = [e for e in runner.world.timeline.since(0) if isinstance(e, PeerError)]
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:80]
    assert [(e.host, e.status) for e in errors] == [(host, status)]

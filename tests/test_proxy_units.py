"""The HTTP proxy's decisions without sockets: request heads (h11), the proxy's DNS table, authentication."""

from __future__ import annotations

import base64
import dataclasses
import re
from pathlib import Path

import pytest

from lab.errors import ScenarioError
from lab.hosts.http_proxy import check_auth, shown_headers, split_target
from lab.hosts.proxydns import Loop, NothingListening, OutsideLab, ProxyRefusal, UnknownName, resolve
from lab.model import scenario
from lab.model.events import PeerError
from lab.model.hostsettings import ProxySettings
from lab.protocols.proxyhead import BadRequest, HeadReader, ProxyRequest

SEED = scenario.load("seed")
TABLE = ProxySettings(dns=(("mydomain", "10.1.1.1"), ("lb", "88.88.88.88"), ("outside", "8.8.8.8")))
PROXY, CLIENT = SEED.hosts["proxy"], "192.168.1.23"


def read(data: bytes, limit: int = 16 * 1024) -> ProxyRequest | BadRequest | None:
    return HeadReader(limit).receive_data(data)


@pytest.mark.parametrize(
    ("data", "line", "target"),
    [
        (
            b"CONNECT mydomain:443 HTTP/1.1\r\nHost: mydomain:443\r\n\r\n",
            "CONNECT mydomain:443 HTTP/1.1",
            "mydomain:443",
        ),
        (b"CONNECT 88.88.88.88:443 HTTP/1.0\r\n\r\n", "CONNECT 88.88.88.88:443 HTTP/1.0", "88.88.88.88:443"),
        (b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n", "CONNECT [::1]:443 HTTP/1.1", "[::1]:443"),
        (b"GET http://plain/x HTTP/1.1\r\nHost: plain\r\n\r\n", "GET http://plain/x HTTP/1.1", "http://plain/x"),
    ],
)
def test_valid_heads_keep_the_line_as_received(data: bytes, line: str, target: str) -> None:
    verdict = read(data)
    assert isinstance(verdict, ProxyRequest)
    assert (verdict.line, verdict.target, verdict.data) == (line, target, data)


@pytest.mark.parametrize(
    ("data", "status", "why"),
    [
        (b"GARBAGE\r\n\r\n", 400, "illegal request line"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, "illegal request line"),  # TLS to a proxy
        (b"CONNECT mydomain:443\r\nX-Injected: 1 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "illegal request line"),
        (b"CONNECT mydomain:443\rX-Injected: 1 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "illegal request line"),
        (b"CONNECT my domain:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "illegal request line"),
        (b"CONNECT mydomain:443 HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n", 400, "illegal header line"),
        (b"CONNECT mydomain:443 HTTP/1.1\r\n\r\n", 400, "Host"),
        (b"CONNECT mydomain HTTP/1.1\r\nHost: mydomain\r\n\r\n", 400, "CONNECT needs host:port"),
        (b"CONNECT mydomain:99999 HTTP/1.1\r\nHost: mydomain\r\n\r\n", 400, "CONNECT needs host:port"),
        (b"GET / HTTP/1.1\r\nHost: mydomain\r\n\r\n", 400, "absolute http:// URI"),
        (b"CONNECT mydomain:443 HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 20_000 + b"\r\n\r\n", 431, "limit"),
        (b"GET http://1.1.1.1:65536/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, "port '65536' is not a number from 1"),
        (b"GET http://1.1.1.1:-1/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, "port '-1' is not a number"),
        (b"GET http://1.1.1.1:99999/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, "port '99999'"),
        (b"GET http://1.1.1.1:0/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, "port '0'"),
        (b"GET http://1.1.1.1:" + b"9" * 5000 + b"/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, "is not a number"),
        (b"GET http://[::1/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, "closing ']'"),
        (b"GET http://[nope]/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, "not an IPv6 address"),
        (b"GET http:///x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "the host is empty"),
        (b"CONNECT ::1:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "must be in brackets"),
        (b"CONNECT [::1]x:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "after the IPv6 address"),
        (b"CONNECT mydomain:443 HTTP/1.1\nHost: mydomain:443\n\n", 400, "bare LF"),
        (b"CONNECT mydomain:443 HTTP/9.9\r\nHost: mydomain:443\r\n\r\n", 505, "HTTP/9.9 is not supported"),
        (b"CONNECT mydomain:443 HTTP/2.0\r\nHost: mydomain:443\r\n\r\n", 505, "HTTP/2.0 is not supported"),
    ],
)
def test_bad_heads_get_the_status_a_proxy_answers(data: bytes, status: int, why: str) -> None:
    verdict = read(data)
    assert isinstance(verdict, BadRequest)
    assert verdict.status == status
    assert why in verdict.reason
    response = verdict.response()
    assert response.startswith(f"HTTP/1.1 {status} ".encode())
    assert response.endswith(f"{verdict.reason}\n".encode())


@pytest.mark.parametrize(
    ("target", "host", "port"),
    [
        ("http://plain/x", "plain", 80),
        ("http://plain:8080", "plain", 8080),
        ("HTTP://user:pw@plain:81/?q#f", "plain", 81),
        ("http://[::1]/x", "::1", 80),
        ("http://[::1]:8080/x", "::1", 8080),
        ("http://plain:/x", "plain", 80),
    ],
)
def test_absolute_uris_name_their_host_and_port(target: str, host: str, port: int) -> None:
    verdict = read(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert isinstance(verdict, ProxyRequest)
    assert (verdict.host, verdict.port) == (host, port)
    assert split_target(verdict) == (host, port)


def test_bytes_after_a_connect_head_are_the_tunnels_not_a_second_request() -> None:
    head = b"CONNECT mydomain:443 HTTP/1.1\r\nHost: mydomain:443\r\n\r\n"
    verdict = read(head + head + b"\x16\x03\x01")
    assert isinstance(verdict, ProxyRequest)
    assert (verdict.head, verdict.early) == (head, head + b"\x16\x03\x01")


def test_head_arriving_in_pieces_and_an_endless_head() -> None:
    reader = HeadReader()
    whole = b"CONNECT mydomain:443 HTTP/1.1\r\nHost: mydomain:443\r\n\r\n"
    verdicts = [reader.receive_data(whole[i : i + 7]) for i in range(0, len(whole), 7)]
    assert verdicts[:-1] == [None] * (len(verdicts) - 1)
    assert isinstance(verdicts[-1], ProxyRequest)

    endless = HeadReader(limit=1024)
    endless.receive_data(b"CONNECT mydomain:443 HTTP/1.1\r\n")
    verdict = None
    while verdict is None:
        verdict = endless.receive_data(b"X-Filler: " + b"a" * 100 + b"\r\n")
    assert isinstance(verdict, BadRequest)
    assert verdict.status == 431
    assert endless.received < 2048


@pytest.mark.parametrize(
    ("name", "port", "address", "upstream", "source"),
    [
        ("mydomain", 443, "10.1.1.1", "old", "proxy DNS"),
        ("MyDomain", 443, "10.1.1.1", "old", "proxy DNS"),
        ("lb", 443, "88.88.88.88", "glb", "proxy DNS"),
        ("88.88.88.88", 443, "88.88.88.88", "glb", "IP literal"),
        ("198.0.8.245", 443, "198.0.8.245", "reset", "IP literal"),
    ],
)
def test_the_proxy_resolves_with_its_own_table(name: str, port: int, address: str, upstream: str, source: str) -> None:
    found = resolve(name, port, TABLE, SEED, asker=PROXY, peer_ip=CLIENT)
    assert (found.address, found.port, found.upstream, found.source) == (address, port, upstream, source)
    assert name in found.event().summary


@pytest.mark.parametrize(
    ("name", "port", "error", "status"),
    [
        ("nosuch.example", 443, UnknownName, 502),
        ("outside", 443, OutsideLab, 403),
        ("8.8.8.8", 443, OutsideLab, 403),
        ("127.0.0.1", 22, OutsideLab, 403),
        ("::1", 443, OutsideLab, 403),
        ("mydomain", 80, NothingListening, 502),
    ],
)
def test_refusals_say_why(name: str, port: int, error: type[ProxyRefusal], status: int) -> None:
    with pytest.raises(error) as caught:
        resolve(name, port, TABLE, SEED, asker=PROXY, peer_ip=CLIENT)
    assert caught.value.status == status
    assert str(caught.value)


@pytest.mark.parametrize(
    ("asker", "chain", "target", "peer", "why"),
    [
        ("proxy", False, ("10.9.9.9", 3128), "192.168.1.23", "this proxy itself"),
        ("proxy", True, ("10.9.9.9", 3128), "192.168.1.23", "this proxy itself"),  # never, whatever the setting
        ("socks", True, ("10.9.9.9", 1080), "192.168.1.23", "this proxy itself"),
        ("proxy", False, ("10.9.9.9", 1080), "192.168.1.23", "chain = true in [hosts.proxy]"),
        ("socks", False, ("10.9.9.9", 3128), "192.168.1.23", "chain = true in [hosts.socks]"),
        ("socks", True, ("10.9.9.9", 3128), "10.9.9.9", "came through the lab proxy"),  # a third proxy: no
        ("socks", True, ("10.9.9.9", 3128), "192.168.1.23", None),  # a chain of two, asked for
        ("socks", False, ("10.1.1.1", 443), "10.9.9.9", None),  # a proxy's client may be a proxy
    ],
)
def test_no_tunnel_loops(asker: str, chain: bool, target: tuple[str, int], peer: str, why: str | None) -> None:
    settings = dataclasses.replace(TABLE, chain=chain)
    if why is None:
        found = resolve(target[0], target[1], settings, SEED, asker=SEED.hosts[asker], peer_ip=peer)
        assert found.address == target[0]
        return
    with pytest.raises(Loop, match=re.escape(why)) as caught:
        resolve(target[0], target[1], settings, SEED, asker=SEED.hosts[asker], peer_ip=peer)
    assert caught.value.status == 403


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (None, "--proxy-user"),
        ("Bearer abc", "Basic authentication only"),
        ("Basic !!!", "not valid base64"),
        (_basic("alice", "wrong"), "wrong user or password for user 'alice'"),
        (_basic("alice", "s3cret"), None),
    ],
)
def test_proxy_authentication(header: str | None, why: str | None) -> None:
    verdict = check_auth(("alice", "s3cret"), header)
    assert verdict == why if why is None else why in (verdict or "")
    assert check_auth(None, header) is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (_basic("alice", "pa:ss"), "Basic alice:***"),  # only the first colon splits user from password
        ("Basic !!!", "Basic (undecodable)"),
        ("Basic " + base64.b64encode(b"\xff:x").decode(), "Basic (undecodable)"),  # not UTF-8
        ("Bearer abc", "Bearer (undecodable)"),
    ],
)
def test_shown_proxy_authorization(value: str, shown: str) -> None:
    head = b"CONNECT mydomain:443 HTTP/1.1\r\nHost: mydomain:443\r\nProxy-Authorization: " + value.encode()
    request = read(head + b"\r\n\r\n")
    assert isinstance(request, ProxyRequest)
    assert shown_headers(request) == {"Host": "mydomain:443", "Proxy-Authorization": shown}


def test_timeline_shows_host_and_proxy_headers_never_the_password() -> None:
    head = (
        b"CONNECT mydomain:443 HTTP/1.1\r\nHost: mydomain:443\r\nUser-Agent: curl\r\n"
        b"Proxy-Authorization: " + _basic("alice", "s3cret").encode() + b"\r\nProxy-Connection: Keep-Alive\r\n\r\n"
    )
    request = read(head)
    assert isinstance(request, ProxyRequest)
    assert shown_headers(request) == {
        "Host": "mydomain:443",
        "Proxy-Authorization": "Basic alice:***",
        "Proxy-Connection": "Keep-Alive",
    }
    assert split_target(request) == ("mydomain", 443)
    plain = read(b"GET http://plain:8080/x HTTP/1.1\r\nHost: plain\r\n\r\n")
    assert isinstance(plain, ProxyRequest)
    assert split_target(plain) == ("plain", 8080)


@pytest.mark.parametrize(
    ("table", "line", "message"),
    [
        ('[hosts.proxy.dns]\nmydomain = "not-an-ip"\n', 3, "'mydomain' must map to an IP address, not 'not-an-ip'"),
        ("[hosts.proxy]\ndns = 5\n", 3, "'dns' must be a table"),
        ('[hosts.proxy]\nauth = { user = "a" }\n', 3, 'auth must be { user = "...", password = "..." }'),
        ('[hosts.socks]\nauth = "a:b"\n', 3, 'auth must be { user = "...", password = "..." }'),
        ("[hosts.proxy]\ntimeout = -1\n", 3, "'timeout' must be a positive number of seconds, not -1"),
        ("[hosts.proxy]\nresolver = 1\n", 3, "unknown setting 'resolver' for a http-proxy host"),
        ("[hosts.socks]\ntimeout = 5\n", 3, "unknown setting 'timeout' for a socks5 host"),
    ],
)
def test_proxy_settings_are_checked_with_file_and_line(tmp_path: Path, table: str, line: int, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'topology = "seed"\n{table}')
    with pytest.raises(ScenarioError) as caught:
        scenario.load(path)
    assert caught.value.line == line
    assert message in caught.value.message


def test_what_proxy_py_logs_as_a_failure_is_one_event_of_its_connection(capfd: pytest.CaptureFixture[str]) -> None:
    import logging
    import threading

    from lab.hosts import proxyworker

    events: list[PeerError] = []

    class Conn:
        def emit(self, event: PeerError) -> None:
            events.append(event)

    def worker() -> None:
        proxyworker._worker.conn = Conn()
        try:
            b"\xff".decode()
        except UnicodeDecodeError as exc:
            logging.getLogger("proxy.http.handler").exception("Exception while handling connection", exc_info=exc)
        logging.getLogger("proxy.http.proxy.server").warning("a refusal proxy.py would print")

    proxyworker.quiet_proxy_logs()
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert [e.summary for e in events] == [
        "the proxy could not handle this connection: 'utf-8' codec can't decode byte 0xff in position 0: "
        "invalid start byte"
    ]
    assert capfd.readouterr().err == ""

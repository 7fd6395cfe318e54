"""The SOCKS5 state machine without sockets: bytes in, (bytes out, request) back. Tables of exchanges."""

from __future__ import annotations

import pytest

from lab.protocols.socks5 import (
    ADDRESS_TYPE_NOT_SUPPORTED,
    COMMAND_NOT_SUPPORTED,
    HOST_UNREACHABLE,
    SUCCEEDED,
    ConnectRequest,
    Socks5Error,
    Socks5Server,
)

GREET_NO_AUTH = b"\x05\x01\x00"
GREET_USER_PASSWORD = b"\x05\x01\x02"
PORT_443 = b"\x01\xbb"


def connect(atyp: int, address: bytes) -> bytes:
    return bytes([5, 1, 0, atyp]) + address + PORT_443


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (connect(1, bytes([88, 88, 88, 88])), ConnectRequest("88.88.88.88", 443, "ipv4")),
        (connect(3, b"\x08mydomain"), ConnectRequest("mydomain", 443, "domain")),
        (connect(4, bytes(15) + b"\x01"), ConnectRequest("::1", 443, "ipv6")),
    ],
)
def test_connect_requests_by_address_type(request_bytes: bytes, expected: ConnectRequest) -> None:
    server = Socks5Server()
    assert server.receive_data(GREET_NO_AUTH) == (b"\x05\x00", None)
    assert server.receive_data(request_bytes) == (b"", expected)
    assert server.reply(SUCCEEDED) == b"\x05\x00\x00\x01" + bytes(6)
    assert server.tunnel


def test_targets_are_written_as_curl_would() -> None:
    assert ConnectRequest("::1", 443, "ipv6").target == "[::1]:443"
    assert ConnectRequest("mydomain", 443, "domain").target == "mydomain:443"


def test_byte_at_a_time_and_early_tunnel_bytes() -> None:
    server = Socks5Server()
    stream = GREET_NO_AUTH + connect(3, b"\x08mydomain") + b"\x16\x03\x01"  # ClientHello sent too early
    replies = [server.receive_data(stream[i : i + 1]) for i in range(len(stream))]
    assert b"".join(out for out, _ in replies) == b"\x05\x00"
    assert [req for _, req in replies if req] == [ConnectRequest("mydomain", 443, "domain")]
    server.reply(SUCCEEDED)
    assert server.take_buffered() == b"\x16\x03\x01"


def test_refused_request_closes() -> None:
    server = Socks5Server()
    server.receive_data(GREET_NO_AUTH + connect(3, b"\x06nosuch"))
    assert server.reply(HOST_UNREACHABLE)[1] == HOST_UNREACHABLE
    assert server.closed
    assert not server.tunnel
    with pytest.raises(RuntimeError, match="state CLOSED"):
        server.reply(SUCCEEDED)


@pytest.mark.parametrize(
    ("request_bytes", "code", "why"),
    [
        (b"\x05\x02\x00\x01" + bytes(6), COMMAND_NOT_SUPPORTED, "BIND is not supported"),
        (b"\x05\x03\x00\x03\x08mydomain" + PORT_443, COMMAND_NOT_SUPPORTED, "UDP ASSOCIATE is not supported"),
        (b"\x05\x09\x00\x04" + bytes(18), COMMAND_NOT_SUPPORTED, "command 0x09 is not supported"),
        (b"\x05\x02\x00\x07", COMMAND_NOT_SUPPORTED, "BIND is not supported"),  # the command decides first
        (b"\x05\x01\x00\x09", ADDRESS_TYPE_NOT_SUPPORTED, "unknown address type 0x09"),
    ],
)
def test_requests_this_server_does_not_serve_get_rfc_1928_replies(request_bytes: bytes, code: int, why: str) -> None:
    """RFC 1928 section 6: X'07' command not supported, X'08' address type not supported; then close."""
    server = Socks5Server()
    server.receive_data(GREET_NO_AUTH)
    *pieces, last = [request_bytes[i : i + 1] for i in range(len(request_bytes))]
    assert [server.receive_data(p) for p in pieces] == [(b"", None)] * len(pieces)  # no answer to half a request
    assert server.receive_data(last) == (bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]), None)
    assert server.closed
    assert server.refusal_code == code
    assert why in (server.refusal or "")


@pytest.mark.parametrize(
    ("auth", "expected_reply", "user", "closed"),
    [
        (b"\x01\x05alice\x06s3cret", b"\x01\x00", "alice", False),
        (b"\x01\x05alice\x05wrong", b"\x01\x01", None, True),
    ],
)
def test_user_password(auth: bytes, expected_reply: bytes, user: str | None, closed: bool) -> None:
    server = Socks5Server(("alice", "s3cret"))
    assert server.receive_data(GREET_USER_PASSWORD) == (b"\x05\x02", None)
    out, request = server.receive_data(auth + connect(3, b"\x08mydomain"))
    assert out == expected_reply
    assert server.user == user
    assert server.closed is closed
    assert (request is None) is closed
    assert server.refusal == ("wrong user or password for user 'alice'" if closed else None)


@pytest.mark.parametrize(
    ("credentials", "greeting", "needs"),
    [
        (("alice", "s3cret"), GREET_NO_AUTH, "user/password"),  # curl socks5h:// without user:password@
        (None, GREET_USER_PASSWORD, "no authentication"),
        (None, b"\x05\x00", "no authentication"),
    ],
)
def test_no_acceptable_method(credentials: tuple[str, str] | None, greeting: bytes, needs: str) -> None:
    server = Socks5Server(credentials)
    assert server.receive_data(greeting) == (b"\x05\xff", None)
    assert server.closed
    assert needs in (server.refusal or "")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "first byte is 0x47"),
        (b"\x04\x01\x01\xbb\x7f\x00\x00\x01\x00", "first byte is 0x04"),  # SOCKS4
        (b"\x16\x03\x01\x00\xff", "first byte is 0x16"),  # TLS straight at the SOCKS port
        (GREET_NO_AUTH + b"\x04\x01\x00\x01", "bad request version 0x04"),
        (GREET_NO_AUTH + b"\x05\x01\x00\x03\x00" + PORT_443, "domain name is empty"),
        (GREET_NO_AUTH + b"\x05\x01\x00\x03\x02\xff\xfe" + PORT_443, "not ASCII"),
    ],
)
def test_garbage_raises_a_clear_error(data: bytes, message: str) -> None:
    server = Socks5Server()
    with pytest.raises(Socks5Error, match=message):
        server.receive_data(data)
    assert server.closed


def test_bad_auth_version() -> None:
    server = Socks5Server(("alice", "s3cret"))
    server.receive_data(GREET_USER_PASSWORD)
    with pytest.raises(Socks5Error, match="sub-negotiation version 0x05"):
        server.receive_data(b"\x05\x05alice\x06s3cret")

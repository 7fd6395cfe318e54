#!/usr/bin/env python3
"""Regenerate the pasted-transcript corpus with the real curl against independent servers.

Theory of operation
-------------------
Every transcript in this folder is one (or a few) real ``curl -v`` runs, made by this script, against
servers that are *not* the lab's code: small stdlib-Python servers (TLS origins, a resetting host, a
host that answers the ClientHello with an alert, a relay that hangs up after the ServerHello, a silent
host, an HTTP CONNECT/forward proxy, an HTTPS proxy, a SOCKS5 server, plain HTTP origins) and
``openssl s_server`` (the mTLS load balancer and a TLS-1.3-only host).

1. ``pki()`` makes the certificates with ``cryptography`` into the scratch folder (never into the repo).
2. ``World`` creates the network namespace ``corpus`` with every address on its ``lo`` and writes
   ``/etc/netns/corpus/{hosts,resolv.conf,nsswitch.conf,ssl/}``; ``ip netns exec`` bind-mounts those
   over ``/etc``, so curl's default trust store is the corpus root CA and its hosts file is ``HOSTS``.
   Nothing can leave the namespace: it has only ``lo``.
3. The servers run inside the namespace (``generate.py serve`` is the stdlib part) and append what they
   saw (SNI, CONNECT line, SOCKS request, proxy DNS answer) to a JSON-lines log.
4. Each case runs its commands through ``sh -c`` inside the namespace, on a pseudo-terminal (or a
   pipe, where the paste should carry curl's progress meter), exactly as a user would type them:
   ``curl`` is the system curl 7.88.1 or, with the curl-8 folder first on PATH, curl 8.14.1; the
   by-path forms (``./curl``, ``/usr/local/curl/bin/curl``, ``/home/linuxbrew/.linuxbrew/bin/curl``,
   ``curl.exe``) are real files in the run's private mount namespace that start curl 8.14.1.
5. ``render()`` turns the captured terminal text into a paste (prompt, fences, prose, redaction, a
   partial tail, CRLF ...) and ``manifest.toml`` records the facts: the command that ran, the real exit
   code, the error line, who answered, the world.

Usage (root, Linux, iproute2, openssl, curl; ``cryptography`` importable)::

    python3 generate.py --curl8 /work/scratch/curl8 --scratch /work/scratch/corpus
    python3 generate.py ... --only 010,011          # regenerate some files (manifest entries kept)
    python3 generate.py ... --repeat 20 --only 010  # count exit codes of a racy case, write nothing
"""

# The case table keeps one case per few lines, so some rows run past the line length.
# ruff: noqa: E501

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import fcntl
import ipaddress
import json
import os
import pty
import re
import selectors
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import termios
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
NS = "corpus"
PROXY_PASSWORD = "Winter2024!"

# ----------------------------------------------------------------------------------------------------
# The world
# ----------------------------------------------------------------------------------------------------

ADDRESSES = [
    "88.88.88.88", "10.1.1.1", "198.0.8.245", "198.0.8.246", "203.0.113.5", "203.0.113.6",
    "203.0.113.7", "192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.14",
    "10.9.9.9", "10.3.3.3", "10.3.3.4", "10.5.5.5",
]  # fmt: skip

# The client's hosts file (like the seed: public DNS sends mydomain to a host that hangs up).
HOSTS = {
    "mydomain": "198.0.8.245",
    "www.mydomain": "198.0.8.246",
    "app.mydomain": "10.1.1.1",
    "api.mydomain": "10.5.5.5",
    "staging.mydomain": "192.0.2.12",
    "slow.mydomain": "192.0.2.13",
    "api.partner.test": "203.0.113.5",
    "jenkins.corp.internal": "203.0.113.6",
    "legacy.shop.test": "203.0.113.7",
    "gw.partner.test": "192.0.2.10",
    "tls13.partner.test": "192.0.2.11",
    "proxy.corp": "10.9.9.9",
    "shop.test": "10.3.3.3",
    "www.shop.test": "10.3.3.4",
}

# What the proxies' own DNS says (it is not the client's hosts file).
PROXY_DNS = {
    "mydomain": "10.1.1.1",
    "app.mydomain": "10.1.1.1",
    "api.partner.test": "203.0.113.5",
    "shop.test": "10.3.3.3",
    "www.shop.test": "10.3.3.4",
    "dead.internal": "192.0.2.14",
    "proxy.corp": "10.9.9.9",
}

SERVERS: dict[str, dict[str, object]] = {
    "glb": {
        "address": "88.88.88.88:443", "role": "glb", "cert_names": ["mydomain"],
        "behaviour": "openssl s_server -Verify 1 -verify_return_error: requires a client certificate "
        "issued by 'Corpus Client CA' (clientAuth); serves /healthz",
    },
    "old": {"address": "10.1.1.1:443", "role": "old", "cert_names": ["mydomain"],
            "behaviour": "stale TLS origin (Python ssl), no client certificate asked, HTTP 200 for any path"},
    "mtls-api": {"address": "10.5.5.5:443", "role": "mtls-api", "cert_names": ["api.mydomain"],
                 "behaviour": "Python ssl server requiring a client certificate from 'Corpus Client CA'; "
                 "closes the socket the moment the handshake fails (no linger)"},
    "reset": {"address": "198.0.8.245:443", "role": "reset",
              "behaviour": "reads the ClientHello, then closes the connection (FIN)"},
    "rst": {"address": "198.0.8.246:443", "role": "rst",
            "behaviour": "reads the ClientHello, then resets the connection (RST, SO_LINGER 0)"},
    "partner": {"address": "203.0.113.5:443", "role": "partner", "cert_names": ["api.partner.test"],
                "behaviour": "TLS origin whose certificate is issued by 'Partner Issuing CA', "
                "which the client does not trust"},
    "jenkins": {"address": "203.0.113.6:443", "role": "jenkins", "cert_names": ["jenkins.corp.internal"],
                "behaviour": "TLS origin with a self-signed certificate"},
    "legacy": {"address": "203.0.113.7:443", "role": "legacy", "cert_names": ["legacy.shop.test"],
               "behaviour": "TLS origin whose certificate expired 30 days ago"},
    "gw": {"address": "192.0.2.10:443", "role": "gw",
           "behaviour": "reads the ClientHello, writes a fatal handshake_failure alert record, closes"},
    "tls13only": {"address": "192.0.2.11:443", "role": "tls13only", "cert_names": ["tls13.partner.test"],
                  "behaviour": "openssl s_server -tls1_3: answers a TLS 1.2 ClientHello with protocol_version"},
    "serverhello": {"address": "192.0.2.12:443", "role": "serverhello",
                    "behaviour": "relays to 10.1.1.1:443 but forwards only the ServerHello, then closes"},
    "silent": {"address": "192.0.2.13:443", "role": "silent",
               "behaviour": "accepts TCP and never sends a byte"},
    "nothing": {"address": "192.0.2.14:443", "role": "nothing", "behaviour": "nothing listens (RST)"},
    "proxy": {"address": "10.9.9.9:3128", "role": "http-proxy", "dns": PROXY_DNS,
              "behaviour": "CONNECT to port 443 only (else 403), 502 when the target refuses or is "
              "unknown, forwards absolute-URI GETs"},
    "authproxy": {"address": "10.9.9.9:3130", "role": "http-proxy-auth", "dns": PROXY_DNS,
                  "behaviour": "like 3128 but needs Basic proxy auth corp:<password>, else 407"},
    "dropproxy": {"address": "10.9.9.9:3131", "role": "http-proxy-drop",
                  "behaviour": "reads the CONNECT request and closes without a reply"},
    "httpsproxy": {"address": "10.9.9.9:3443", "role": "https-proxy", "cert_names": ["proxy.corp", "10.9.9.9"],
                   "dns": PROXY_DNS, "behaviour": "the 3128 proxy behind TLS; certificate by 'Corp Proxy CA' "
                   "(not in the client's trust store)"},
    "socks": {"address": "10.9.9.9:1080", "role": "socks5", "dns": PROXY_DNS,
              "behaviour": "SOCKS5 no-auth; ports 80/443 only (else reply 2), unknown name reply 4, "
              "refused target reply 5"},
    "dropsocks": {"address": "10.9.9.9:1081", "role": "socks5-drop",
                  "behaviour": "reads the SOCKS5 greeting and closes without the method reply"},
    "shop": {"address": "10.3.3.3:80", "role": "shop", "behaviour": "plain HTTP: 301 to http://www.shop.test/"},
    "www": {"address": "10.3.3.4:80", "role": "www",
            "behaviour": "plain HTTP: / is 302 to /en/, /en/ is 200"},
}  # fmt: skip

CURL7 = "7.88.1"
CURL8 = "8.14.1"

# ----------------------------------------------------------------------------------------------------
# Certificates (cryptography; private keys stay in the scratch folder)
# ----------------------------------------------------------------------------------------------------


def pki(out: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    out.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def key():
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def name(cn: str, org: str) -> x509.Name:
        return x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ])  # fmt: skip

    def save(stem: str, cert, k) -> None:
        (out / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        if k is not None:
            (out / f"{stem}.key").write_bytes(
                k.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.TraditionalOpenSSL,
                    serialization.NoEncryption(),
                )
            )

    def ca(stem: str, cn: str, org: str):
        k = key()
        n = name(cn, org)
        cert = (
            x509.CertificateBuilder()
            .subject_name(n)
            .issuer_name(n)
            .public_key(k.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=400))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(k.public_key()), critical=False)
            .sign(k, hashes.SHA256())
        )
        save(stem, cert, k)
        return cert, k

    def leaf(stem, issuer, cn, org, sans=(), eku=ExtendedKeyUsageOID.SERVER_AUTH, days=(-1, 90), k=None):
        k = k or key()
        sb = (
            x509.CertificateBuilder()
            .subject_name(name(cn, org))
            .issuer_name(issuer[0].subject if issuer else name(cn, org))
            .public_key(k.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + dt.timedelta(days=days[0]))
            .not_valid_after(now + dt.timedelta(days=days[1]))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        )
        if sans:
            alt = [x509.IPAddress(ipaddress.ip_address(s)) if s[0].isdigit() else x509.DNSName(s) for s in sans]
            sb = sb.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        cert = sb.sign(issuer[1] if issuer else k, hashes.SHA256())
        save(stem, cert, k)

    root = ca("root-ca", "Corpus Root CA", "Routing Lab Corpus")
    partner = ca("partner-ca", "Partner Issuing CA", "Partner Inc")
    client_ca = ca("client-ca", "Corpus Client CA", "Routing Lab Corpus")
    rogue = ca("rogue-ca", "Rogue Client CA", "Somebody Else")
    proxy_ca = ca("proxy-ca", "Corp Proxy CA", "Corp IT")
    leaf("glb", root, "mydomain", "Routing Lab Corpus", ["mydomain"])
    leaf("old", root, "mydomain", "Routing Lab Corpus", ["mydomain"], days=(-200, 200))
    leaf("partner", partner, "api.partner.test", "Partner Inc", ["api.partner.test"])
    leaf("jenkins", None, "jenkins.corp.internal", "Corp IT", ["jenkins.corp.internal"], days=(-10, 355))
    leaf("legacy", root, "legacy.shop.test", "Shop Ltd", ["legacy.shop.test"], days=(-395, -30))
    leaf("mtls-api", root, "api.mydomain", "Routing Lab Corpus", ["api.mydomain"])
    leaf("tls13only", root, "tls13.partner.test", "Partner Inc", ["tls13.partner.test"])
    leaf("proxy", proxy_ca, "proxy.corp", "Corp IT", ["proxy.corp", "10.9.9.9"])
    client = ExtendedKeyUsageOID.CLIENT_AUTH
    leaf("client", client_ca, "client-01", "Routing Lab Corpus", eku=client, days=(-1, 365))
    leaf("client-expired", client_ca, "client-2023", "Routing Lab Corpus", eku=client, days=(-400, -35))
    leaf("rogue-client", rogue, "client-01", "Somebody Else", eku=client, days=(-1, 365))
    leaf("noeku-client", client_ca, "client-02", "Routing Lab Corpus", days=(-1, 365))
    (out / "other.key").write_bytes(
        key().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    del root, partner, client_ca, rogue, proxy_ca


# ----------------------------------------------------------------------------------------------------
# Servers (stdlib only: this part runs inside the namespace as ``generate.py serve``)
# ----------------------------------------------------------------------------------------------------

_log_lock = threading.Lock()
_log_path: Path | None = None


def log(role: str, kind: str, **data: object) -> None:
    with _log_lock:
        assert _log_path is not None
        with _log_path.open("a") as f:
            f.write(json.dumps({"t": time.time(), "role": role, "kind": kind, **data}) + "\n")


def listen(addr: str, port: int) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(16)
    return s


def serve_forever(sock: socket.socket, handler, *args) -> None:
    def loop() -> None:
        while True:
            conn, _peer = sock.accept()
            threading.Thread(target=_guard, args=(handler, conn, *args), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


def _guard(handler, conn: socket.socket, *args) -> None:
    try:
        handler(conn, *args)
    except (OSError, ssl.SSLError, ValueError) as exc:
        log(getattr(handler, "__name__", "?"), "error", error=repr(exc))
    finally:
        with contextlib.suppress(OSError):
            conn.close()


def read_record(conn: socket.socket) -> bytes:
    head = recv_exact(conn, 5)
    return head + recv_exact(conn, struct.unpack("!H", head[3:5])[0])


def recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed")
        buf += chunk
    return buf


def read_head(conn) -> bytes:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            return buf
        buf += chunk
    return buf


def http_response(role: str, status: str, body: str, extra: dict[str, str] | None = None) -> bytes:
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    servers = {"old": "nginx/1.18.0", "shop": "nginx", "www": "nginx", "partner": "Apache",
               "jenkins": "Jetty(10.0.13)", "legacy": "Microsoft-IIS/8.5"}  # fmt: skip
    headers = {
        "Date": date,
        "Server": servers.get(role, "nginx"),
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Length": str(len(body.encode())),
        "X-Served-By": role,
        **(extra or {}),
    }
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def origin(conn: socket.socket, role: str, ctx: ssl.SSLContext | None, routes=None) -> None:
    if ctx is not None:
        conn = ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        conn.settimeout(10)
        try:
            conn.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            log(role, "tls-failed", error=str(exc))
            return
        log(role, "tls", version=conn.version(), sni=getattr(conn, "_corpus_sni", None))
    conn.settimeout(10)
    while True:
        head = read_head(conn)
        if not head:
            return
        line = head.split(b"\r\n", 1)[0].decode()
        _method, path, _ = line.split(" ", 2)
        host = re.search(rb"(?im)^host:\s*(\S+)", head)
        log(role, "response", request=line, host=host.group(1).decode() if host else None)
        route = (routes or {}).get(path)
        if route:
            conn.sendall(http_response(role, route[0], route[1], route[2]))
        else:
            conn.sendall(http_response(role, "200 OK", f"served by {role}\n"))


def tls_context(pki_dir: Path, stem: str, role: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki_dir / f"{stem}.crt", pki_dir / f"{stem}.key")
    ctx.set_alpn_protocols(["http/1.1"])

    def on_sni(sock, name, _ctx):
        sock._corpus_sni = name  # read back in origin()
        log(role, "clienthello", sni=name)

    ctx.sni_callback = on_sni
    return ctx


def hangup(conn: socket.socket, role: str, rst: bool) -> None:
    conn.settimeout(10)
    hello = read_record(conn)
    log(role, "clienthello", bytes=len(hello), action="rst" if rst else "close")
    if rst:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def alert(conn: socket.socket, role: str, description: int) -> None:
    conn.settimeout(10)
    read_record(conn)
    conn.sendall(bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, description]))
    log(role, "alert", description=description)
    time.sleep(0.2)


def serverhello_then_close(conn: socket.socket, role: str, upstream: tuple[str, int]) -> None:
    conn.settimeout(10)
    hello = read_record(conn)
    up = socket.create_connection(upstream, timeout=5)
    try:
        up.sendall(hello)
        rec = read_record(up)
        msg_len = int.from_bytes(rec[6:9], "big")
        only_hello = rec[5 : 5 + 4 + msg_len]
        conn.sendall(rec[:3] + struct.pack("!H", len(only_hello)) + only_hello)
        log(role, "serverhello-forwarded", bytes=len(only_hello))
        time.sleep(0.1)
    finally:
        up.close()


def silent(conn: socket.socket, role: str) -> None:
    log(role, "accepted")
    conn.settimeout(30)
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass


def pipe(a: socket.socket, b: socket.socket) -> None:
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    a.settimeout(None)
    b.settimeout(None)
    while True:
        events = sel.select(timeout=30)
        if not events:
            return
        for key, _ in events:
            try:
                data = key.fileobj.recv(65536)
            except (OSError, ssl.SSLError):
                return
            if not data:
                return
            key.data.sendall(data)


def lookup(host: str) -> str | None:
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        return PROXY_DNS.get(host.lower())


def http_proxy(conn: socket.socket, role: str, mode: str, ctx: ssl.SSLContext | None = None) -> None:
    if ctx is not None:
        conn = ctx.wrap_socket(conn, server_side=True)
    conn.settimeout(10)
    head = read_head(conn)
    if not head:
        return
    text = head.decode("latin-1")
    line = text.split("\r\n", 1)[0]
    method, target, _ = line.split(" ", 2)
    log(role, "request", line=line, proxy_auth="Proxy-Authorization" in text)
    if mode == "drop":
        log(role, "dropped", line=line)
        return

    def refuse(status: str, body: str, extra: dict[str, str] | None = None) -> None:
        log(role, "refused", status=status, target=target)
        date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
        hdrs = {"Server": "corp-proxy/1.0", "Date": date, "Content-Type": "text/plain",
                "Content-Length": str(len(body)), **(extra or {}), "Connection": "close"}  # fmt: skip
        conn.sendall(
            (f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n" + body).encode()
        )

    if mode == "auth":
        want = "Basic " + base64.b64encode(f"corp:{PROXY_PASSWORD}".encode()).decode()
        got = re.search(r"(?im)^proxy-authorization:\s*(.+?)\r$", text)
        if not got or got.group(1) != want:
            refuse("407 Proxy Authentication Required", "proxy authentication required\n",
                   {"Proxy-Authenticate": 'Basic realm="corp-proxy"'})  # fmt: skip
            return
    if method == "CONNECT":
        host, _, port_s = target.rpartition(":")
        host = host.strip("[]")
        port = int(port_s)
        if port != 443:
            refuse("403 Forbidden", f"CONNECT to port {port} is not allowed\n")
            return
        ip = lookup(host)
        log(role, "tunnel", target=target, resolved=ip)
        if ip is None:
            refuse("502 Bad Gateway", f"cannot resolve {host}\n")
            return
        try:
            up = socket.create_connection((ip, port), timeout=3)
        except OSError as exc:
            refuse("502 Bad Gateway", f"cannot connect to {ip}:{port}: {exc.strerror}\n")
            return
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with up:
            pipe(conn, up)
        return
    m = re.match(r"http://([^/:]+)(?::(\d+))?(/.*)?$", target)
    if not m:
        refuse("400 Bad Request", "bad request\n")
        return
    host, port, path = m.group(1), int(m.group(2) or 80), m.group(3) or "/"
    ip = lookup(host)
    log(role, "forward", target=target, resolved=ip)
    if ip is None:
        refuse("502 Bad Gateway", f"cannot resolve {host}\n")
        return
    keep = [h for h in text.split("\r\n")[1:] if h and not h.lower().startswith(("proxy-", "connection"))]
    req = "\r\n".join([f"{method} {path} HTTP/1.1", *keep, "Via: 1.1 proxy.corp", "Connection: close"]) + "\r\n\r\n"
    with socket.create_connection((ip, port), timeout=3) as up:
        up.sendall(req.encode())
        while True:
            data = up.recv(65536)
            if not data:
                break
            conn.sendall(data)


def socks5(conn: socket.socket, role: str, mode: str) -> None:
    conn.settimeout(10)
    ver, n = recv_exact(conn, 2)
    recv_exact(conn, n)
    log(role, "greeting", version=ver)
    if mode == "drop":
        log(role, "dropped")
        return
    conn.sendall(b"\x05\x00")
    _, _cmd, _, atyp = recv_exact(conn, 4)
    if atyp == 1:
        host = socket.inet_ntoa(recv_exact(conn, 4))
    elif atyp == 3:
        host = recv_exact(conn, recv_exact(conn, 1)[0]).decode()
    else:
        host = socket.inet_ntop(socket.AF_INET6, recv_exact(conn, 16))
    port = struct.unpack("!H", recv_exact(conn, 2))[0]

    def reply(code: int) -> None:
        conn.sendall(bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]))

    ip = lookup(host)
    log(role, "request", atyp=atyp, target=f"{host}:{port}", resolved=ip)
    if port not in (80, 443):
        log(role, "reply", code=2)
        reply(2)
        return
    if ip is None:
        log(role, "reply", code=4)
        reply(4)
        return
    try:
        up = socket.create_connection((ip, port), timeout=3)
    except ConnectionRefusedError:
        log(role, "reply", code=5)
        reply(5)
        return
    except OSError:
        log(role, "reply", code=4)
        reply(4)
        return
    log(role, "reply", code=0)
    reply(0)
    with up:
        pipe(conn, up)


def serve(pki_dir: Path, log_path: Path) -> None:
    global _log_path
    _log_path = log_path
    ctx = {k: tls_context(pki_dir, k, k) for k in ("old", "partner", "jenkins", "legacy")}
    proxy_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    proxy_ctx.load_cert_chain(pki_dir / "proxy.crt", pki_dir / "proxy.key")
    serve_forever(listen("10.1.1.1", 443), origin, "old", ctx["old"])
    strict = tls_context(pki_dir, "mtls-api", "mtls-api")
    strict.verify_mode = ssl.CERT_REQUIRED
    strict.load_verify_locations(pki_dir / "client-ca.crt")
    serve_forever(listen("10.5.5.5", 443), origin, "mtls-api", strict)
    serve_forever(listen("203.0.113.5", 443), origin, "partner", ctx["partner"])
    serve_forever(listen("203.0.113.6", 443), origin, "jenkins", ctx["jenkins"])
    serve_forever(listen("203.0.113.7", 443), origin, "legacy", ctx["legacy"])
    serve_forever(listen("198.0.8.245", 443), hangup, "reset", False)
    serve_forever(listen("198.0.8.246", 443), hangup, "rst", True)
    serve_forever(listen("192.0.2.10", 443), alert, "gw", 40)
    serve_forever(listen("192.0.2.12", 443), serverhello_then_close, "serverhello", ("10.1.1.1", 443))
    serve_forever(listen("192.0.2.13", 443), silent, "silent")
    serve_forever(listen("10.9.9.9", 3128), http_proxy, "proxy", "open")
    serve_forever(listen("10.9.9.9", 3130), http_proxy, "authproxy", "auth")
    serve_forever(listen("10.9.9.9", 3131), http_proxy, "dropproxy", "drop")
    serve_forever(listen("10.9.9.9", 3443), http_proxy, "httpsproxy", "open", proxy_ctx)
    serve_forever(listen("10.9.9.9", 1080), socks5, "socks", "open")
    serve_forever(listen("10.9.9.9", 1081), socks5, "dropsocks", "drop")
    moved = ("301 Moved Permanently", "moved\n", {"Location": "http://www.shop.test/"})
    serve_forever(listen("10.3.3.3", 80), origin, "shop", None, {"/": moved})
    found = ("302 Found", "see /en/\n", {"Location": "/en/"})
    serve_forever(listen("10.3.3.4", 80), origin, "www", None, {"/": found})
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


# ----------------------------------------------------------------------------------------------------
# The namespace and the processes in it
# ----------------------------------------------------------------------------------------------------


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, text=True, capture_output=True)


class World:
    def __init__(self, scratch: Path, curl8: Path) -> None:
        self.scratch = scratch
        self.curl8 = curl8
        self.pki = scratch / "pki"
        self.client = scratch / "client"
        self.bin8 = scratch / "bin8"
        self.log = scratch / "servers.jsonl"
        self.etc = Path("/etc/netns") / NS
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> World:
        if not (self.pki / "root-ca.crt").exists():
            pki(self.pki)
        self._client_files()
        sh("ip", "netns", "del", NS, check=False)
        sh("ip", "netns", "add", NS)
        sh("ip", "-n", NS, "link", "set", "lo", "up")
        for a in ADDRESSES:
            sh("ip", "-n", NS, "addr", "add", f"{a}/32", "dev", "lo")
        shutil.rmtree(self.etc, ignore_errors=True)
        (self.etc / "ssl" / "certs").mkdir(parents=True)
        hosts = "127.0.0.1\tlocalhost\n" + "".join(f"{ip}\t{n}\n" for n, ip in HOSTS.items())
        (self.etc / "hosts").write_text(hosts)
        (self.etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")  # nothing answers: names fail fast
        (self.etc / "nsswitch.conf").write_text("hosts: files dns\n")
        shutil.copy("/etc/ssl/openssl.cnf", self.etc / "ssl" / "openssl.cnf")
        shutil.copy(self.pki / "root-ca.crt", self.etc / "ssl" / "certs" / "ca-certificates.crt")
        self.log.write_text("")
        self._start([sys.executable, __file__, "serve", "--pki", str(self.pki), "--log", str(self.log)])
        www = self.scratch / "www"
        www.mkdir(exist_ok=True)
        (www / "healthz").write_bytes(
            b"HTTP/1.1 200 OK\r\nServer: Google Frontend\r\nContent-Type: text/plain\r\n"
            b"X-Served-By: glb\r\nContent-Length: 14\r\n\r\nserved by glb\n"
        )
        p = self.pki
        self._start(["openssl", "s_server", "-accept", "88.88.88.88:443", "-cert", f"{p}/glb.crt",
                     "-key", f"{p}/glb.key", "-Verify", "1", "-verifyCAfile", f"{p}/client-ca.crt",
                     "-CAfile", f"{p}/client-ca.crt", "-verify_return_error", "-HTTP"], cwd=www)  # fmt: skip
        self._start(["openssl", "s_server", "-accept", "192.0.2.11:443", "-cert", f"{p}/tls13only.crt",
                     "-key", f"{p}/tls13only.key", "-tls1_3", "-HTTP"], cwd=www)  # fmt: skip
        time.sleep(1.0)
        return self

    def _start(self, argv: list[str], cwd: Path | None = None) -> None:
        out = open(self.scratch / f"proc{len(self.procs)}.log", "wb")  # noqa: SIM115
        self.procs.append(
            subprocess.Popen(["ip", "netns", "exec", NS, *argv], stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        )

    def _client_files(self) -> None:
        """The client's working folder (certificates under the names people use) and the curl-8 launchers."""
        self.client.mkdir(parents=True, exist_ok=True)
        names = {"client.crt": "client.crt", "client.key": "client.key", "client-2023.crt": "client-expired.crt",
                 "client-2023.key": "client-expired.key", "rogue.crt": "rogue-client.crt", "rogue.key": "rogue-client.key",
                 "client-02.crt": "noeku-client.crt", "client-02.key": "noeku-client.key", "other.key": "other.key",
                 "proxy-ca.pem": "proxy-ca.crt"}  # fmt: skip
        for dst, src in names.items():
            shutil.copy(self.pki / src, self.client / dst)
        self.bin8.mkdir(exist_ok=True)
        lib = self.curl8 / "usr/lib/x86_64-linux-gnu"
        launcher = f'#!/bin/sh\nLD_LIBRARY_PATH={lib} exec {self.curl8}/usr/bin/curl "$@"\n'
        for name in ("curl", "curl.exe"):
            (self.bin8 / name).write_text(launcher)
            (self.bin8 / name).chmod(0o755)
        link = self.client / "curl"
        if not link.exists():
            link.symlink_to(self.bin8 / "curl")

    def __exit__(self, *exc: object) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        sh("ip", "netns", "del", NS, check=False)
        shutil.rmtree(self.etc, ignore_errors=True)
        with contextlib.suppress(OSError):
            Path("/etc/netns").rmdir()

    def log_mark(self) -> int:
        return self.log.stat().st_size

    def log_since(self, mark: int) -> list[dict[str, object]]:
        with self.log.open() as f:
            f.seek(mark)
            return [json.loads(line) for line in f if line.strip()]

    def run(self, run: Run, curl: str) -> tuple[int, str]:
        """One command in the namespace, on a pseudo-terminal (or a pipe): (exit code, what the screen shows)."""
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.client), "TERM": "xterm", "LANG": "C.UTF-8"}
        if curl == CURL8:
            env["PATH"] = f"{self.bin8}:{env['PATH']}"
        env.update(run.env)
        prelude = [f"cd {self.client}"]
        if "/usr/local/curl/bin/curl" in run.cmd:
            prelude += ["mount -t tmpfs tmpfs /usr/local", "mkdir -p /usr/local/curl/bin",
                        f"ln -s {self.bin8}/curl /usr/local/curl/bin/curl"]  # fmt: skip
        if "/home/linuxbrew/" in run.cmd:
            prelude += ["mount -t tmpfs tmpfs /home", "mkdir -p /home/linuxbrew/.linuxbrew/bin",
                        f"ln -s {self.bin8}/curl /home/linuxbrew/.linuxbrew/bin/curl"]  # fmt: skip
        script = " && ".join(prelude) + "\n" + "".join(f"{k}={v}\n" for k, v in run.shell_vars.items()) + run.cmd
        argv = ["ip", "netns", "exec", NS, "sh", "-c", script]
        if not run.tty:
            p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            return p.returncode, p.stdout.decode("utf-8", "replace")
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        p2 = subprocess.Popen(argv, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        code = p2.wait(60)
        return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


# ----------------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------------


@dataclass
class Run:
    cmd: str  # what the shell ran (and, unless ``show`` says otherwise, what the paste shows)
    show: str | None = None  # the command line as pasted (continuations, comments, variables)
    env: dict[str, str] = field(default_factory=dict)
    shell_vars: dict[str, str] = field(default_factory=dict)
    before: list[str] = field(default_factory=list)  # lines pasted before the command (export ...)
    tty: bool = True
    prompt: str | None = None  # overrides the case's prompt for this run


@dataclass
class Case:
    slug: str
    situation: str
    curl: str
    runs: list[Run]
    servers: list[str]
    prompt: str = "$ "
    show_cmd: bool = True
    fence: str | None = None  # "```", "```console", "indent", None
    prose_before: str = ""
    prose_after: str = ""
    tail: int | None = None
    redact: list[tuple[str, str]] = field(default_factory=list)
    crlf: bool = False
    trailing_ws: bool = False
    style: list[str] = field(default_factory=list)  # extra paste_style names
    expect: int | None = None
    error: str | None = None  # override of the stable error substring
    note: str = ""  # e.g. what a racy case gave over repeated runs
    n: int = 0  # the file's number: its place in CASES

    @property
    def file(self) -> str:
        return f"{self.n:03d}-{self.slug}.txt"


def R(cmd: str, **kw) -> Run:  # reads like a table
    return Run(cmd, **kw)


CERT = "--cert client.crt --key client.key"
PIN = "--resolve mydomain:443:88.88.88.88"

CASES: list[Case] = [
    # ---- 1. server certificates ---------------------------------------------------------------------
    Case("ip-url-name-mismatch", "HTTPS to the load balancer's IP: the certificate names mydomain, not the IP.",
         CURL7, [R("curl -v https://88.88.88.88")], ["glb"], fence="```", expect=60,
         prose_before="Hi team, hitting the LB directly by IP fails, output below:\n"),
    Case("ip-url-name-mismatch-macos-prompt", "Same IP URL with curl 8 and -vvv, which curl 8 turns into a "
         "timestamped trace with hex dumps; the mismatch line names an ipv4 address.",
         CURL8, [R("curl -vvv https://88.88.88.88")], ["glb"], prompt="% ", fence="```console", expect=60,
         style=["curl8-vvv-trace"],
         prose_after="\nThe cert is definitely for mydomain, so why does it complain?\n"),
    Case("wrong-name-on-cert", "A name whose host serves a certificate for another name (app.mydomain vs mydomain).",
         CURL8, [R("curl -v https://app.mydomain/")], ["old"], prompt="user@box:~$ ", fence="indent", expect=60,
         prose_before="Our app subdomain started failing after the migration:\n\n"),
    Case("self-signed", "A self-signed certificate (TLS 1.2).",
         CURL7, [R("curl -v --tls-max 1.2 https://jenkins.corp.internal/login")], ["jenkins"],
         prompt="[root@bastion ~]# ", expect=60,
         prose_after="\nwhy does it say self signed? the browser just shows a warning and lets me through\n"),
    Case("unknown-issuer", "A certificate from an issuer the client does not trust.",
         CURL8, [R("curl -sS -v https://api.partner.test/health")], ["partner"], prompt="#", expect=60),
    Case("expired-server-cert-redacted", "An expired server certificate, hostname redacted as example.com.",
         CURL7, [R("curl --verbose https://legacy.shop.test/")], ["legacy"], fence="```", expect=60,
         redact=[("legacy.shop.test", "www.example.com"), ("203.0.113.7", "x.x.x.x"), ("Shop Ltd", "<redacted>")],
         prose_before="Cert expired on our side? Sanitized output:\n"),
    Case("expired-server-cert-tail", "An expired server certificate over TLS 1.2; only the last lines pasted.",
         CURL8, [R("curl -v --tls-max 1.2 -o /dev/null https://legacy.shop.test/", tty=False)], ["legacy"],
         show_cmd=False, tail=10, fence="```", expect=60, style=["progress-meter"],
         prose_before="last part of the output:\n"),
    Case("self-signed-insecure-ok", "-k against the self-signed host: the request goes through.",
         CURL7, [R("curl -k -v https://jenkins.corp.internal/login")], ["jenkins"], prompt="# ", expect=0),
    Case("wrong-name-on-cert-curl7", "The wrong-name mismatch with curl 7.88.1 (its wording says 'host name').",
         CURL7, [R("curl -v https://app.mydomain/api")], ["old"], prompt="$ ", expect=60),
    # ---- 2. mTLS ------------------------------------------------------------------------------------
    Case("mtls-no-client-cert-tls13", "-k to the mTLS load balancer by IP without a client certificate (TLS 1.3).",
         CURL7, [R("curl -k -v https://88.88.88.88/healthz")], ["glb"], fence="```", expect=56,
         prose_before="With -k it gets further but still dies:\n"),
    Case("mtls-no-client-cert-tls13-pinned", "Pinned name, no client certificate, TLS 1.3, curl 8.",
         CURL8, [R(f"curl -v {PIN} https://mydomain/healthz")], ["glb"], prompt="% ", expect=56),
    Case("mtls-no-client-cert-tls12", "No client certificate with TLS 1.2: the server's alert fails the handshake.",
         CURL7, [R(f"curl -v --tls-max 1.2 {PIN} https://mydomain/healthz")], ["glb"],
         prompt="[root@host ~]# ", fence="```", expect=35),
    Case("mtls-no-client-cert-tls12-no-cmd", "No client certificate with TLS 1.2, curl 8; pasted without the command.",
         CURL8, [R(f"curl -v --tls-max 1.2 {PIN} https://mydomain/healthz")], ["glb"], show_cmd=False,
         fence="```", expect=35, prose_before="this is what we get from the jump host:\n"),
    Case("mtls-untrusted-client-cert", "A client certificate from a CA the load balancer does not trust (TLS 1.3).",
         CURL8, [R(f"curl -v {PIN} --cert rogue.crt --key rogue.key https://mydomain/healthz")], ["glb"],
         fence="```", expect=56),
    Case("mtls-untrusted-client-cert-tls12", "Untrusted client certificate over TLS 1.2 (unknown ca alert).",
         CURL7, [R(f"curl -v --tls-max 1.2 {PIN} --cert rogue.crt --key rogue.key https://mydomain/healthz",
                   show=f"curl -v --tls-max 1.2 \\\n  {PIN} \\\n  --cert rogue.crt --key rogue.key \\\n  https://mydomain/healthz")],
         ["glb"], expect=35, style=["backslash-continuation"]),
    Case("mtls-expired-client-cert", "An expired client certificate (TLS 1.3).",
         CURL7, [R(f"curl -v {PIN} --cert client-2023.crt --key client-2023.key https://mydomain/healthz")],
         ["glb"], prompt="user@box:~$ ", fence="```", expect=56),
    Case("mtls-expired-client-cert-tls12", "An expired client certificate over TLS 1.2, curl 8: the server's certificate_expired alert "
         "makes curl report 60, as if the server's certificate had failed.",
         CURL8, [R(f"curl -v --tls-max 1.2 {PIN} --cert client-2023.crt --key client-2023.key https://mydomain/healthz")],
         ["glb"], prompt="[root@bastion ~]# ", fence="```", expect=60),
    Case("mtls-expired-client-cert-tls12-curl7", "An expired client certificate over TLS 1.2 with curl 7.88.1: also 60 "
         "(the certificate_expired alert).",
         CURL7, [R(f"curl -v --tls-max 1.2 {PIN} --cert client-2023.crt --key client-2023.key https://mydomain/healthz")],
         ["glb"], prompt="$ ", fence="```", expect=60),
    Case("mtls-client-cert-without-clientauth", "A client certificate without the clientAuth extended key usage.",
         CURL8, [R(f"curl -v {PIN} --cert client-02.crt --key client-02.key https://mydomain/healthz")], ["glb"],
         prompt="$ ", fence="indent", expect=56),
    Case("mtls-fastclose-no-client-cert", "No client certificate (TLS 1.3) to a server that closes at once when the handshake fails.",
         CURL7, [R("curl -v https://api.mydomain/v1/status")], ["mtls-api"], prompt="$ ", fence="```",
         note="racy: 60 runs gave exit 55 (getpeername() failed with errno 107) 45 times, "
         "exit 56 (tlsv13 alert certificate required) 15 times"),
    Case("mtls-fastclose-no-client-cert-curl8", "No client certificate (TLS 1.3) to the fast-closing server, curl 8.",
         CURL8, [R("curl -v https://api.mydomain/v1/status")], ["mtls-api"], prompt="% ",
         note="racy: 60 runs gave exit 55 (Send failure: Connection reset by peer) 32 times, "
         "exit 56 (tlsv13 alert certificate required) 28 times"),
    Case("mtls-wrong-key", "--key does not belong to --cert: curl fails before the handshake.",
         CURL7, [R(f"curl -v {PIN} --cert client.crt --key other.key https://mydomain/healthz")], ["glb"],
         prompt="$ ", expect=58),
    Case("mtls-wrong-key-by-path", "Wrong key with a curl 8 built into /usr/local/curl.",
         CURL8, [R(f"/usr/local/curl/bin/curl -v {PIN} --cert client.crt --key other.key https://mydomain/healthz")],
         ["glb"], prompt="[root@host ~]# ", fence="```", expect=58, style=["curl-by-path"]),
    Case("mtls-success", "The name pinned to the load balancer with a valid client certificate: HTTP 200.",
         CURL7, [R(f"curl -v {PIN} {CERT} https://mydomain/healthz")], ["glb"], fence="```", expect=0),
    Case("mtls-success-shell-vars", "Success over TLS 1.2 with shell variables in the arguments.",
         CURL8, [R("curl -v --tls-max 1.2 --resolve $HOST:443:$IP --cert $CERT --key $KEY https://$HOST/healthz",
                   shell_vars={"HOST": "mydomain", "IP": "88.88.88.88", "CERT": "client.crt", "KEY": "client.key"},
                   before=["HOST=mydomain", "IP=88.88.88.88", "CERT=client.crt KEY=client.key"])],
         ["glb"], fence="```bash", expect=0, style=["shell-vars"]),
    Case("mtls-three-commands", "The seed story in one paste: IP URL (60), -k without a cert, then pinned with a cert.",
         CURL7, [R("curl -v https://88.88.88.88"), R("curl -v -k https://88.88.88.88/healthz"),
                 R(f"curl -v {PIN} {CERT} https://mydomain/healthz")],
         ["glb"], fence="```", expect=0, style=["multi-command"],
         prose_before="Three attempts, in order. Only the last one works and I don't understand why the first two don't:\n"),
    # ---- 3. connection failures ---------------------------------------------------------------------
    Case("reset-after-clienthello", "Client DNS sends mydomain to a host that hangs up after the ClientHello.",
         CURL7, [R("curl -v https://mydomain")], ["reset"], fence="```", expect=35,
         prose_before="From my laptop:\n"),
    Case("reset-after-clienthello-curl8", "The same hang-up after the ClientHello with curl 8.",
         CURL8, [R("curl -v https://mydomain  # public DNS, no --resolve")], ["reset"], prompt="% ", expect=35,
         style=["trailing-comment"]),
    Case("rst-after-clienthello", "A host that answers the ClientHello with a TCP RST.",
         CURL7, [R("curl -vvv https://www.mydomain")], ["rst"], prompt="# ", expect=35),
    Case("rst-after-clienthello-curl8", "TCP RST after the ClientHello, curl 8, TLS 1.2; output only.",
         CURL8, [R("curl -v --tls-max 1.2 https://www.mydomain")], ["rst"], show_cmd=False, expect=35),
    Case("alert-handshake-failure", "A host that sends a fatal handshake_failure alert right after the ClientHello.",
         CURL7, [R("curl -v https://gw.partner.test/api/v1/ping")], ["gw"], fence="```", expect=35),
    Case("alert-handshake-failure-curl8", "handshake_failure alert, curl 8.",
         CURL8, [R("curl -v https://gw.partner.test/api/v1/ping")], ["gw"], prompt="$ ", expect=35,
         prose_after="\nThe partner says their side is fine. Any idea?\n"),
    Case("alert-protocol-version", "A TLS-1.3-only openssl s_server asked for at most TLS 1.2.",
         CURL8, [R("curl -v --tls-max 1.2 https://tls13.partner.test/")], ["tls13only"], fence="```", expect=35),
    Case("alert-protocol-version-curl7", "TLS 1.3-only host, curl 7.88.1 with --tlsv1.2 --tls-max 1.2.",
         CURL7, [R("curl -v --tlsv1.2 --tls-max 1.2 https://tls13.partner.test/")], ["tls13only"],
         prompt="user@box:~$ ", expect=35),
    Case("close-after-serverhello", "A host that sends the ServerHello and then closes.",
         CURL7, [R("curl -v https://staging.mydomain/")], ["serverhello"], fence="```", expect=35),
    Case("close-after-serverhello-curl8-linuxbrew", "Close after the ServerHello, curl 8 from Homebrew on Linux.",
         CURL8, [R("/home/linuxbrew/.linuxbrew/bin/curl -v https://staging.mydomain/")], ["serverhello"],
         prompt="user@box:~$ ", fence="```", expect=35, style=["curl-by-path"]),
    Case("connection-refused", "Nothing listens on the port.",
         CURL7, [R("curl -v https://192.0.2.14")], ["nothing"], prompt="$ ", expect=7),
    Case("connection-refused-powershell", "Nothing listens, curl.exe 8.x typed in PowerShell.",
         CURL8, [R("curl.exe -v https://192.0.2.14/")], ["nothing"], prompt="PS C:\\Users\\me> ", fence="```",
         expect=7, crlf=True, style=["curl.exe"]),
    Case("dns-fail", "A name that does not resolve.",
         CURL7, [R("curl -v https://api.nonexistent.test/")], [], prompt="$ ", expect=6),
    Case("dns-fail-curl8-inline", "A name that does not resolve, curl 8, pasted inline in prose.",
         CURL8, [R("curl -v https://api.nonexistent.test/")], [], expect=6, style=["inline"]),
    Case("timeout-silent-server", "A host that accepts and never answers, with -m 2.",
         CURL7, [R("curl -v -m 2 https://slow.mydomain/")], ["silent"], fence="```", expect=28),
    Case("timeout-silent-server-curl8", "Silent host with -m 2, curl 8, progress meter in the paste.",
         CURL8, [R("curl -v -m 2 https://slow.mydomain/ -o /dev/null", tty=False)], ["silent"], prompt="$ ",
         expect=28, style=["progress-meter"]),
    # ---- 4. HTTP proxy ------------------------------------------------------------------------------
    Case("proxy-resolve-ignored", "--resolve behind -x: curl asks the proxy for mydomain:443 and the proxy's DNS picks old.",
         CURL7, [R(f"curl -v {PIN} {CERT} -x http://10.9.9.9:3128 https://mydomain/healthz",
                   show=f"curl -v {PIN} \\\n     {CERT} \\\n     -x http://10.9.9.9:3128 \\\n     https://mydomain/healthz")],
         ["proxy", "old", "glb"], fence="```", expect=0, style=["backslash-continuation"],
         prose_after="\nThis returns 200 but from the OLD service. Without -x it hits the new LB. ???\n"),
    Case("proxy-connect-to", "--connect-to rewrites the CONNECT target to the load balancer; mTLS succeeds.",
         CURL8, [R(f"curl -v --connect-to mydomain:443:88.88.88.88:443 {CERT} -x http://10.9.9.9:3128 https://mydomain/healthz")],
         ["proxy", "glb"], prompt="$ ", fence="```", expect=0),
    Case("proxy-403-port", "The proxy refuses CONNECT to a port other than 443 (403).",
         CURL7, [R("curl -v -x http://10.9.9.9:3128 https://mydomain:8443/")], ["proxy"], prompt="$ ", expect=56),
    Case("proxy-403-port-curl8-no-cmd", "403 from the proxy, curl 8, pasted without the command line.",
         CURL8, [R("curl -v -x http://proxy.corp:3128 https://api.partner.test:8443/v2/orders")], ["proxy"],
         show_cmd=False, fence="```", expect=56,
         redact=[("proxy.corp", "proxy.example.com"), ("10.9.9.9", "x.x.x.x"), ("api.partner.test", "api.<redacted>")]),
    Case("proxy-407-no-user", "A proxy that wants authentication, no --proxy-user.",
         CURL8, [R("curl -v -x http://10.9.9.9:3130 https://mydomain/")], ["authproxy"], prompt="$ ", expect=56),
    Case("proxy-407-with-user-redacted", "The authenticating proxy with --proxy-user; password redacted in the paste.",
         CURL7, [R(f"curl -v --proxy-user 'corp:{PROXY_PASSWORD}' -x http://10.9.9.9:3130 https://mydomain/")],
         ["authproxy", "old"], fence="```", expect=0,
         redact=[(PROXY_PASSWORD, "***"), ("Y29ycDpXaW50ZXIyMDI0IQ==", "<redacted>")]),
    Case("proxy-407-wrong-password-tail", "Wrong proxy password: 407 again; last lines only.",
         CURL7, [R("curl -v -U corp:winter2024 -x http://10.9.9.9:3130 https://mydomain/")], ["authproxy"],
         show_cmd=False, tail=8, expect=56),
    Case("proxy-502", "The proxy cannot reach the target it resolved (502).",
         CURL8, [R("curl -v -x http://10.9.9.9:3128 https://dead.internal/")], ["proxy", "nothing"],
         prompt="[root@host ~]# ", fence="```", expect=56),
    Case("proxy-drops-connect", "A proxy that reads the CONNECT and hangs up without a reply.",
         CURL7, [R("curl -v -x http://10.9.9.9:3131 https://mydomain/")], ["dropproxy"], fence="```"),
    Case("proxy-drops-connect-curl8", "The CONNECT dropped without a reply, curl 8.",
         CURL8, [R("curl -v -x http://10.9.9.9:3131 https://mydomain/")], ["dropproxy"], prompt="% "),
    Case("env-https-proxy-export", "export https_proxy: curl tunnels through the proxy; the proxy's DNS picks old.",
         CURL7, [R("curl -v https://mydomain/", env={"https_proxy": "http://10.9.9.9:3128"},
                   before=["export https_proxy=http://10.9.9.9:3128"])],
         ["proxy", "old"], prompt="user@box:~$ ", fence="```", expect=0, style=["env-export"]),
    Case("env-HTTPS_PROXY-curl8", "Upper-case HTTPS_PROXY alone is used, curl 8.",
         CURL8, [R("curl -v https://mydomain/", env={"HTTPS_PROXY": "http://proxy.corp:3128"},
                   before=["export HTTPS_PROXY=http://proxy.corp:3128"])],
         ["proxy", "old"], prompt="$ ", expect=0, style=["env-export"]),
    Case("env-no-proxy-bypass", "no_proxy lists mydomain: curl goes direct and meets the resetting host.",
         CURL7, [R("https_proxy=http://10.9.9.9:3128 no_proxy=mydomain,localhost curl -v https://mydomain/",
                   env={"https_proxy": "http://10.9.9.9:3128", "no_proxy": "mydomain,localhost"})],
         ["reset", "proxy"], prompt="$ ", fence="```", expect=35, style=["env-prefix"]),
    Case("forward-get-via-proxy", "-x with a plain http:// URL: an absolute-URI GET forwarded by the proxy.",
         CURL8, [R("curl -v -x http://10.9.9.9:3128 http://www.shop.test/en/")], ["proxy", "www"],
         prompt="$ ", fence="```", expect=0),
    Case("https-proxy-cacert", "An HTTPS proxy (-x https://) trusted through --proxy-cacert.",
         CURL8, [R("curl -v -x https://proxy.corp:3443 --proxy-cacert proxy-ca.pem https://api.partner.test/health -k")],
         ["httpsproxy", "partner"], prompt="$ ", fence="```", expect=0),
    Case("https-proxy-insecure", "HTTPS proxy with --proxy-insecure, curl 7.88.1.",
         CURL7, [R("curl -v --proxy-insecure -x https://10.9.9.9:3443 https://mydomain/")], ["httpsproxy", "old"],
         prompt="# ", expect=0),
    Case("https-proxy-untrusted", "HTTPS proxy whose certificate the client does not trust: exit 60 before any CONNECT.",
         CURL7, [R("curl -v -x https://proxy.corp:3443 https://mydomain/")], ["httpsproxy"], fence="```", expect=60,
         prose_after="\nSo is it the proxy cert or the site cert that fails here?\n"),
    Case("proxy-tunnel-output-only-german", "The --resolve-behind-proxy story again, output only, German prose.",
         CURL8, [R(f"curl -v {PIN} {CERT} -x http://10.9.9.9:3128 https://mydomain/healthz")],
         ["proxy", "old", "glb"], show_cmd=False, expect=0, style=["non-english:de"],
         prose_before="Hallo zusammen,\n\nwir bekommen über den Proxy eine Antwort vom alten Dienst, obwohl wir "
         "mit --resolve die IP des Load Balancers fest eingetragen haben. Hier die Ausgabe:\n\n",
         prose_after="\nWarum wird --resolve ignoriert? Danke im Voraus!\n"),
    # ---- 5. SOCKS5 ----------------------------------------------------------------------------------
    Case("socks5-local-dns", "socks5:// resolves locally: the hosts file sends mydomain to the resetting host.",
         CURL7, [R("curl -v -x socks5://10.9.9.9:1080 https://mydomain/")], ["socks", "reset"], fence="```", expect=35),
    Case("socks5h-proxy-dns", "socks5h:// sends the name; the SOCKS server's DNS picks old.",
         CURL8, [R("curl -v -x socks5h://10.9.9.9:1080 https://mydomain/")], ["socks", "old"], prompt="$ ", expect=0),
    Case("socks5-resolve-honoured", "socks5:// with --resolve: the pinned address is what the SOCKS server is asked for.",
         CURL8, [R(f"curl -v {PIN} {CERT} --socks5 10.9.9.9:1080 https://mydomain/healthz")],
         ["socks", "glb"], prompt="% ", fence="```", expect=0),
    Case("socks5-host-unreachable", "socks5h with a name the SOCKS server cannot resolve: reply 4.",
         CURL8, [R("curl -v --socks5-hostname 10.9.9.9:1080 https://nothere.internal/")], ["socks"],
         prompt="$ ", fence="```", expect=97),
    Case("socks5-connection-refused", "The SOCKS server's target refuses: reply 5.",
         CURL7, [R("curl -v -x socks5://10.9.9.9:1080 https://192.0.2.14/")], ["socks", "nothing"],
         prompt="$ ", expect=97),
    Case("socks5-not-allowed", "The SOCKS server's rules refuse port 8443: reply 2.",
         CURL8, [R("curl -v -x socks5h://10.9.9.9:1080 https://api.partner.test:8443/")], ["socks"],
         show_cmd=False, fence="```", expect=97),
    Case("socks5-drops-greeting", "A SOCKS server that closes instead of answering the greeting.",
         CURL7, [R("curl -v -x socks5h://10.9.9.9:1081 https://mydomain/")], ["dropsocks"], prompt="$ ", expect=97),
    Case("socks5-drops-greeting-curl8-tail", "The dropped SOCKS greeting with curl 8; last lines only.",
         CURL8, [R("curl -v -x socks5h://10.9.9.9:1081 https://mydomain/")], ["dropsocks"], show_cmd=False,
         tail=2, expect=97),
    Case("socks5-vs-socks5h", "socks5 and socks5h in one paste: local DNS meets the resetting host, proxy DNS picks old.",
         CURL8, [R("curl -v -x socks5://10.9.9.9:1080 https://mydomain/"),
                 R("curl -v -x socks5h://10.9.9.9:1080 https://mydomain/")],
         ["socks", "reset", "old"], prompt="user@box:~$ ", fence="```", expect=0, style=["multi-command"],
         prose_before="Same proxy, only the scheme differs:\n"),
    # ---- 6. plain HTTP and redirects ----------------------------------------------------------------
    Case("redirect-two-hops", "Plain HTTP: 301 to another host, then 302, followed with -L.",
         CURL7, [R("curl -vL http://shop.test/")], ["shop", "www"], prompt="$ ", fence="```", expect=0),
    Case("redirect-two-hops-curl8", "The two redirects with curl 8, -sS -v -L, trailing whitespace in the paste.",
         CURL8, [R("curl -sS -v -L http://shop.test/")], ["shop", "www"], prompt="user@box:~$ ", expect=0,
         trailing_ws=True),
    Case("redirect-not-followed-dotslash", "Without -L: the 301 is the answer; curl 8 from ./curl.",
         CURL8, [R("./curl -v http://shop.test/")], ["shop"], prompt="$ ", fence="```", expect=0,
         style=["curl-by-path"]),
    # ---- 7. usage -----------------------------------------------------------------------------------
    Case("unknown-option-proxy-resolve", "--proxy-resolve is not a curl option (exit 2).",
         CURL7, [R(f"curl -v --proxy-resolve mydomain:443:88.88.88.88 {CERT} -x http://10.9.9.9:3128 https://mydomain")],
         [], prompt="$ ", fence="```", expect=2),
    Case("unknown-option-proxy-resolve-curl8", "--proxy-resolve with curl 8 (exit 2).",
         CURL8, [R("curl --proxy-resolve mydomain:443:88.88.88.88 -v -x http://10.9.9.9:3128 https://mydomain")],
         [], prompt="% ", expect=2),
]  # fmt: skip

for _i, _c in enumerate(CASES, 1):
    _c.n = _i

# Prose for the one inline paste: {cmd} and {out} are filled in.
INLINE = {
    "dns-fail-curl8-inline": "when I run `{cmd}` on the build agent I only get this back:\n\n{out}\n\nbut nslookup works from my laptop. "
    "Is the agent missing a DNS server?\n",
}

# Chinese prose for one more case (full-width punctuation is what such a paste has) (the seed's customer wrote in Chinese).
ZH = {
    "socks5-resolve-honoured": (
        "通过 SOCKS5 代理访问，加了 --resolve 以后可以访问到新的负载均衡：\n",  # noqa: RUF001
        "\n请问 socks5 和 socks5h 的区别是不是就在这里？\n",  # noqa: RUF001
    ),
}

# ----------------------------------------------------------------------------------------------------
# From terminal text to a paste
# ----------------------------------------------------------------------------------------------------


def screen(text: str) -> str:
    """What a terminal shows for ``text``: each carriage return moves back to column 0 and overwrites."""
    out_lines = []
    for raw in text.split("\n"):
        buf: list[str] = []
        col = 0
        for ch in raw:
            if ch == "\r":
                col = 0
                continue
            if col < len(buf):
                buf[col] = ch
            else:
                buf.append(ch)
            col += 1
        out_lines.append("".join(buf))
    return "\n".join(out_lines)


ERROR_LINE = re.compile(r"^curl: \((\d+)\) (.*)$", re.M)


def error_line(out: str) -> str:
    found = ERROR_LINE.findall(out)
    if found:
        return found[-1][1].rstrip()
    usage = re.search(r"^curl: (?!try )(.+)$", out, re.M)  # "curl: option --x: is unknown" (exit 2)
    return usage.group(1).rstrip() if usage else ""


def stable(err: str) -> str:
    """A substring of curl's error line that does not change from run to run (no timings, no errno)."""
    err = re.sub(r" after \d+ ms.*$", "", err)
    err = re.sub(r" after \d+ milliseconds.*$", "", err)
    err = re.sub(r", errno \d+$", "", err)
    return err.strip()


def reached(out: str) -> str:
    served = re.findall(r"^< X-Served-By: (\S+)", out, re.M)
    return served[-1] if served else "none"


def render(case: Case, outs: list[str]) -> str:
    parts = []
    for run, out in zip(case.runs, outs, strict=True):
        out = screen(out).rstrip("\n")
        if case.tail:
            out = "\n".join(out.split("\n")[-case.tail :])
        block = []
        prompt = run.prompt if run.prompt is not None else case.prompt
        if case.show_cmd:
            block += [f"{prompt}{line}" for line in run.before]
            shown = run.show or run.cmd
            block.append(prompt + shown)
        block.append(out)
        parts.append("\n".join(block))
    body = "\n\n".join(parts) if len(parts) > 1 else parts[0]
    for old, new in case.redact:
        body = body.replace(old, new)
    if case.trailing_ws:
        body = "\n".join(line + ("  " if i % 3 == 0 and line else "") for i, line in enumerate(body.split("\n")))
    if case.slug in INLINE:
        cmd = case.runs[0].show or case.runs[0].cmd
        text = INLINE[case.slug].format(cmd=cmd, out=body.split("\n", 1)[1] if case.show_cmd else body)
    else:
        if case.fence == "indent":
            body = "\n".join(("    " + line) if line else "" for line in body.split("\n"))
        elif case.fence:
            body = f"{case.fence}\n{body}\n```"
        before, after = ZH.get(case.slug, (case.prose_before, case.prose_after))
        text = before + body + "\n" + after
    if case.crlf:
        text = text.replace("\n", "\r\n")
    return text


def paste_style(case: Case) -> list[str]:
    s: list[str] = []
    first = case.runs[0]
    if case.slug in INLINE:
        s.append("inline-in-prose")
    elif case.show_cmd:
        s.append(f"prompt:{case.prompt.rstrip() or case.prompt}")
    else:
        s.append("no-command-line")
    if case.fence == "indent":
        s.append("indented-4")
    elif case.fence:
        s.append(f"fenced:{case.fence}")
    if case.tail:
        s.append(f"partial:last-{case.tail}-lines")
    verbose = re.search(r"(?<!\S)(-vvv|--verbose|-vL|-v)(?!\S)", first.cmd)
    if verbose:
        s.append(verbose.group(1))
    if "-sS -v" in first.cmd:
        s.append("-sS -v")
    if case.redact:
        s.append("redacted")
    if case.crlf:
        s.append("crlf")
    if case.trailing_ws:
        s.append("trailing-whitespace")
    if case.prose_before or case.prose_after or case.slug in ZH:
        s.append("prose")
    if case.slug in ZH:
        s.append("non-english:zh")
    if not first.tty and "progress-meter" not in case.style:
        s.append("progress-meter")
    return s + case.style


# ----------------------------------------------------------------------------------------------------
# Manifest (written by hand: the standard library reads TOML but does not write it)
# ----------------------------------------------------------------------------------------------------


def q(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(q(x) for x in v) + "]"
    if isinstance(v, dict):
        return (
            "{ "
            + ", ".join(f"{k if re.fullmatch(r'[A-Za-z0-9_-]+', k) else q(k)} = {q(x)}" for k, x in v.items())
            + " }"
        )
    raise TypeError(v)


def expand(run: Run) -> str:
    """The command as it ran: shell variables filled in, leading VAR=value assignments left to ``env``."""
    cmd = re.sub(r"^(?:[A-Za-z_]\w*=\S+\s+)+", "", run.cmd)
    for k, v in run.shell_vars.items():
        cmd = cmd.replace(f"${k}", v)
    return cmd


def hosts_used(case: Case, text: str) -> dict[str, str]:
    return {n: ip for n, ip in HOSTS.items() if re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w.-])", text)}


def tls_max(cmd: str) -> str | None:
    m = re.search(r"--tls-max (\S+)", cmd)
    return m.group(1) if m else None


def entry(case: Case, results: list[dict[str, object]]) -> str:
    last = results[-1]
    run = case.runs[-1]
    lines = ["[[transcript]]"]
    fields: dict[str, object] = {
        "file": case.file,
        "situation": case.situation,
        "command": expand(run),
        "curl": case.curl,
    }
    if tls_max(run.cmd):
        fields["tls_max"] = tls_max(run.cmd)
    fields |= {
        "exit": last["exit"],
        "error": case.error if case.error is not None else last["error"],
        "reached": last["reached"],
    }
    if last.get("tunnel"):
        fields["tunnel"] = last["tunnel"]
    if case.note:
        fields["note"] = case.note
    fields["paste_style"] = paste_style(case)
    if run.env:
        fields["env"] = run.env
    followed = " ".join(" ".join(re.findall(r"^< Location: (\S+)", str(r["screen"]), re.M)) for r in results)
    used = hosts_used(case, " ".join(expand(r) for r in case.runs) + " " + followed)
    if used:
        fields["hosts"] = used
    fields["servers"] = [SERVERS[s] for s in case.servers]
    for k, v in fields.items():
        if k == "servers":
            lines.append("servers = [")
            lines += [f"  {q(x)}," for x in v]  # type: ignore[union-attr]
            lines.append("]")
        else:
            lines.append(f"{k} = {q(v)}")
    if len(case.runs) > 1:
        for r, res in zip(case.runs, results, strict=True):
            lines.append("[[transcript.runs]]")
            lines.append(f"command = {q(expand(r))}")
            lines.append(f"exit = {res['exit']}")
            lines.append(f"error = {q(res['error'])}")
            lines.append(f"reached = {q(res['reached'])}")
    return "\n".join(lines) + "\n"


HEADER = """\
# The pasted-transcript corpus: one [[transcript]] per file in this folder. See README.md.
# Written by generate.py from real runs; edit generate.py, not this file.
# Client trust store: 'Corpus Root CA' only. Client hosts file: the `hosts` of each entry (subset).
"""


def tunnel_of(events: list[dict[str, object]]) -> str | None:
    for e in events:
        if (
            e["kind"] in ("tunnel", "request")
            and e.get("target")
            and e["role"] in ("proxy", "authproxy", "httpsproxy", "socks")
        ):
            return str(e["target"])
        if e["kind"] == "request" and str(e.get("line", "")).startswith("CONNECT "):
            return str(e["line"]).split()[1]
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", nargs="?", default="generate", choices=["generate", "serve"])
    ap.add_argument("--scratch", type=Path, default=Path("/work/scratch/corpus"))
    ap.add_argument("--curl8", type=Path, default=Path("/work/scratch/curl8"))
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--only", default="", help="comma-separated case numbers")
    ap.add_argument("--repeat", type=int, default=0, help="run the cases N times, count exit codes, write nothing")
    ap.add_argument("--pki", type=Path)
    ap.add_argument("--log", type=Path)
    args = ap.parse_args(argv)
    if args.mode == "serve":
        serve(args.pki, args.log)
        return 0
    if os.geteuid() != 0:
        print("generate.py needs root (ip netns)", file=sys.stderr)
        return 3
    only = {int(x) for x in args.only.split(",") if x}
    cases = [c for c in CASES if not only or c.n in only]
    args.scratch.mkdir(parents=True, exist_ok=True)
    manifest_path = args.out / "manifest.toml"
    entries: dict[str, str] = {}
    if only and manifest_path.exists():
        for chunk in re.split(r"(?m)^(?=\[\[transcript\]\]$)", manifest_path.read_text())[1:]:
            entries[re.search(r'^file = "([^"]+)"', chunk, re.M).group(1)] = chunk  # type: ignore[union-attr]
    problems = 0
    with World(args.scratch, args.curl8) as world:
        if args.repeat:
            for case in cases:
                counts: Counter[tuple[int, str]] = Counter()
                for _ in range(args.repeat):
                    for run in case.runs:
                        code, out = world.run(run, case.curl)
                    counts[(code, stable(error_line(screen(out))))] += 1
                print(f"{case.file} ({case.curl}):")
                for (code, err), k in counts.most_common():
                    print(f"  {k:3d}x exit {code}: {err}")
            return 0
        for case in cases:
            outs, results = [], []
            for run in case.runs:
                mark = world.log_mark()
                code, out = world.run(run, case.curl)
                events = world.log_since(mark)
                shown = screen(out)
                outs.append(out)
                results.append({"exit": code, "error": stable(error_line(shown)), "reached": reached(shown),
                                "tunnel": tunnel_of(events), "screen": shown, "events": events})  # fmt: skip
            last = results[-1]
            flag = ""
            if case.expect is not None and last["exit"] != case.expect:
                flag = f"   <-- expected {case.expect}"
                problems += 1
            print(
                f"{case.file:55s} {case.curl} exit {last['exit']:3} reached {last['reached']:8s} {last['error'][:70]}{flag}"
            )
            (args.out / case.file).write_bytes(render(case, outs).encode())
            entries[case.file] = entry(case, results)
    known = {c.file for c in CASES}
    body = "\n".join(entries[f] for f in sorted(entries) if f in known)
    manifest_path.write_text(HEADER + "\n" + body)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

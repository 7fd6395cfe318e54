"""Read what matters out of ``curl -v`` output, without I/O.

Used on real curl's stderr (to show a learner the few lines that decide the outcome) and on pasted
transcripts (``lab import``). Understands curl 7.x and 8.x, OpenSSL and LibreSSL wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lab.protocols import tlsalert
from lab.protocols.netaddr import format_address

ERROR = re.compile(r"^curl: \((\d{1,4})\) (.*)$")  # bounded digits: a pasted "(99...9)" is not a number
USAGE_ERROR = re.compile(r"^curl: (?!try ')(.+)$")

# The lines a learner should see: where curl connected, what TLS said, what was sent and answered.
_KEY = re.compile(
    r"^\*\s+(?:"
    r"Added .* to DNS cache|Hostname .* was found in DNS cache|Connecting to hostname:|"
    r"Trying |Connected to |Established (?:2nd )?connection to |"
    r"Establish HTTP proxy tunnel|CONNECT tunnel|Proxy replied|"
    r"Uses proxy env variable|SOCKS|ALPN|SSL connection using|"
    r"TLSv1\.[23] \(IN\), TLS alert|OpenSSL SSL_|LibreSSL SSL_|SSL certificate problem|"
    r"SSL: |subjectAltName|\s*subject:|\s*issuer:|\s*SSL certificate verify|"
    r"Server certificate|using HTTP|Recv failure|Send failure|Failed to connect|"
    r"Could not resolve|Received HTTP code|Operation timed out|Connection #?\d* ?to host|"
    r"schannel|Closing connection|Request completely sent off"
    r")"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Connected:
    """Where curl's TCP connection went: the host (or proxy) name, the address and port it reached."""

    name: str | None  # "mydomain"; the proxy's name behind a proxy; None where curl 7.88 prints "(nil)" (--connect-to)
    ip: str | None  # "88.88.88.88", "::1" (no brackets); None where curl prints "()" (a SOCKS proxy, curl 8)
    port: int
    number: int | None = None  # curl 7's connection number, "(#0)"
    local: str | None = None  # curl 8.21+: the client's own "ip:port"

    @property
    def address(self) -> str | None:
        """``88.88.88.88:443``, ``[::1]:443``; None when curl did not print the address."""
        return format_address(self.ip, self.port) if self.ip else None


# curl 7: "Connected to mydomain (88.88.88.88) port 443 (#0)"; curl 8.0-8.20: the same without "(#0)";
# curl 8.21+: "Established connection to mydomain (88.88.88.88 port 443) from 10.1.1.2 port 40000".
# Numbers have a bounded count of digits: int() refuses over 4,300, and a port has five.
_CONNECTED = (
    re.compile(
        r"^\* Connected to (?P<name>\S+) \((?P<ip>[^)\s]*)\) port (?P<port>\d{1,5})(?!\d)(?: \(#(?P<number>\d{1,9})\))?"
    ),
    re.compile(
        r"^\* Established (?:2nd )?connection to (?P<name>\S+) \((?P<ip>\S+) port (?P<port>\d{1,5})\)"
        r"(?: from (?P<local_ip>\S+) port (?P<local_port>\d{1,5})(?!\d))?"
    ),
)


def connected(line: str) -> Connected | None:
    """The connection a ``curl -v`` line reports, in any curl version's wording; None for other lines."""
    for pattern in _CONNECTED:
        match = pattern.match(line)
        if match is None:
            continue
        found = match.groupdict()
        local_ip, local_port = found.get("local_ip"), found.get("local_port")
        return Connected(
            name=None if found["name"] == "(nil)" else found["name"],
            ip=found["ip"].strip("[]") or None,
            port=int(found["port"]),
            number=int(found["number"]) if found.get("number") else None,
            local=format_address(local_ip, int(local_port)) if local_ip and local_port else None,
        )
    return None


@dataclass(frozen=True, slots=True)
class CurlVerbose:
    key_lines: tuple[str, ...]
    error: str | None  # "curl: (60) SSL: no alternative ..."
    error_code: int | None
    connected: tuple[str, ...] = field(default=())  # "mydomain (88.88.88.88) port 443" (read `connections`)
    request_lines: tuple[str, ...] = field(default=())  # "> GET / HTTP/2" ...
    response_status: str | None = None  # "< HTTP/2 200"
    # What the TLS handshake showed (for ``lab import``): both "TLSv1.3 (IN)" and LibreSSL's "(304) (IN)" lines.
    trying: tuple[str, ...] = field(default=())  # "88.88.88.88:443"
    pinned: tuple[str, ...] = field(default=())  # "mydomain:443:88.88.88.88" (--resolve entries curl added)
    handshake: tuple[str, ...] = field(default=())  # "OUT Client hello", "IN Request CERT", ...
    tls_version: str | None = None  # "TLSv1.3"
    alpn: str | None = None  # what the server accepted: "h2"
    subject: str | None = None  # "C=GB; L=London; ...; CN=mydomain"
    issuer: str | None = None
    san: tuple[str, ...] = field(default=())  # 'host "mydomain" matched cert's "mydomain"', 'does not match ...'
    connections: tuple[Connected, ...] = field(default=())  # every "Connected to" / "Established connection"
    alerts: tuple[tuple[str, str], ...] = field(default=())  # ("IN", "certificate_required"): TLS alerts each way
    verify_result: str | None = None  # "ok" ("SSL certificate verify ok."), or why not, when -k continued anyway

    @property
    def client_cert_requested(self) -> bool:
        """The server sent a CertificateRequest: it speaks mutual TLS."""
        return "IN Request CERT" in self.handshake


# A progress meter shares stderr with -v output: "  0     0    0 ... --:--:--     0*   Trying 1.2.3.4:443..."
_METER = re.compile(r"^\s*\d+\s+[\d.]+[kMGT]?\s+\d+\s.*?(\*\s.*)$")
_HANDSHAKE = re.compile(r"^\* (?:\(\d+\)|TLSv[\d.]+|SSLv3) \((IN|OUT)\), TLS handshake, (.+?) \(\d+\):?$")
_ALERT = re.compile(r"^\* (?:\(\d+\)|TLSv[\d.]+|SSLv3) \((IN|OUT)\), TLS alert, .*?\((\d{1,3})\):?$")
_VERIFY = re.compile(r"^\*\s+SSL certificate verify (?:(ok)\.|result: (.+?), continuing anyway\.)$")
_FACTS = {
    "trying": re.compile(r"^\*\s+Trying (\S+?)(?:\.\.\.)?$"),
    "pinned": re.compile(r"^\* Added (\S+) to DNS cache"),
    "tls_version": re.compile(r"^\* SSL connection using (\S+)"),
    "alpn": re.compile(r"^\* ALPN(?::|,) server accepted(?: to use)? (\S+)"),
    "subject": re.compile(r"^\*\s+subject: (.*)$"),
    "issuer": re.compile(r"^\*\s+issuer: (.*)$"),
    "san": re.compile(r"^\*\s+subjectAltName:? (.*)$"),
}


def clean_line(raw: str) -> str:
    """One line of curl -v output without trailing blanks or a progress meter in front of it."""
    line = raw.rstrip().rsplit("\r", 1)[-1]  # a terminal shows what follows the last carriage return
    meter = _METER.match(line)
    return meter.group(1) if meter else line


def parse(stderr: str) -> CurlVerbose:
    key: list[str] = []
    connections: list[Connected] = []
    requests: list[str] = []
    status: str | None = None
    error: str | None = None
    code: int | None = None
    facts: dict[str, list[str]] = {name: [] for name in _FACTS}
    handshake: list[str] = []
    lines = [clean_line(raw) for raw in stderr.splitlines()]
    for line in lines:
        shake = _HANDSHAKE.match(line)
        if shake:
            handshake.append(f"{shake.group(1)} {shake.group(2)}")
        for name, pattern in _FACTS.items():
            fact = pattern.match(line)
            if fact:
                facts[name].append(fact.group(1).strip())
        match = ERROR.match(line)
        if match:
            error, code = line, int(match.group(1))
            continue
        if USAGE_ERROR.match(line) and error is None:  # "curl: option --proxy-resolve: is unknown" (exit 2)
            error = line
            continue
        reached = connected(line)
        if reached is not None:
            connections.append(reached)
        if _KEY.match(line):
            key.append(line)
        elif line.startswith("> ") and (" HTTP/" in line or line.startswith("> CONNECT")):
            key.append(line)
            requests.append(line)
        elif line.startswith("< HTTP/"):
            key.append(line)
            status = status or line
        elif line.lower().startswith("< served-by:"):
            key.append(line)
    return CurlVerbose(
        key_lines=tuple(key),
        error=error,
        error_code=code,
        connected=tuple(f"{c.name or '(nil)'} ({c.ip or ''}) port {c.port}" for c in connections),
        request_lines=tuple(requests),
        response_status=status,
        trying=tuple(facts["trying"]),
        pinned=tuple(facts["pinned"]),
        handshake=tuple(handshake),
        tls_version=facts["tls_version"][-1] if facts["tls_version"] else None,
        alpn=facts["alpn"][-1] if facts["alpn"] else None,
        subject=facts["subject"][-1] if facts["subject"] else None,
        issuer=facts["issuer"][-1] if facts["issuer"] else None,
        san=tuple(facts["san"]),
        connections=tuple(connections),
        alerts=tuple((m.group(1), tlsalert.name(int(m.group(2)))) for m in map(_ALERT.match, lines) if m),
        verify_result=next((m.group(1) or m.group(2) for m in map(_VERIFY.match, reversed(lines)) if m), None),
    )


# curl 7.x and 8.x both print this once the proxy answered CONNECT with 200 (curl 7.68+; older: "Proxy replied 200")
_TUNNEL_UP = re.compile(r"^\* (?:CONNECT tunnel established|CONNECT phase completed|Proxy replied 200)")


def split_at_tunnel(stderr: str) -> tuple[str, str]:
    """``(before, after)``: curl's -v output up to the line saying the proxy's tunnel is up, and the rest.

    Through an HTTPS proxy (``-x https://``) curl makes two TLS handshakes, the proxy's first; what comes
    before the tunnel is the proxy's. Without such a line (the proxy refused, or its TLS failed) all of it is
    before. Pure."""
    lines = stderr.splitlines(keepends=True)
    for number, raw in enumerate(lines):
        if _TUNNEL_UP.match(clean_line(raw)):
            return "".join(lines[: number + 1]), "".join(lines[number + 1 :])
    return stderr, ""

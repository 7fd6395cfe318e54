"""Step 2a of ``lab import``: the facts a session's ``curl -v`` lines state, in any curl's and TLS library's words.

:func:`lab.protocols.curlv.parse` (the reader of the lab's own curl) gives the connection lines, the error
and the handshake messages; this module adds what only pasted transcripts need: curl 8's ``Host X was
resolved`` / ``IPv4:`` lines and curl 7.19's ``About to connect()``, the proxy lines (environment variables,
CONNECT and its answer, SOCKS requests, an HTTPS proxy's certificate), TLS alerts by direction, both
certificate blocks, the HTTP exchange of each hop (for ``-L``), and the curl version from User-Agent.
Pure: text in, :class:`Facts` out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lab.protocols import curlv
from lab.protocols.netaddr import is_ip

_RESOLVED = re.compile(r"^\* Host (\S+?):(\d+) was resolved")
_ADDRESSES = re.compile(r"^\* IPv[46]: (.+)$")
_ABOUT = re.compile(r"^\* About to connect\(\) to (?:proxy )?(\S+) port (\d+)")
_TRYING = re.compile(r"^\*\s+Trying \[?([0-9a-fA-F:.x*]+?)\]?(?::(\d+))?(?:\.\.\.|\s|$)")
_ENV = re.compile(r"^\* Uses proxy env variable (\w+) == '([^']*)'")
_TUNNEL = re.compile(r"^(?:\* Establish HTTP proxy tunnel to |> CONNECT )(\S+)")
_PROXY_STATUS = re.compile(
    r"(?:CONNECT tunnel failed, response |Received HTTP code |Proxy replied |CONNECT tunnel established, response )"
    r"(\d{3})"
)
_SOCKS = re.compile(
    r"^\* SOCKS(4a?|5) (?:connect to|request granted|communication to) (?:IPv[46] )?"
    r"(\[[^\]]+\]|[^\s:]+|[0-9a-fA-F:]+?)(?::(\d+))?(?: \((locally|remotely) resolved\))?\.?$"
)
_ALERT = re.compile(r"^\* (?:TLSv[\d.]+|SSLv3|\(\d+\)) \((IN|OUT)\), TLS alert, ([\w ]+?) \((\d+)\):?$")
_HANDSHAKE = re.compile(r"^\* (?:TLSv[\d.]+|SSLv3|\(\d+\))(?: \((IN|OUT)\))?, TLS handshake, (.+?) \(\d+\):?$")
_REQUEST = re.compile(r"^> ([A-Z]+) (\S+) HTTP/[\d.]+$")
_HOST_HEADER = re.compile(r"^> Host: (\S+)", re.IGNORECASE)
_STATUS = re.compile(r"^< HTTP/[\d.]+ (\d{3})")
_LOCATION = re.compile(r"^< Location: (\S+)", re.IGNORECASE)
_FOLLOW = re.compile(r"^\* Issue another request to this URL: '([^']+)'")
_AGENT = re.compile(r"^> User-Agent: curl/(\d+)\.(\d+)(?:\.(\d+))?", re.IGNORECASE)
_CERT_FIELD = re.compile(r"^\*\s+(subject|issuer|common name|subjectAltName|expire date|start date):? ?(.*)$")


@dataclass(slots=True)
class Cert:
    """A ``Server certificate:`` or ``Proxy certificate:`` block."""

    subject: str = ""
    issuer: str = ""
    common_name: str = ""  # NSS and old curls: "common name: x (matched)" / "(does not match 'y')"
    san: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Hop:
    """One HTTP request and its answer (``-L`` makes several)."""

    method: str
    target: str  # "/path" or an absolute URI (a plain-HTTP request through a proxy)
    host: str = ""  # the Host header
    status: int | None = None
    location: str = ""
    connected: curlv.Connected | None = None  # the connection the request went over


@dataclass(slots=True)
class Facts:
    """What one session's output states (each list in order of appearance)."""

    verbose: curlv.CurlVerbose
    resolved: dict[str, list[str]] = field(default_factory=dict)  # name -> addresses the client's DNS gave
    ports: dict[str, int] = field(default_factory=dict)  # name -> port curl connected to it on
    trying: list[tuple[str, int | None]] = field(default_factory=list)
    env: list[tuple[str, str]] = field(default_factory=list)  # "Uses proxy env variable" lines
    tunnel: str | None = None  # what an HTTP proxy was asked to CONNECT to
    proxy_status: int | None = None
    socks: tuple[str, str, int, bool | None] | None = None  # (version, host, port, remotely resolved)
    handshake: list[tuple[str, str]] = field(default_factory=list)  # (IN/OUT/"", message) in order
    proxy_handshake: list[tuple[str, str]] = field(default_factory=list)  # an HTTPS proxy's, before the tunnel
    alerts: list[tuple[str, str, int]] = field(default_factory=list)  # (IN/OUT, name, curl's number)
    server_cert: Cert | None = None
    proxy_cert: Cert | None = None
    hops: list[Hop] = field(default_factory=list)
    follows: list[str] = field(default_factory=list)  # -L: the URLs curl went on to
    info_errors: list[str] = field(default_factory=list)  # library lines: "NSS error -12276 (...)", schannel ...
    version: tuple[int, int, int] | None = None  # from "User-Agent: curl/7.29.0"
    lines: tuple[str, ...] = ()

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def shook(self, message: str, direction: str = "") -> bool:
        return any(m.startswith(message) and (not direction or d in (direction, "")) for d, m in self.handshake)


def read(output: tuple[str, ...]) -> Facts:
    """The facts in one session's output. Pure."""
    facts = Facts(verbose=curlv.parse("\n".join(output)), lines=output)
    last_name: str | None = None
    cert: Cert | None = None
    connection: curlv.Connected | None = None
    for line in output:
        named = _RESOLVED.match(line) or _ABOUT.match(line)
        if named:
            match = named
            last_name = match.group(1)
            facts.ports.setdefault(last_name, int(match.group(2)))
        elif (addresses := _ADDRESSES.match(line)) and last_name:
            found = [a.strip() for a in addresses.group(1).split(",") if a.strip() not in ("", "(none)")]
            facts.resolved.setdefault(last_name, []).extend(found)
        elif trying := _TRYING.match(line):
            facts.trying.append((trying.group(1), int(trying.group(2)) if trying.group(2) else None))
        if (connected := curlv.connected(line)) is not None:
            connection = connected
            if connected.name and connected.ip and connected.name != connected.ip:
                facts.resolved.setdefault(connected.name, [])
                if connected.ip not in facts.resolved[connected.name]:
                    facts.resolved[connected.name].append(connected.ip)
                facts.ports.setdefault(connected.name, connected.port)
        cert = _read_line(facts, line, cert, connection)
    return facts


def _read_line(facts: Facts, line: str, cert: Cert | None, connection: curlv.Connected | None) -> Cert | None:
    """One line's facts (other than names and addresses); returns the certificate block being read."""
    if env := _ENV.match(line):
        facts.env.append((env.group(1), env.group(2)))
    elif (tunnel := _TUNNEL.match(line)) and facts.tunnel is None:
        facts.tunnel = tunnel.group(1)
        facts.proxy_handshake, facts.handshake = facts.handshake, []  # TLS before the CONNECT: the proxy's
    elif socks := _SOCKS.match(line):
        remote = {"remotely": True, "locally": False}.get(socks.group(4) or "")
        host = socks.group(2).strip("[]")
        port = int(socks.group(3)) if socks.group(3) else (facts.socks[2] if facts.socks else 0)
        if facts.socks is not None and remote is None and is_ip(host) and not is_ip(facts.socks[1]):
            remote = False  # curl 7.5x: "communication to NAME:PORT", then "connect to IPv4 ADDRESS": it resolved
        if facts.socks is None or remote is not None:
            facts.socks = ("5" if socks.group(1) == "5" else "4", host, port, remote)
    elif alert := _ALERT.match(line):
        facts.alerts.append((alert.group(1), alert.group(2).strip().lower(), int(alert.group(3))))
    elif shake := _HANDSHAKE.match(line):
        facts.handshake.append((shake.group(1) or "", shake.group(2)))
    elif line.startswith(("* Server certificate", "* Proxy certificate")):
        cert = Cert()
        if line.startswith("* Proxy"):
            facts.proxy_cert = cert
        else:
            facts.server_cert = cert
    elif (field_ := _CERT_FIELD.match(line)) and cert is not None:
        name, value = field_.groups()
        if name == "subject" and not cert.subject:
            cert.subject = value.strip()
        elif name == "issuer" and not cert.issuer:
            cert.issuer = value.strip()
        elif name == "common name":
            cert.common_name = value.strip()
        elif name == "subjectAltName":
            cert.san.append(value.strip())
    elif request := _REQUEST.match(line):
        if request.group(1) != "CONNECT":
            facts.hops.append(Hop(method=request.group(1), target=request.group(2), connected=connection))
    elif (host := _HOST_HEADER.match(line)) and facts.hops and not facts.hops[-1].host:
        facts.hops[-1].host = host.group(1)
    elif status := _STATUS.match(line):
        _status(facts, int(status.group(1)))
    elif (location := _LOCATION.match(line)) and facts.hops:
        facts.hops[-1].location = location.group(1)
    elif follow := _FOLLOW.match(line):
        facts.follows.append(follow.group(1))
    elif agent := _AGENT.match(line):
        facts.version = (int(agent.group(1)), int(agent.group(2)), int(agent.group(3) or 0))
    elif re.match(r"^\* (?:NSS error|schannel: .*(?:failed|error)|SSL read: errno|SSL_read: |SSLRead\(\))", line):
        facts.info_errors.append(line[2:])
    if proxy := _PROXY_STATUS.search(line):
        facts.proxy_status = int(proxy.group(1))
    return cert


def _status(facts: Facts, status: int) -> None:
    """``< HTTP/1.1 NNN``: a proxy's answer to CONNECT (before any request), else the last request's answer."""
    if facts.tunnel is not None and not facts.hops and facts.proxy_status is None:
        facts.proxy_status = status
    elif facts.hops and facts.hops[-1].status is None:
        facts.hops[-1].status = status

"""Step 2 of ``lab import``: what one session proves about the network. Pure.

The ``-v`` lines are read by :func:`lab.protocols.curlv.parse` (the reader of the lab's own curl output) and
the command by :mod:`lab.protocols.curlargs` (the lab's reading of curl's options), so an imported
transcript is read the way the lab reads its own runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lab.apps.importer._split import Session
from lab.model.hostsettings import SUBJECT_KEYS, HostKind
from lab.protocols import curlv
from lab.protocols.curlargs import Options, parse_command
from lab.protocols.curlexit import CurlExit
from lab.protocols.netaddr import format_address, is_ip

_SAN_MATCH = re.compile(r"""matched cert's (?:"([^"]+)"|IP address)""")
_TUNNEL = re.compile(r"^(?:\* Establish HTTP proxy tunnel to |> CONNECT )(\S+)")
_SUBJECT_ALIASES = {"jurisdictionC": "jurisdictionCountryName", "jurisdictionCountry": "jurisdictionCountryName"}
_UNTRUSTED = ("unable to get local issuer certificate", "self signed certificate", "self-signed certificate")
# How a host that read the ClientHello and never answered it leaves curl: waiting, or failing the handshake.
_UNANSWERED = (CurlExit.OPERATION_TIMEDOUT, CurlExit.SSL_CONNECT_ERROR, CurlExit.RECV_ERROR, None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """What one session proves about the network (the ``curl -v`` facts, interpreted)."""

    session: Session
    verbose: curlv.CurlVerbose
    options: Options = field(default_factory=Options)  # the command, as curl reads it
    name: str | None = None  # the name curl connected to ("mydomain"; the proxy's name behind -x)
    ip: str | None = None
    port: int | None = None
    from_dns: bool = False  # the address came from the client's resolver, not --resolve/--connect-to/an IP
    proxy: str | None = None  # "http" or "socks5" when the connection went to a proxy
    tunnel: str | None = None  # "mydomain:443", what a proxy was asked for
    hung: bool = False  # the request went out and nothing came back before the paste ended
    exit_code: int | None = None

    @property
    def address(self) -> str | None:
        if self.ip is None or self.port is None:
            return None
        return format_address(self.ip, self.port)

    @property
    def role(self) -> HostKind | None:
        """The kind of host the handshake proves is at ``address``."""
        v = self.verbose
        if self.address is None:
            return None
        if self.proxy:
            return "socks5" if self.proxy == "socks5" else "http-proxy"
        if v.client_cert_requested:
            return "glb"
        if "IN Server hello" in v.handshake or v.response_status or v.tls_version:
            return "backend"
        if "OUT Client hello" in v.handshake and self.exit_code in _UNANSWERED:
            return "reset"  # took the connection, read the ClientHello, never answered it
        return None

    @property
    def reset_mode(self) -> str:
        error = (self.verbose.error or "").lower()
        if self.exit_code == CurlExit.OPERATION_TIMEDOUT or self.hung:
            return "silent"
        return "rst" if "reset by peer" in error or "econnreset" in error else "fin"

    @property
    def cert_names(self) -> list[str]:
        """DNS names the certificate must carry: every SAN curl matched, and the subject's CN."""
        names: list[str] = []
        for line in self.verbose.san:
            match = _SAN_MATCH.search(line)
            if match and match.group(1):
                names.append(match.group(1))
        cn = self.subject.get("CN")
        if cn and not is_ip(cn):
            names.append(cn)
        return list(dict.fromkeys(names))

    @property
    def cert_ips(self) -> list[str]:
        hosts = [re.search(r'host "([^"]+)"', line) for line in self.verbose.san if "IP address" in line]
        return [h.group(1) for h in hosts if h and is_ip(h.group(1))]

    @property
    def subject(self) -> dict[str, str]:
        return parse_subject(self.verbose.subject or "")[0]

    @property
    def untrusted(self) -> bool:
        return any(p in (self.verbose.error or "") for p in _UNTRUSTED)

    @property
    def expired(self) -> bool:
        return "certificate has expired" in (self.verbose.error or "")


def parse_subject(text: str) -> tuple[dict[str, str], list[str]]:
    """``"C=GB; L=London; CN=mydomain"`` -> ({lab subject fields}, [fields the lab cannot issue])."""
    fields: dict[str, str] = {}
    dropped: list[str] = []
    for part in re.split(r";\s*|,\s*(?=[A-Za-z]+=)", text):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        key = _SUBJECT_ALIASES.get(key, key)
        if key in SUBJECT_KEYS:
            fields[key] = value
        else:
            dropped.append(part.strip())
    return fields, dropped


def _reached(v: curlv.CurlVerbose) -> tuple[str | None, str | None, int | None]:
    """(name, ip, port) of the last connection curl reported with its address, else of the last address tried."""
    known = [c for c in v.connections if c.ip]  # curl 8 prints "Connected to PROXY () port N" for SOCKS
    if known:
        return known[-1].name, known[-1].ip, known[-1].port
    if v.trying:
        host, _, port_text = v.trying[-1].rpartition(":")
        if port_text.isdigit():
            return None, host.strip("[]"), int(port_text)
    return None, None, None


def _exit_code(v: curlv.CurlVerbose) -> int | None:
    """curl's exit code as the transcript shows it: ``curl: (N)``, a usage error, or an answer."""
    if v.error_code is not None:
        return v.error_code
    if v.error is not None:
        return CurlExit.FAILED_INIT  # "curl: option --x: is unknown" and other usage errors
    if v.response_status is not None:
        return CurlExit.OK
    return None


def observe(session: Session) -> Observation:
    """Interpret one session. Pure."""
    v = curlv.parse("\n".join(session.output))
    options = parse_command(session.argv, lenient=True)  # a newer curl's options must not stop the import
    name, ip, port = _reached(v)
    proxy_url = options.proxy or options.last("preproxy")
    uses_env_proxy = any(line.startswith("* Uses proxy env variable") for line in session.output)
    proxy = None
    if proxy_url or uses_env_proxy:
        proxy = "socks5" if (proxy_url or "").startswith("socks") else "http"
    pinned_names = {entry.split(":")[0] for entry in v.pinned}
    from_dns = bool(name) and not is_ip(name or "") and name not in pinned_names and not options.uses("connect-to")
    tunnels = [m.group(1) for m in map(_TUNNEL.match, session.output) if m]
    requested = bool(v.request_lines) or any("Request completely sent off" in line for line in session.output)
    ended = v.error is not None or v.response_status is not None
    return Observation(
        session=session, verbose=v, options=options, exit_code=_exit_code(v), name=name, ip=ip, port=port,
        from_dns=from_dns and proxy is None, proxy=proxy, tunnel=tunnels[0] if tunnels else None,
        hung=requested and not ended,
    )  # fmt: skip

"""``lab import``: draft a scenario from a pasted ``curl -v`` transcript.

Theory of operation. Three pure steps, no sockets and no files (the CLI reads and writes):

1. :func:`split` finds the curl commands in a transcript - support chats mix prose (in any language),
   markdown fences and terminal output - and gives each command the run of ``curl -v`` lines that
   follows it (a :class:`Session`). A command with no output after it is a *mention*: suggested in the
   chat, never run, so there is nothing to reproduce.
2. :func:`observe` reads one session with :func:`lab.curlv.parse` (the same reader that reads the lab's
   own curl) into an :class:`Observation`: where curl connected and whether that address came from DNS,
   ``--resolve``/``--connect-to`` or a proxy; what the TLS handshake showed (certificate subject, SAN
   match, issuer, version, ALPN, "Request CERT (13)"); and how it ended (``curl: (N)``, an answer, or a
   request that never got one).
3. :func:`draft` maps the observations onto a world: every address curl reached becomes a host whose
   kind is what the handshake proves (asked for a client certificate -> ``glb``; closed before a
   ServerHello -> ``reset``; an ordinary TLS server -> ``backend``; the ``-x`` address -> a proxy), a
   name that DNS resolved becomes the client's hosts entry, and each session becomes a step whose
   expectation is the outcome the customer saw. :meth:`Draft.render` writes it as commented TOML.

A request that hung (the chat's ``-k`` and ``--resolve`` commands sent their request and were stopped by
hand) is replayed with ``-m`` and expected to time out (exit 28) against a load balancer that drops a
rejected connection silently - which is what the customer saw.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lab.errors import LabError
from lab.model import scenario as scenarios
from lab.model.hostsettings import SUBJECT_KEYS
from lab.protocols import curlv

HANG_LIMIT = 3  # seconds: the -m a hung request gets when it is replayed
_MAX_GAP = 25  # non-curl lines (response bodies, pasted noise) tolerated inside one session's output

Role = Literal["glb", "backend", "reset", "http-proxy", "socks5"]


class TranscriptError(LabError):
    """The file is not a transcript the importer can draft from. ``str()`` is ``file[:line]: what to do``."""

    exit_code = 2

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path, self.line, self.message = path, line, message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


# -- 1. split ------------------------------------------------------------------------------------------

_COMMAND = re.compile(r"^\s*(?:\S*[$%#]\s+)?(curl\s.*?)\s*$")  # optionally after a shell prompt
_VERBOSE = re.compile(r"^(?:\*(?:\s|$)|[<>](?:\s|$)|[{}] \[|curl: \(\d+\) )")
_FENCE = re.compile(r"^\s*(?:```|~~~)")
_METER = re.compile(r"^\s*(?:% Total|Dload\s+Upload|\d+\s+[\d.]+[kMGT]?\s+\d+\s)")  # curl's progress meter


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A curl command and the ``-v`` output pasted right after it."""

    line: int  # 1-based line of the command in the transcript
    command: str
    argv: tuple[str, ...]
    output: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Mention:
    """A curl command with no output after it (a suggestion in the chat, not something that ran)."""

    line: int
    command: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript:
    sessions: tuple[Session, ...]
    mentions: tuple[Mention, ...]
    orphan_line: int | None = None  # first curl -v line that followed no command


def _command_at(raw: str) -> tuple[str, tuple[str, ...]] | None:
    """The curl command on this line, or None for prose that merely starts with "curl"."""
    match = _COMMAND.match(raw)
    if not match:
        return None
    text = match.group(1).rstrip("`").rstrip()
    try:
        argv = tuple(shlex.split(text))
    except ValueError:
        return None
    if not any(a.startswith("-") or "://" in a for a in argv[1:]):
        return None  # "curl failed to verify the legitimacy of the server ..." is curl's prose, not a command
    return text, argv


def split(text: str) -> Transcript:
    """Commands and the output that belongs to each. Pure."""
    lines = text.splitlines()
    sessions: list[Session] = []
    pending: list[tuple[int, str, tuple[str, ...]]] = []  # commands with no output yet
    orphan: int | None = None
    i = 0
    while i < len(lines):
        found = _command_at(lines[i])
        if found is None:
            if orphan is None and _VERBOSE.match(curlv.clean_line(lines[i])) and lines[i].startswith("* Connected"):
                orphan = i + 1
            i += 1
            continue
        text, argv = found
        while text.endswith("\\") and i + 1 < len(lines):  # a command continued over several lines
            i += 1
            text = text[:-1].rstrip() + " " + lines[i].strip()
            argv = tuple(shlex.split(text)) if _splits(text) else argv
        start = i + 1
        output, end = _output_after(lines, i + 1)
        if output:
            sessions.append(Session(line=start, command=text, argv=argv, output=output))
            i = end
        else:
            pending.append((start, text, argv))
            i += 1
    ran = {s.command for s in sessions}
    mentions: list[Mention] = []
    for line, text, _ in pending:
        if text not in ran and text not in {m.command for m in mentions}:
            mentions.append(Mention(line=line, command=text))
    return Transcript(sessions=tuple(sessions), mentions=tuple(mentions), orphan_line=orphan)


def _splits(text: str) -> bool:
    try:
        shlex.split(text)
    except ValueError:
        return False
    return True


def _output_after(lines: list[str], start: int) -> tuple[tuple[str, ...], int]:
    """The curl -v lines from ``start`` on, up to the next command, fence or long stretch of prose."""
    output: list[str] = []
    end = start
    gap = 0
    for j in range(start, len(lines)):
        line = curlv.clean_line(lines[j])
        if _command_at(lines[j]) is not None or _FENCE.match(line):
            break
        if _VERBOSE.match(line):
            output.append(line)
            end, gap = j + 1, 0
            if line.startswith("curl: ("):
                break  # curl's last word
        elif line.strip() and not _METER.match(line):
            gap += 1
            if gap > _MAX_GAP or not output:
                break
    return tuple(output), end


# -- 2. observe -------------------------------------------------------------------------------------------

_CONNECTED = re.compile(r"^(\S+) \(([^)]+)\) port (\d+)")
_SAN_MATCH = re.compile(r"""matched cert's (?:"([^"]+)"|IP address)""")
_TUNNEL = re.compile(r"^(?:\* Establish HTTP proxy tunnel to |> CONNECT )(\S+)")
_SUBJECT_ALIASES = {"jurisdictionC": "jurisdictionCountryName", "jurisdictionCountry": "jurisdictionCountryName"}
_UNTRUSTED = ("unable to get local issuer certificate", "self signed certificate", "self-signed certificate")
_PROXY_OPTIONS = ("-x", "--proxy", "--preproxy")


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """What one session proves about the network (the ``curl -v`` facts, interpreted)."""

    session: Session
    verbose: curlv.CurlVerbose
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
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"

    @property
    def role(self) -> Role | None:
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
        if "OUT Client hello" in v.handshake and self.exit_code in (28, 35, 56, None):
            return "reset"  # took the connection, read the ClientHello, never answered it
        return None

    @property
    def reset_mode(self) -> str:
        error = (self.verbose.error or "").lower()
        if self.exit_code == 28 or self.hung:
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
        if cn and not _is_ip(cn):
            names.append(cn)
        return list(dict.fromkeys(names))

    @property
    def cert_ips(self) -> list[str]:
        hosts = [re.search(r'host "([^"]+)"', line) for line in self.verbose.san if "IP address" in line]
        return [h.group(1) for h in hosts if h and _is_ip(h.group(1))]

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


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _option_value(argv: tuple[str, ...], *names: str) -> str | None:
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
            if not name.startswith("--") and arg.startswith(name) and len(arg) > len(name):
                return arg[len(name) :]
    return None


def observe(session: Session) -> Observation:
    """Interpret one session. Pure."""
    v = curlv.parse("\n".join(session.output))
    name = ip = None
    port = None
    if v.connected:
        match = _CONNECTED.match(v.connected[-1])
        if match:
            name, ip, port = match.group(1), match.group(2).strip("[]"), int(match.group(3))
    elif v.trying:
        host, _, port_text = v.trying[-1].rpartition(":")
        if port_text.isdigit():
            ip, port = host.strip("[]"), int(port_text)
    proxy_url = _option_value(session.argv, *_PROXY_OPTIONS)
    uses_env_proxy = any(line.startswith("* Uses proxy env variable") for line in session.output)
    proxy = None
    if proxy_url or uses_env_proxy:
        proxy = "socks5" if (proxy_url or "").startswith("socks") else "http"
    pinned_names = {entry.split(":")[0] for entry in v.pinned}
    connect_to = _option_value(session.argv, "--connect-to") is not None
    from_dns = bool(name) and not _is_ip(name or "") and name not in pinned_names and not connect_to
    tunnels = [m.group(1) for m in map(_TUNNEL.match, session.output) if m]
    requested = bool(v.request_lines) or any("Request completely sent off" in line for line in session.output)
    ended = v.error is not None or v.response_status is not None
    exit_code = v.error_code
    if exit_code is None and v.error is not None:
        exit_code = 2  # "curl: option --x: is unknown" and other usage errors
    if exit_code is None and v.response_status is not None:
        exit_code = 0
    return Observation(
        session=session,
        verbose=v,
        name=name,
        ip=ip,
        port=port,
        from_dns=from_dns and proxy is None,
        proxy=proxy,
        tunnel=tunnels[0] if tunnels else None,
        hung=requested and not ended,
        exit_code=exit_code,
    )


# -- 3. draft --------------------------------------------------------------------------------------------

# Version-neutral pieces of curl's error lines: curl 8 + LibreSSL and curl 7.88 + OpenSSL word them differently.
_PORTABLE_ERRORS = (
    "no alternative certificate subject name matches target",
    "SSL_ERROR_SYSCALL",
    "alert certificate required",
    "alert handshake failure",
    "alert unknown ca",
    "alert certificate expired",
    "unable to get local issuer certificate",
    "certificate has expired",
    "Connection reset by peer",
    "Could not resolve host",
    "Failed to connect",
    "is unknown",
)

_HINTS = {
    60: "curl's own certificate check decided (the client hop): read the SSL: line for the name or chain it refused.",
    35: "The TLS handshake never finished: the host at {address} closed the connection without a ServerHello.",
    28: "The request went out and no answer came: the server held the connection (a load balancer that drops a "
    "connection it rejected - here, most likely for a missing client certificate - looks exactly like this).",
    56: "The connection broke after the handshake: read the TLS alert curl printed (a missing or refused client "
    "certificate ends this way in TLS 1.3).",
    7: "Nothing listened at the address curl tried.",
    6: "curl could not resolve the name: the client's DNS has no answer.",
    2: "curl itself refused the command line before any network traffic.",
    0: "curl got an answer from {reached}.",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftHost:
    name: str
    kind: Role
    address: str
    settings: tuple[tuple[str, str], ...]  # (key, TOML value) in order
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftStep:
    line: int
    run: str
    say: str
    lesson: str
    seen: tuple[str, ...]
    expect: tuple[tuple[str, str], ...]  # (key, TOML value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Draft:
    source: str
    hosts: tuple[DraftHost, ...]
    client_hosts: tuple[tuple[str, str], ...]
    steps: tuple[DraftStep, ...]
    mentions: tuple[Mention, ...]
    notes: tuple[str, ...] = ()

    def render(self) -> str:
        """The scenario as TOML, with comments that say where each value came from."""
        out = [
            f"# Drafted by `lab import {self.source}`: review it, then `lab check` and `lab run` this file.",
            "# Hosts, names and expectations come from what curl -v printed; comments quote the evidence.",
            f"title = {_toml(f'Drafted from {self.source}')}",
            'story = """',
            f"Reproduces the curl -v transcript {self.source}: {len(self.steps)} command(s) with output, replayed",
            "against hosts that behave the way the transcript shows.",
            '"""',
            "",
        ]
        out += [f"# note: {n}" for n in self.notes]
        for host in self.hosts:
            out += ["", f"[hosts.{host.name}]"]
            out += [f"# {n}" for n in host.notes]
            out += [f"kind = {_toml(host.kind)}", f"address = {_toml(host.address)}"]
            out += [f"{key} = {value}" for key, value in host.settings]
        out += ["", "[client]", "# The client's /etc/hosts: what its DNS answered in the transcript."]
        entries = ", ".join(f"{_key(n)} = {_toml(a)}" for n, a in self.client_hosts)
        out += [f"hosts = {{ {entries} }}" if entries else "hosts = {}", 'trust = "lab-root"']
        for step in self.steps:
            out += ["", "[[steps]]", f"# transcript line {step.line}"]
            out += [f"#   {s}" for s in step.seen]
            out += [f"say = {_toml(step.say)}", f"run = {_toml(step.run)}", f"lesson = {_toml(step.lesson)}"]
            if step.expect:
                out += ["[steps.expect]"] + [f"{k} = {v}" for k, v in step.expect]
        if self.mentions:
            out += ["", "# The transcript also mentions these commands, without their output (nothing to reproduce):"]
            for mention in self.mentions:
                out += [f"# line {mention.line}:", "# [[steps]]", f"# run = {_toml(mention.command)}"]
        return "\n".join(out) + "\n"


def _toml(value: str) -> str:
    """A TOML basic string (JSON's escapes are a subset TOML accepts)."""
    return json.dumps(value, ensure_ascii=False)


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml(name)


def _toml_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_toml(v) for v in values) + "]"


def draft(transcript: Transcript, source: str) -> Draft:
    """A scenario drafted from every session of ``transcript``; ``source`` names the file. Pure."""
    if not transcript.sessions:
        where = transcript.orphan_line
        if where is not None:
            raise TranscriptError(
                source, where, "curl -v output with no curl command before it: paste the command line too"
            )
        raise TranscriptError(
            source,
            None,
            "no curl -v output found (expected a 'curl ...' command followed by lines like "
            "'* Connected to mydomain (88.88.88.88) port 443'); paste the whole terminal output of curl -v",
        )
    observations = [observe(s) for s in transcript.sessions]
    hosts, host_at = _hosts(observations)
    notes: list[str] = []
    client: dict[str, str] = {}
    for obs in observations:
        known = obs.from_dns and obs.name and obs.ip and obs.role is not None
        if known and obs.name and obs.ip and client.setdefault(obs.name, obs.ip) != obs.ip:
            notes.append(f"{obs.name} resolved to {obs.ip} too (line {obs.session.line}); kept {client[obs.name]}")
    if transcript.orphan_line is not None:
        notes.append(f"curl -v output at line {transcript.orphan_line} follows no command; it was skipped")
    steps = tuple(_step(obs, host_at) for obs in observations)
    return Draft(
        source=source,
        hosts=tuple(hosts),
        client_hosts=tuple(client.items()),
        steps=steps,
        mentions=transcript.mentions,
        notes=tuple(notes),
    )


def _hosts(observations: list[Observation]) -> tuple[list[DraftHost], dict[str, str]]:
    """One host per address curl reached, of the kind the strongest evidence proves."""
    by_address: dict[str, list[Observation]] = {}
    for obs in observations:
        if obs.address and obs.role:
            by_address.setdefault(obs.address, []).append(obs)
    strength = {"glb": 0, "http-proxy": 1, "socks5": 1, "backend": 2, "reset": 3}
    hosts: list[DraftHost] = []
    host_at: dict[str, str] = {}
    used: set[str] = set()
    for address, seen in by_address.items():
        roles = sorted({o.role for o in seen if o.role}, key=lambda r: strength[r])
        kind = roles[0]
        name = kind.replace("http-proxy", "proxy").replace("socks5", "socks")
        n = 2
        while name in used:
            name = f"{roles[0]}-{n}"
            n += 1
        used.add(name)
        host_at[address] = name
        evidence = [o for o in seen if o.role == kind]
        notes = [f"seen at line {', '.join(str(o.session.line) for o in evidence)}"]
        if len(roles) > 1:
            notes.append(f"also looked like {', '.join(roles[1:])}; {kind} explains more of the transcript")
        hosts.append(_host(name, kind, address, evidence, notes))
    return hosts, host_at


def _host(name: str, kind: Role, address: str, seen: list[Observation], notes: list[str]) -> DraftHost:
    settings: list[tuple[str, str]] = []
    if kind == "reset":
        mode = seen[0].reset_mode
        notes.append("accepted TCP, read the ClientHello and closed without a ServerHello")
        settings.append(("mode", _toml(mode)))
        return DraftHost(name=name, kind=kind, address=address, settings=tuple(settings), notes=tuple(notes))
    if kind in ("http-proxy", "socks5"):
        tunnels = sorted({o.tunnel for o in seen if o.tunnel})
        notes.append(
            'the transcript cannot show what this proxy\'s own DNS answers: fill in dns = { name = "address" }'
            + (f" for {', '.join(tunnels)}" if tunnels else "")
        )
        settings.append(("dns", "{}"))
        return DraftHost(name=name, kind=kind, address=address, settings=tuple(settings), notes=tuple(notes))
    with_cert = [o for o in seen if o.verbose.subject]
    names = list(dict.fromkeys(n for o in seen for n in o.cert_names))
    ips = list(dict.fromkeys(i for o in seen for i in o.cert_ips))
    subject, dropped = parse_subject(with_cert[0].verbose.subject or "") if with_cert else ({}, [])
    if with_cert:
        notes.append(f"certificate subject: {with_cert[0].verbose.subject}")
    issuers = [o.verbose.issuer for o in seen if o.verbose.issuer]
    if issuers:
        notes.append(f"issuer: {issuers[0]} (the lab issues from its own stand-in CA)")
    if dropped:
        notes.append(f"subject fields the lab cannot issue, left out: {', '.join(dropped)}")
    versions = sorted({o.verbose.tls_version for o in seen if o.verbose.tls_version})
    alpn = sorted({o.verbose.alpn for o in seen if o.verbose.alpn})
    if versions or alpn:
        notes.append(f"TLS seen: {', '.join(versions) or '?'}; ALPN accepted: {', '.join(alpn) or 'none'}")
    if names:
        settings.append(("cert.names", _toml_list(names)))
    if ips:
        settings.append(("cert.ips", _toml_list(ips)))
    if subject:
        settings.append(("cert.subject", "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in subject.items()) + " }"))
    if any(o.untrusted for o in seen):
        settings.append(("cert.issuer", _toml("rogue")))
        notes.append("curl could not verify the chain: issued by a CA the client does not trust")
    if any(o.expired for o in seen):
        settings.append(("cert.expired", "true"))
    if kind == "glb":
        notes.append('sent "Request CERT (13)": it asks every client for a certificate (mutual TLS)')
        settings.append(("mtls", '{ mode = "REJECT_INVALID", trust_anchors = ["client-ca"] }'))
        capped = not any(_option_value(o.session.argv, "--tls-max") or "--tlsv1.2" in o.session.argv for o in seen)
        if versions == ["TLSv1.2"] and capped:
            settings.append(("tls", '{ min = "1.2", max = "1.2" }'))
        if any(o.hung for o in seen):
            notes.append("a request to it got no answer at all: it drops a rejected connection without an alert")
            settings.append(("failure_style", _toml("silent")))
    return DraftHost(name=name, kind=kind, address=address, settings=tuple(settings), notes=tuple(notes))


def _lab_command(obs: Observation) -> tuple[str, list[str]]:
    """The customer's command, changed only where the lab needs it (a time limit, the lab's client cert)."""
    argv = list(obs.session.argv)
    changes: list[str] = []
    for option, lab_file in (("--cert", "certs/client.crt"), ("--key", "certs/client.key"), ("-E", "certs/client.crt")):
        if option in argv[:-1]:
            at = argv.index(option) + 1
            if argv[at] != lab_file:
                changes.append(f"{option} {argv[at]} -> {lab_file} (the lab's client certificate)")
                argv[at] = lab_file
    limited = any(a in ("-m", "--max-time") or a.startswith("--max-time=") for a in argv)
    if obs.hung and not limited:
        argv[1:1] = ["-m", str(HANG_LIMIT)]
        changes.append(f"-m {HANG_LIMIT} added: in the transcript this request never got an answer")
    if not changes:
        return obs.session.command, changes
    return shlex.join(argv), changes


def _step(obs: Observation, host_at: dict[str, str]) -> DraftStep:
    v = obs.verbose
    run, changes = _lab_command(obs)
    seen: list[str] = []
    if obs.address:
        how = "from DNS" if obs.from_dns else "via a proxy" if obs.proxy else "pinned or literal"
        seen.append(f"connected to {obs.name or obs.ip} ({obs.address}, address {how})")
    if v.tls_version:
        seen.append(f"TLS: {v.tls_version}, ALPN {v.alpn or 'none'}")
    if v.client_cert_requested:
        seen.append('the server asked for a client certificate ("Request CERT (13)")')
    if v.subject:
        seen.append(f"certificate subject: {v.subject}")
    seen += [f"subjectAltName {s}" for s in v.san]
    if v.issuer:
        seen.append(f"issuer: {v.issuer}")
    if obs.tunnel:
        seen.append(f"proxy asked for: {obs.tunnel}")
    if v.error:
        seen.append(f"outcome: {v.error}")
    elif obs.hung:
        seen.append("outcome: the request was sent and no answer came (stopped by hand)")
    elif v.response_status:
        seen.append(f"outcome: {v.response_status}")
    else:
        seen.append("outcome: not in the transcript (the paste ends here)")
    seen += [f"changed for the lab: {c}" for c in changes]

    expect: list[tuple[str, str]] = []
    exit_code = 28 if obs.hung else obs.exit_code
    answered = host_at.get(obs.address or "") if exit_code == 0 and not obs.proxy else None
    if exit_code is not None:
        expect.append(("exit", str(exit_code)))
        if exit_code != 0:
            expect.append(("reached", _toml("none")))
        elif answered:
            expect.append(("reached", _toml(answered)))
    if obs.tunnel:
        expect.append(("tunnel", _toml(obs.tunnel)))
    portable = next((p for p in _PORTABLE_ERRORS if p in (v.error or "")), None)
    if portable and not obs.hung:
        expect.append(("error", _toml(portable)))
    outcome = f"exit {exit_code}" if exit_code is not None else "an outcome the transcript does not show"
    where = f" at {obs.address}" if obs.address else ""
    if obs.hung:
        outcome = f"no answer (the lab stops it after {HANG_LIMIT} s: exit 28)"
    say = f"Transcript line {obs.session.line}: the customer's command; it ended with {outcome}{where}."
    hint = _HINTS.get(exit_code if exit_code is not None else -1, "")
    lesson = (
        hint.format(address=obs.address or "the address", reached=answered or "a host")
        + " TODO: name the hop that decided and the fix."
    ).strip()
    return DraftStep(line=obs.session.line, run=run, say=say, lesson=lesson, seen=tuple(seen), expect=tuple(expect))


def import_transcript(text: str, source: str) -> Draft:
    """``lab import``: transcript text in, draft out. ``source`` is the file name for messages."""
    if "\x00" in text:
        raise TranscriptError(
            source, None, "this is a binary file, not a transcript: paste curl -v output into a .txt file"
        )
    return draft(split(text), source)


# -- the shell: the one function here that touches files ---------------------------------------------------


def write_draft(transcript: str, output: str | None) -> int:
    """``lab import TRANSCRIPT [-o FILE]``: read, draft, check the draft loads, then print or write it."""
    source = Path(transcript)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise TranscriptError(transcript, None, f"cannot read: {exc.strerror}") from None
    drafted = import_transcript(data.decode("utf-8", "replace"), transcript)
    text = drafted.render()
    target = Path(output) if output else None
    if target is not None and target.exists():
        raise TranscriptError(str(target), None, "already exists; choose another -o FILE or remove it first")
    if target is not None and target.suffix != ".toml":
        raise TranscriptError(str(target), None, "the draft is a scenario: give -o a .toml file name")
    with tempfile.TemporaryDirectory(prefix="lab-import-") as tmp:
        check = Path(tmp) / (target.name if target else "draft.toml")
        check.write_text(text, encoding="utf-8")
        loaded = scenarios.load(check)  # a draft that does not load is a bug here, reported like any scenario error
    summary = (
        f"{_count(len(loaded.hosts), 'host')}, {_count(len(loaded.steps), 'step')} from "
        f"{_count(len(drafted.steps), 'curl command')} with output"
        + (f" ({len(drafted.mentions)} mentioned without output, left as comments)" if drafted.mentions else "")
    )
    if target is None:
        sys.stdout.write(text)
        print(f"lab: drafted {summary}; save it with -o FILE.toml", file=sys.stderr)
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}: {summary}; review it, then: lab run {target}", file=sys.stderr)
    return 0


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"

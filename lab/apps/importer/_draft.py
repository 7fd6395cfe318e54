"""Step 3 of ``lab import``: map the observations onto a world and write it as a commented scenario. Pure."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from lab.apps.importer._observe import Observation, observe, parse_subject
from lab.apps.importer._split import Mention, Session, Transcript
from lab.errors import SourceError
from lab.model.hostsettings import HostKind
from lab.protocols.curlargs import parse_command
from lab.protocols.curlexit import CurlExit

HANG_LIMIT = 3  # seconds: the -m a hung request gets when it is replayed


class TranscriptError(SourceError):
    """The file is not a transcript the importer can draft from. ``str()`` is ``file[:line]: what to do``."""


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

# The same outcome worded by another curl build, so a draft's expectation holds with either (the comment says which).
_OTHER_WORDINGS = {
    "SSL_ERROR_SYSCALL": (
        "unexpected eof while reading",
        "SSL_ERROR_SYSCALL: curl before 8.11, or LibreSSL; unexpected eof: curl 8.11+ with OpenSSL",
    ),
}

_HINTS: dict[int, str] = {
    CurlExit.PEER_FAILED_VERIFICATION: "curl's own certificate check decided (the client hop): read the SSL: "
    "line for the name or chain it refused.",
    CurlExit.SSL_CONNECT_ERROR: "The TLS handshake never finished: the host at {address} closed the connection "
    "without a ServerHello.",
    CurlExit.OPERATION_TIMEDOUT: "The request went out and no answer came: the server held the connection (a "
    "load balancer that drops a connection it rejected - here, most likely for a missing client certificate - "
    "looks exactly like this).",
    CurlExit.RECV_ERROR: "The connection broke after the handshake: read the TLS alert curl printed (a missing "
    "or refused client certificate ends this way in TLS 1.3).",
    CurlExit.COULDNT_CONNECT: "Nothing listened at the address curl tried.",
    CurlExit.COULDNT_RESOLVE_HOST: "curl could not resolve the name: the client's DNS has no answer.",
    CurlExit.FAILED_INIT: "curl itself refused the command line before any network traffic.",
    CurlExit.OK: "curl got an answer from {reached}.",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftHost:
    name: str
    kind: HostKind
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


def _host(name: str, kind: HostKind, address: str, seen: list[Observation], notes: list[str]) -> DraftHost:
    settings: list[tuple[str, str]] = []
    if kind == "reset":
        mode = seen[0].reset_mode
        notes.append("accepted TCP, read the ClientHello and closed without a ServerHello")
        settings.append(("mode", _toml(mode)))
    elif kind in ("http-proxy", "socks5"):
        tunnels = sorted({o.tunnel for o in seen if o.tunnel})
        notes.append(
            'the transcript cannot show what this proxy\'s own DNS answers: fill in dns = { name = "address" }'
            + (f" for {', '.join(tunnels)}" if tunnels else "")
        )
        settings.append(("dns", "{}"))
    else:
        versions = _tls_server(seen, settings, notes)
        if kind == "glb":
            _glb(seen, versions, settings, notes)
    return DraftHost(name=name, kind=kind, address=address, settings=tuple(settings), notes=tuple(notes))


def _tls_server(seen: list[Observation], settings: list[tuple[str, str]], notes: list[str]) -> list[str]:
    """The certificate a TLS host showed, as ``cert.*`` settings; returns the TLS versions it spoke."""
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
    return versions


def _glb(seen: list[Observation], versions: list[str], settings: list[tuple[str, str]], notes: list[str]) -> None:
    """What makes the host a load balancer: mutual TLS, a TLS version cap, a silent failure style."""
    notes.append('sent "Request CERT (13)": it asks every client for a certificate (mutual TLS)')
    settings.append(("mtls", '{ mode = "REJECT_INVALID", trust_anchors = ["client-ca"] }'))
    capped = not any(o.options.uses("tls-max") or o.options.uses("tlsv1.2") for o in seen)
    if versions == ["TLSv1.2"] and capped:
        settings.append(("tls", '{ min = "1.2", max = "1.2" }'))
    if any(o.hung for o in seen):
        notes.append("a request to it got no answer at all: it drops a rejected connection without an alert")
        settings.append(("failure_style", _toml("silent")))


_LAB_FILES = (("cert", "certs/client.crt"), ("key", "certs/client.key"))


def _lab_command(obs: Observation) -> tuple[str, list[str]]:
    """The customer's command, changed only where the lab needs it (a time limit, the lab's client cert)."""
    options = obs.options
    changes: list[str] = []
    for name, lab_file in _LAB_FILES:
        moved = [g for g in options.given if g.name == name and g.value is not None and g.value != lab_file]
        changes += [f"{g.spelling} {g.value} -> {lab_file} (the lab's client certificate)" for g in moved]
        if moved:
            options = parse_command(options.with_value(name, lab_file), lenient=True)
    argv = list(options.argv)
    if obs.hung and not options.uses("max-time"):
        argv[1:1] = ["-m", str(HANG_LIMIT)]
        changes.append(f"-m {HANG_LIMIT} added: in the transcript this request never got an answer")
    if not changes and _as_typed(obs.session):
        return obs.session.command, changes
    return shlex.join(argv), changes


def _as_typed(session: Session) -> bool:
    """The command text means its argv to a scenario's ``run`` too (no shell comment to drop)."""
    try:
        return tuple(shlex.split(session.command)) == session.argv
    except ValueError:  # an unbalanced quote inside a comment
        return False


def _seen(obs: Observation, changes: list[str]) -> list[str]:
    """The transcript's evidence for a step, quoted in the draft's comments."""
    v = obs.verbose
    how = "from DNS" if obs.from_dns else "via a proxy" if obs.proxy else "pinned or literal"
    evidence = [
        (obs.address, f"connected to {obs.name or obs.ip} ({obs.address}, address {how})"),
        (v.tls_version, f"TLS: {v.tls_version}, ALPN {v.alpn or 'none'}"),
        (v.client_cert_requested, 'the server asked for a client certificate ("Request CERT (13)")'),
        (v.subject, f"certificate subject: {v.subject}"),
        *((True, f"subjectAltName {s}") for s in v.san),
        (v.issuer, f"issuer: {v.issuer}"),
        (obs.tunnel, f"proxy asked for: {obs.tunnel}"),
    ]
    if v.error:
        outcome = f"outcome: {v.error}"
    elif obs.hung:
        outcome = "outcome: the request was sent and no answer came (stopped by hand)"
    elif v.response_status:
        outcome = f"outcome: {v.response_status}"
    else:
        outcome = "outcome: not in the transcript (the paste ends here)"
    return [text for shown, text in evidence if shown] + [outcome] + [f"changed for the lab: {c}" for c in changes]


def _expect(obs: Observation, exit_code: int | None, answered: str | None) -> list[tuple[str, str]]:
    """``[steps.expect]``: the outcome the customer saw, in words that hold for curl 7 and curl 8."""
    expect: list[tuple[str, str]] = []
    if exit_code is not None:
        expect.append(("exit", str(int(exit_code))))
        if exit_code != CurlExit.OK:
            expect.append(("reached", _toml("none")))
        elif answered:
            expect.append(("reached", _toml(answered)))
    if obs.tunnel:
        expect.append(("tunnel", _toml(obs.tunnel)))
    portable = next((p for p in _PORTABLE_ERRORS if p in (obs.verbose.error or "")), None)
    if portable and not obs.hung:
        other, which = _OTHER_WORDINGS.get(portable, ("", ""))
        expect.append(("error", f"{_toml_list([portable, other])}  # {which}" if other else _toml(portable)))
    return expect


def _step(obs: Observation, host_at: dict[str, str]) -> DraftStep:
    run, changes = _lab_command(obs)
    exit_code = CurlExit.OPERATION_TIMEDOUT if obs.hung else obs.exit_code
    answered = host_at.get(obs.address or "") if exit_code == CurlExit.OK and not obs.proxy else None
    outcome = f"exit {exit_code}" if exit_code is not None else "an outcome the transcript does not show"
    where = f" at {obs.address}" if obs.address else ""
    if obs.hung:
        outcome = f"no answer (the lab stops it after {HANG_LIMIT} s: exit {int(CurlExit.OPERATION_TIMEDOUT)})"
    say = f"Transcript line {obs.session.line}: the customer's command; it ended with {outcome}{where}."
    hint = _HINTS.get(exit_code if exit_code is not None else -1, "")
    lesson = (
        hint.format(address=obs.address or "the address", reached=answered or "a host")
        + " TODO: name the hop that decided and the fix."
    ).strip()
    return DraftStep(
        line=obs.session.line,
        run=run,
        say=say,
        lesson=lesson,
        seen=tuple(_seen(obs, changes)),
        expect=tuple(_expect(obs, exit_code, answered)),
    )

"""Step 4 of ``lab import``: the scenario - hosts, the client's hosts file, one step per command - as
commented TOML. Pure.

Each step runs the customer's command (:mod:`._command`) and expects what *today's* curl prints in the
customer's situation (:mod:`._today`), with the customer's own exit code and words in a comment and a
TODO wherever the transcript did not show something the draft had to choose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lab.apps.importer import _behave
from lab.apps.importer._command import HANG_LIMIT, lab_command, run_text
from lab.apps.importer._observe import Observation, observe
from lab.apps.importer._place import Placed, place
from lab.apps.importer._split import Mention, Transcript
from lab.apps.importer._today import Expected, expected
from lab.apps.importer._world import HostPlan, World
from lab.errors import SourceError
from lab.protocols.curlexit import describe

__all__ = ["HANG_LIMIT", "Draft", "DraftHost", "DraftStep", "TranscriptError", "draft"]

toml = _behave.toml


class TranscriptError(SourceError):
    """The file is not a transcript the importer can draft from. ``str()`` is ``file[:line]: what to do``."""


_HINTS: dict[str, str] = {
    "ok": "curl got an answer from {reached}.",
    "dns": "curl could not resolve the name: the client's DNS has no answer for it.",
    "refused": "Nothing listened at the address curl tried.",
    "tls-alert": "The server refused the TLS handshake with an alert ({alert}).",
    "tls-close": "The server closed the connection during the TLS handshake.",
    "cert-name": "curl's own certificate check decided: the certificate does not name the host curl asked for.",
    "cert-untrusted": "curl's own certificate check decided: no CA it trusts issued the server's certificate.",
    "cert-self-signed": "curl's own certificate check decided: the server's certificate is self-signed.",
    "cert-expired": "curl's own certificate check decided: the server's certificate has expired.",
    "proxy-status": "The proxy answered the CONNECT request with {code} and opened no tunnel.",
    "proxy-drop": "The proxy closed the connection without answering the CONNECT request.",
    "socks-reply": "The SOCKS proxy refused the destination (reply code {code}).",
    "socks-drop": "The SOCKS proxy hung up without answering.",
    "hang": "The request went out and no answer came.",
    "usage": "curl itself refused the command line before any network traffic.",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftHost:
    name: str
    kind: str
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
    todos: tuple[str, ...] = ()
    checked: str = ""  # what the replay showed (lab import --check)


@dataclass(frozen=True, slots=True, kw_only=True)
class Draft:
    source: str
    hosts: tuple[DraftHost, ...]
    client_hosts: tuple[tuple[str, str], ...]
    steps: tuple[DraftStep, ...]
    mentions: tuple[Mention, ...]
    notes: tuple[str, ...] = ()  # facts about the transcript (its curl, the lab's)
    todos: tuple[str, ...] = ()  # what the transcript did not show and the draft had to choose
    expectations: tuple[Expected, ...] = field(default=())  # per step, for the check

    def render(self) -> str:
        """The scenario as TOML, with comments that say where each value came from."""
        return "\n".join(_one_line_comments(self._lines())) + "\n"

    def _lines(self) -> list[str]:
        out = [
            f"# Drafted by `lab import {self.source}`: review it, then `lab check` and `lab run` this file.",
            "# Hosts, names and expectations come from what curl -v printed; comments quote the evidence.",
            f"title = {toml(f'Drafted from {self.source}')}",
            'story = """',
            f"Reproduces the curl -v transcript {self.source}: {len(self.steps)} command(s), replayed against",
            "hosts that behave the way the transcript shows.",
            '"""',
        ]
        out += [f"# TODO: {t}" for t in self.todos]
        out += [f"# note: {n}" for n in self.notes]
        for host in self.hosts:
            out += ["", f"[hosts.{_key(host.name)}]"]
            out += [f"# {n}" for n in host.notes]
            out += [f"kind = {toml(host.kind)}", f"address = {toml(host.address)}"]
            out += [f"{key} = {value}" for key, value in host.settings]
        out += ["", "[client]", "# The client's /etc/hosts: what its DNS answered in the transcript."]
        entries = ", ".join(f"{_key(n)} = {toml(a)}" for n, a in self.client_hosts)
        out += [f"hosts = {{ {entries} }}" if entries else "hosts = {}", 'trust = "lab-root"']
        for step in self.steps:
            out += ["", "[[steps]]", f"# transcript line {step.line}"]
            out += [f"#   {s}" for s in step.seen]
            out += [f"# TODO: {t}" for t in step.todos]
            if step.checked:
                out += [f"# checked: {step.checked}"]
            out += [f"say = {toml(step.say)}", f"run = {toml(step.run)}", f"lesson = {toml(step.lesson)}"]
            if step.expect:
                out += ["[steps.expect]"] + [f"{k} = {v}" for k, v in step.expect]
        if self.mentions:
            out += ["", "# The transcript also mentions these commands, without their output (nothing to reproduce):"]
            for mention in self.mentions:
                out += [f"# line {mention.line}:", "# [[steps]]", f"# run = {toml(mention.command)}"]
        return out


def _one_line_comments(lines: list[str]) -> list[str]:
    """A comment quoting the paste stays one line (a command typed over several lines, a body with newlines)."""
    return [line.replace("\n", " \u23ce ") if line.startswith("#") else line for line in lines]


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else toml(name)


def draft(transcript: Transcript, source: str) -> Draft:
    """A scenario drafted from every session of ``transcript``; ``source`` names the file. Pure."""
    if not transcript.sessions:
        raise TranscriptError(
            source,
            None,
            "no curl command and no curl -v output found (expected a 'curl ...' command, or lines like "
            "'* Connected to mydomain (88.88.88.88) port 443'); paste the whole terminal output of curl -v",
        )
    observations = [observe(s) for s in transcript.sessions]
    world = World()
    for obs in observations:  # addresses the transcript shows are taken before any placeholder is chosen
        world.used_ips.update(ip for ips in obs.facts.resolved.values() for ip in ips)
    placed = [place(world, obs) for obs in observations]
    for name, line in world.unresolvable.items():
        if name in world.client:
            world.todos.append(f"line {line}: {name} did not resolve there, but the hosts file has it from elsewhere")
    steps, expectations = zip(
        *(_step(obs, where) for obs, where in zip(observations, placed, strict=True)), strict=True
    )
    return Draft(
        source=source,
        hosts=tuple(_host(h) for h in world.hosts.values()),
        client_hosts=tuple(world.client.items()),
        steps=tuple(steps),
        mentions=transcript.mentions,
        todos=tuple(world.todos),
        expectations=tuple(expectations),
    )


def _host(plan: HostPlan) -> DraftHost:
    settings = list(plan.settings.items())
    if plan.dns:
        settings.append(("dns", _behave.inline({_key(n): toml(a) for n, a in plan.dns.items()})))
    elif plan.kind in ("http-proxy", "socks5"):
        settings.append(("dns", "{}"))
    if plan.rules:
        settings.append(("rules", "[" + ", ".join(plan.rules) + "]"))
    settings += _paths(plan)
    notes = [f"seen at line {', '.join(map(str, plan.lines))}", *plan.notes]
    return DraftHost(name=plan.name, kind=plan.kind, address=plan.address, settings=tuple(settings), notes=tuple(notes))


def _paths(plan: HostPlan) -> list[tuple[str, str]]:
    answers = {p: a for p, a in plan.paths.items() if a != (200, "")}
    if not answers:
        return []
    if len(plan.paths) == 1:
        status, location = next(iter(answers.values()))
        return [("status", str(status))] + ([("location", toml(location))] if location else [])
    table = {
        toml(p): _behave.inline({"status": str(s)} | ({"location": toml(loc)} if loc else {}))
        for p, (s, loc) in answers.items()
    }
    return [("paths", _behave.inline(table))]


def _seen(obs: Observation, changes: list[str]) -> list[str]:
    """The transcript's evidence for a step, quoted in the draft's comments."""
    facts, v = obs.facts, obs.facts.verbose
    evidence = [f"how it was typed: {obs.session.command}" if obs.session.command else ""]
    evidence += [f"no command line in the paste; rebuilt: {n}" for n in obs.rebuilt]
    evidence += [f"connected to {c.name or '?'} ({c.address})" for c in v.connections if c.address][:3]
    if v.tls_version:
        evidence.append(f"TLS: {v.tls_version}, ALPN {v.alpn or 'none'}")
    if facts.shook("Request CERT"):
        evidence.append('the server asked for a client certificate ("Request CERT")')
    if facts.server_cert and facts.server_cert.subject:
        evidence.append(f"certificate subject: {facts.server_cert.subject}")
    if facts.tunnel:
        evidence.append(
            f"proxy asked for: {facts.tunnel}" + (f", answered {facts.proxy_status}" if facts.proxy_status else "")
        )
    evidence += [f"proxy from the environment: {k} = {val}" for k, val in facts.env]
    if v.error:
        evidence.append(f"outcome: {v.error}")
    elif obs.hung:
        evidence.append("outcome: the request was sent and no answer came (stopped by hand)")
    elif obs.exit_code == 0:
        evidence.append("outcome: an answer" + (f" ({v.response_status})" if v.response_status else ""))
    else:
        evidence.append("outcome: not in the transcript (the paste ends here)")
    evidence.append(f"read as: {obs.situation.kind}" + (f" ({obs.situation.alert})" if obs.situation.alert else ""))
    return [e for e in evidence if e] + [f"changed for the lab: {c}" for c in changes]


def _expect(obs: Observation, placed: Placed) -> tuple[Expected | None, list[tuple[str, str]]]:
    plan = obs.plan
    if not obs.session.output:
        return None, []
    found = expected(
        obs.situation,
        obs.exit_code,
        target=plan.target_host or "",
        tls13=_behave.tls13(obs),
        error=obs.facts.verbose.error or "",
        h2_hangup=_behave.quiet_refusal(obs) == "reset" and _behave.tls13(obs),
    )
    pairs: list[tuple[str, str]] = []
    if found.exits:  # two codes: a racy outcome, either is the customer's
        exits = str(found.exits[0]) if len(found.exits) == 1 else f"[{', '.join(map(str, found.exits))}]"
        pairs.append(("exit", exits))
    if placed.reached and (found.exits == (0,) or obs.facts.follows):  # a redirect's answer reached curl first
        pairs.append(("reached", toml(placed.reached)))
    elif found.exits and found.exits != (0,) and obs.situation.kind != "http-error":
        pairs.append(("reached", toml("none")))
    if placed.tunnel:
        pairs.append(("tunnel", toml(placed.tunnel)))
    if found.errors:  # several: the words different curls (or TLS libraries) print for the same outcome
        words = toml(found.errors[0]) if len(found.errors) == 1 else _behave.toml_list(list(found.errors))
        pairs.append(("error", words + (f"  # {found.wording}" if found.wording else "")))
    return found, pairs


def _step(obs: Observation, placed: Placed) -> tuple[DraftStep, Expected]:
    argv, changes, todos = lab_command(obs)
    found, pairs = _expect(obs, placed)
    todos = [*todos, *placed.todos]
    if found is not None and found.note:
        todos.append(f"today's curl differs: {found.note}")
    if found is not None and len(found.exits) > 1:
        todos.append(f"racy: today's curl gives exit {' or '.join(map(str, found.exits))} from run to run")
    if obs.rebuilt:
        todos.append("the command was rebuilt from the output: check it against what the customer ran")
    if obs.session.unset:
        todos.append(f"shell variables the paste never sets: {', '.join('$' + u for u in obs.session.unset)}")
    if obs.situation.kind == "unknown":
        todos.append("the importer could not tell what went wrong; the expectation repeats the customer's words")
    if not obs.session.output:
        todos.append("the paste shows this command but not its output: no outcome to expect")
    outcome = describe(found.exits[0]) if found and found.exits else "an outcome the transcript does not show"
    origin = f" ({'reconstructed from the output' if obs.rebuilt else 'as typed'})"
    say = f"Transcript line {obs.line}: the customer's command{origin}; today's curl ends with exit {outcome}."
    hint = _HINTS.get(obs.situation.kind, "TODO: say which hop decided.")
    lesson = (
        hint.format(reached=placed.reached or "a host", alert=obs.situation.alert, code=obs.situation.code)
        + " (drafted before the replay; `lab import --check` writes the lab's own verdict here)"
    )
    step = DraftStep(
        line=obs.line,
        run=run_text(argv),
        say=say,
        lesson=lesson,
        seen=tuple(_seen(obs, changes)),
        expect=tuple(pairs),
        todos=tuple(todos),
    )
    return step, found or Expected(exits=())

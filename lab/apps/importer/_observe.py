"""Step 2 of ``lab import``: what one session proves about the network. Pure.

The ``-v`` lines are read by :mod:`._facts` (on top of :func:`lab.protocols.curlv.parse`, the reader of the
lab's own curl), the command by :mod:`lab.protocols.curlargs`, and where curl meant to send the request by
:func:`lab.explain.curlplan.plan` - the same emulator that explains the lab's own runs - so an imported
transcript is read the way the lab reads itself. :mod:`._classify` names what went wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lab.apps.importer._classify import Situation, classify
from lab.apps.importer._facts import Facts, read
from lab.apps.importer._reconstruct import rebuild
from lab.apps.importer._redact import clean_host, clean_word
from lab.apps.importer._split import ENV_VARIABLES, Session
from lab.explain import curlplan
from lab.model.hostsettings import SUBJECT_KEYS
from lab.protocols.curlargs import CurlUsageError, Options, parse_command
from lab.protocols.curlexit import CurlExit

_SUBJECT_ALIASES = {"jurisdictionC": "jurisdictionCountryName", "jurisdictionCountry": "jurisdictionCountryName"}
_NSS_SUBJECT = {"commonName": "CN", "organizationName": "O", "countryName": "C", "localityName": "L"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """One session, interpreted: the command (typed or rebuilt), the facts, the plan, and the situation."""

    session: Session
    facts: Facts
    options: Options
    plan: curlplan.Plan
    env: tuple[tuple[str, str], ...]  # proxy variables for the replay
    situation: Situation
    exit_code: int | None
    hung: bool
    rebuilt: tuple[str, ...] = ()  # how a command missing from the paste was rebuilt (empty: it was typed)
    notes: list[str] = field(default_factory=list)

    @property
    def line(self) -> int:
        return self.session.line

    @property
    def verbose(self):  # type: ignore[no-untyped-def]  # the curlv reading, for callers of the old API
        return self.facts.verbose

    @property
    def proxy_kind(self) -> str | None:
        """ "http", "https" or "socks" when curl went through a proxy."""
        proxy = self.plan.proxy
        if proxy is None:
            return None
        return "socks" if proxy.scheme.startswith("socks") else proxy.scheme


def parse_subject(text: str) -> tuple[dict[str, str], list[str]]:
    """``"C=GB; L=London; CN=mydomain"`` -> ({lab subject fields}, [fields the lab cannot issue])."""
    fields: dict[str, str] = {}
    dropped: list[str] = []
    for part in re.split(r";\s*|,\s*(?=[A-Za-z]+=)", text):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        key = _SUBJECT_ALIASES.get(key, _NSS_SUBJECT.get(key, key))
        if key in SUBJECT_KEYS:
            fields[key] = value
        else:
            dropped.append(part.strip())
    return fields, dropped


def _exit_code(facts: Facts) -> int | None:
    """curl's exit code as the transcript shows it: ``curl: (N)``, a usage error, or an answer."""
    v = facts.verbose
    if v.error_code is not None:
        return v.error_code
    if v.error is not None:
        return CurlExit.FAILED_INIT  # "curl: option --x: is unknown" and other usage errors
    if v.response_status is not None or any(h.status for h in facts.hops):
        return CurlExit.OK
    return None


def _environment(session: Session, facts: Facts) -> tuple[tuple[str, str], ...]:
    """Proxy variables for the replay: set in the paste, or named by curl's "Uses proxy env variable" lines."""
    env = dict(session.env)
    for name, value in facts.env:
        if name in ENV_VARIABLES:
            env.setdefault(name, value)
    return tuple(env.items())


def _clean_address(text: str) -> str:
    host, sep, port = text.rpartition(":")
    return f"{clean_host(host)}:{port}" if sep and port.isdigit() else clean_host(text)


def _known(options: Options) -> tuple[str, ...]:
    """The command without the options curl 7.88 does not know (a newer curl's), for the routing plan."""
    if not options.errors:
        return options.argv
    words: list[str] = [options.program]
    for given in options.given:
        words.append(f"--{given.name}" if given.on else f"--no-{given.name}")
        if given.value is not None:
            words.append(given.value)
    return (*words, *options.urls)


def _plan(argv: tuple[str, ...], env: dict[str, str]) -> curlplan.Plan:
    """curl's routing plan; a value the plan cannot read (a ``--resolve`` with a shell variable, a URL with a
    broken address) leaves the plan with a usage error instead of stopping the import."""
    try:
        return curlplan.plan(argv, env, {})
    except (CurlUsageError, ValueError) as exc:
        return curlplan.Plan(argv=argv, env=env, usage_error=f"curl: {exc}")


def observe(session: Session) -> Observation:
    """Interpret one session. Pure."""
    facts = read(session.output)
    notes: list[str] = []
    rebuilt: tuple[str, ...] = ()
    argv = list(session.argv)
    if argv:
        argv[0] = "curl"  # /usr/local/bin/curl, ./curl, curl.exe: the lab's curl
    else:
        found = rebuild(facts)
        argv, rebuilt = found.argv, tuple(found.notes)
    argv = [clean_word(word) for word in argv]
    options = parse_command(argv, lenient=True)  # a newer curl's options must not stop the import
    if options.proxy and "://" not in options.proxy:  # -x host:port: its host may be redacted too
        argv = list(
            options.with_value(
                options.proxy_flag.lstrip("-") if options.proxy_flag != "-x" else "proxy", _clean_address(options.proxy)
            )
        )
        options = parse_command(argv, lenient=True)
    env = tuple((k, clean_word(v) if "://" in v else v) for k, v in _environment(session, facts))
    plan = _plan(_known(options), dict(env))
    exit_code = _exit_code(facts)
    requested = bool(facts.hops) or facts.saw("Request completely sent off")
    hung = bool(session.output) and requested and exit_code is None and facts.verbose.error is None
    proxied = None
    if plan.proxy is not None:
        proxied = "socks" if plan.proxy.scheme.startswith("socks") else plan.proxy.scheme
    situation = classify(facts, exit_code, proxied=proxied, hung=hung)
    return Observation(
        session=session, facts=facts, options=options, plan=plan, env=env, situation=situation,
        exit_code=exit_code, hung=hung, rebuilt=rebuilt, notes=notes,
    )  # fmt: skip

"""How the host a request went to ended it when no check refused it: what a learner is told happened there.

The routing decided such a step (:mod:`lab.explain.route`: it sent curl to a host that could not, or did
not, answer), and the learner needs the host's side too: it hung up right after the ClientHello, sent its
ServerHello and nothing more, answered a ClientHello in plain HTTP, took the request and never answered,
or answered with a redirect curl did not follow. Each :class:`Ending` is read from what the host reported
(with curl's own words where the host could not see it), says it in one clause, and carries the advice for
that cause. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.explain.curlplan import Plan
from lab.explain.facts import Facts
from lab.model.certspec import CertSpec
from lab.model.glbsettings import GlbSettings, name_matches
from lab.model.scenario import Scenario
from lab.protocols.curlexit import CurlExit
from lab.protocols.netaddr import is_ip

_HANGUPS = {"fin": "closed the connection", "rst": "reset the connection", "hold": "held the connection, silent"}
_NO_ANSWER = {
    "hang": "took the request and never answered it",
    "close": "closed the connection without an answer",
    "eof": "closed the TCP connection without an answer (no TLS close_notify)",
    "reset": "reset the connection instead of answering",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Ending:
    kind: (
        str  # "hello-alert", "hello-hangup", "server-hello-hangup", "tls-refused", "not-tls", "no-answer", "redirect",
    )
    # "proxy-unreached" (the proxy could not reach the destination it was asked for)
    fact: str  # "rst (192.0.2.16:443) reset the connection right after the ClientHello"
    label: str  # the diagram's arrow: "resets after the ClientHello"
    advice: str


def ending(plan: Plan, facts: Facts) -> Ending | None:
    """What the server did instead of answering (or the redirect it answered with), when it says so."""
    if facts.server is None:
        return _proxy_unreached(plan, facts)
    where = f"the host at {facts.server_address} ({facts.server})"
    if facts.limit is not None:
        return _limit(facts, where)
    return _handshake(plan, facts, where) or _after_request(plan, facts, where)


def _proxy_unreached(plan: Plan, facts: Facts) -> Ending | None:
    refused = facts.refused
    if refused is None or facts.proxy_refused_itself:
        return None
    target = facts.asked.target if facts.asked else plan.tunnel
    return Ending(
        kind="proxy-unreached",
        fact=f"the proxy could not reach {target} ({refused.summary or refused.reason})",
        label=refused.summary.split(":")[0] or "refused",
        advice=f"The proxy connects to {target} from its own network, and nothing answered it there: check the "
        "address and port the proxy was asked for.",
    )


def _handshake(plan: Plan, facts: Facts, where: str) -> Ending | None:
    """The server stopped the TLS handshake, or never spoke TLS."""
    check = _probe(plan, facts)
    failed = facts.tls_failed
    if failed is not None and failed.stopped == "client-hello":
        if failed.alert:
            return Ending(
                kind="hello-alert",
                fact=f"{where} refused the ClientHello with alert {failed.alert}, before any ServerHello",
                label=f"alert {failed.alert}",
                advice=f"The server refuses this ClientHello for its own reasons: {check}",
            )
        how = _HANGUPS.get(failed.hangup, "hung up")
        did = (
            "read the ClientHello and never answered it"
            if failed.hangup == "hold"
            else f"{how} right after the ClientHello"
        )
        return Ending(
            kind="hello-hangup",
            fact=f"{where} {did}, without a ServerHello",
            label="holds: no ServerHello"
            if failed.hangup == "hold"
            else f"{_verb(failed.hangup)} after the ClientHello",
            advice=f"Something at {facts.server_address} takes TCP but will not speak TLS with curl: {check}",
        )
    if failed is not None and failed.stopped == "server-hello":
        return Ending(
            kind="server-hello-hangup",
            fact=f"{where} sent its ServerHello and then {_HANGUPS.get(failed.hangup, 'hung up')}, before any "
            "certificate",
            label=f"ServerHello, then {_verb(failed.hangup)}",
            advice=f"The server starts TLS and gives up: {check}",
        )
    if refused_handshake(facts):
        assert failed is not None
        why = f" (OpenSSL: {failed.reason.lower().replace('_', ' ')})" if failed.reason.isupper() else ""
        return Ending(
            kind="tls-refused",
            fact=f"{where} refused the handshake with alert {failed.alert}{why}",
            label=f"alert {failed.alert}",
            advice="What the server accepts and what curl offered do not meet (ciphers, versions): drop options "
            f"that narrow curl's offer (--ciphers, --tls-max), and {check}",
        )
    if facts.server_garbage is not None and plan.url is not None and plan.url.scheme == "https" and _plain(facts):
        port = plan.url.port
        return Ending(
            kind="not-tls",
            fact=f"{where} answered curl's ClientHello in plain HTTP, not TLS (curl: wrong version number)",
            label="answers in plain HTTP",
            advice=f"Port {port} there speaks http://, not https://: use http://{plan.url.authority}/ for it, or the "
            "port that speaks TLS.",
        )
    return None


def _after_request(plan: Plan, facts: Facts, where: str) -> Ending | None:
    silent = facts.no_answer
    if silent is not None:
        said = _NO_ANSWER.get(silent.how, "gave no answer")
        waited = plan.options.last("max-time")
        gave_up = (
            f"; curl gave up after -m {waited} s"
            if silent.how == "hang" and facts.exit_code == CurlExit.OPERATION_TIMEDOUT and waited
            else ""
        )
        return Ending(
            kind="no-answer",
            fact=f"{where} {said}{gave_up}",
            label={"hang": "no answer (held)", "reset": "resets: no answer"}.get(silent.how, "closes: no answer"),
            advice=f"The request reached {facts.server}, and it did not answer: its logs (or whatever stands in "
            f"front of it at {facts.server_address}) say why{'; -m limits how long curl waits' if gave_up else ''}.",
        )
    response = facts.response
    if response is not None and 300 <= response.status < 400 and response.location and not facts.redirects:
        return Ending(
            kind="redirect",
            fact=f"{response.host} answered {response.status} with Location {response.location}, which curl did "
            "not follow",
            label=f"{response.status} → {response.location}",
            advice=f"curl follows a redirect only with -L (then {response.location} is routed like a URL of its "
            "own: its name is looked up again, and --resolve entries for it apply).",
        )
    return None


_LIMITS = {  # what a host did at each of its limits (lab.model.limits), as a clause, and the diagram's label
    "max_connections": ("closed the connection at once: it held as many as it takes", "closes at once: too many"),
    "handshake_timeout": ("closed the connection: curl gave it nothing to act on in time", "closes: too slow"),
    "idle_timeout": ("closed the connection after a silence", "closes: idle"),
    "max_body": ("answered 413: the request body is over its limit", "413: body too large"),
}


def _limit(facts: Facts, where: str) -> Ending:
    """The server hung up (or answered 413) at one of its ``limits``."""
    assert facts.limit is not None
    limit, value = facts.limit.limit, facts.limit.value
    did, label = _LIMITS.get(limit, ("hung up at one of its limits", "closes: a limit"))
    unit = "bytes" if limit == "max_body" else "connections" if limit == "max_connections" else "s"
    return Ending(
        kind="limit",
        fact=f"{where} {did} (limits.{limit} = {value:g} {unit})",
        label=label,
        advice=f"{facts.server} is configured to stop there: raise its limits.{limit}, or ask less of it.",
    )


def followed(facts: Facts) -> str:
    """The redirects curl followed, as a clause: "shop's 301 to http://www.shop.test/, then ..." ("" if none)."""
    return ", then ".join(f"{r.host}'s {r.status} to {r.location}" for r in facts.redirects)


def _verb(hangup: str) -> str:
    return {"fin": "closes", "rst": "resets", "hold": "holds"}.get(hangup, "hangs up")


def refused_handshake(facts: Facts) -> bool:
    """The server ended the handshake with an alert of its own, not over a client certificate or a TLS version,
    and not at a point it was told to (its ``fail`` setting): it found nothing in common with curl's offer."""
    failed = facts.tls_failed
    if failed is None or not failed.alert or failed.stopped or facts.client_cert_refused:
        return False
    return not facts.no_common_version and facts.curl_cert_problem is None


def _plain(facts: Facts) -> bool:
    """The server spoke no TLS: curl says so, or the server read curl's bytes as something else and made no
    handshake."""
    no_tls = facts.tls_ok is None and facts.tls_failed is None
    return "wrong version number" in (facts.message or "").lower() or (no_tls and facts.server_garbage is not None)


def _probe(plan: Plan, facts: Facts) -> str:
    """How to see what the host at that address answers, with the name curl sent."""
    assert facts.server_address is not None
    name = f" -servername {plan.sni}" if plan.sni else " (no -servername: curl sent no SNI)"
    return f"check that it is the server you meant (openssl s_client -connect {facts.server_address}{name})."


def sni_choice(plan: Plan, facts: Facts, scenario: Scenario) -> tuple[str, str, str] | None:
    """When a load balancer's choice of certificate by SNI made curl's name check fail: (what curl sent, the
    names of the certificate presented, the names of the one it holds for the URL's host); None otherwise."""
    host = scenario.hosts.get(facts.server or "")
    settings = host.settings if host else None
    problem = facts.curl_cert_problem or ""
    if not isinstance(settings, GlbSettings) or not settings.more_certs or plan.url is None:
        return None
    if "subject name" not in problem.lower() and "does not match" not in problem.lower():
        return None
    _, sni = facts.sni_read
    chosen = settings.certificate_for(sni)
    certs = (settings.cert, *settings.more_certs)
    holding = [spec for spec in certs if _covers(spec, plan.url.host)]
    if not holding or certs[chosen] in holding:
        return None
    sent = f"SNI {sni}" if sni else f"no SNI (the URL names the address {plan.url.host})"
    return sent, _names(certs[chosen]), _names(holding[0])


def _covers(spec: CertSpec, host: str) -> bool:
    if is_ip(host):
        return host in spec.ips
    return any(name_matches(pattern, host) for pattern in (*spec.names, *(v for k, v in spec.subject if k == "CN")))


def _names(spec: CertSpec) -> str:
    return ", ".join((*spec.names, *spec.ips)) or dict(spec.subject).get("CN", "?")

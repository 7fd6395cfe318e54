"""The one decision of a step: which hop decided, why (the observed fact), and what would change it.

Theory of operation. A request stops at the first check that refuses it, in the order curl meets them:
its command line, its own client certificate and key, the proxy (reachable? its TLS: its certificate, its
check of curl's; does it speak what curl spoke? does it refuse for its own reasons: a password, its policy,
no answer at all?), the server's answer to the ClientHello (no TLS version in common; a server name it does
not serve, or none sent where it needs one), curl's check of the server certificate, the server's check of
the client certificate. When no check stopped it - it was answered, or it went to a host that could not
answer (that hung up, or never answered, or answered something else than TLS) - the *routing* decided
(:mod:`lab.explain.route`): the proxy's DNS, ``--connect-to``, ``--resolve`` or the client's DNS, with what
the host did (:mod:`lab.explain.ending`) as part of the fact and the advice. :func:`decide` applies that
order to :class:`~lab.explain.facts.Facts` and returns one :class:`Decision`; the lesson, the advice and the
decisive marks of the hop list and the diagram are all read from it, so they cannot name two deciders. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from lab.explain import advice, proxydecide, route
from lab.explain.curlplan import Plan
from lab.explain.ending import followed, sni_choice
from lab.explain.facts import Facts
from lab.model.deciders import Decider, lead
from lab.model.scenario import Scenario
from lab.protocols.curlexit import CurlExit

HopKey = Literal["command-line", "resolve", "proxy", "proxy-dns", "tcp", "sni", "server-cert", "client-cert", "answer"]
# Diagram rows a decision can mark (lab.explain.diagram tags each row with one of these).
Mark = Literal[
    "usage", "no-address", "tcp", "ask", "proxy-dns", "refusal", "version", "sni", "hello", "cert-fail", "alert",
    "own-cert", "proxy-tls",
]  # fmt: skip
# A server refusing the ClientHello over its server name: it serves no such name, or needs one and got none.
_SNI_ALERTS = ("unrecognized_name", "handshake_failure", "access_denied", "illegal_parameter", "missing_extension")


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """Which hop decided, the observed fact that decided it, and the advice for that cause."""

    decider: Decider
    hop: HopKey
    cause: str  # finer than the decider: "expired", "key-mismatch", "name-mismatch", "hosts-file"...
    fact: str  # what was observed, one clause: "the hosts file says mydomain is 198.0.8.245"
    outcome: str  # "glb answered" / "curl exited 35"
    change: str  # what would change the outcome
    marks: tuple[Mark, ...] = ()
    named: str | None = None  # which of the decider's names the lesson uses (default: its first)
    ending: str = ""  # how the host ended it when the routing decided (lab.explain.ending), "" otherwise

    @property
    def lesson(self) -> str:
        return f"{lead(self.decider, self.named)} decided: {self.fact}; {self.outcome}."


def decide(plan: Plan, facts: Facts, scenario: Scenario) -> Decision:
    """Apply the order of the checks, then the routing, to what was observed."""
    outcome = f"{facts.reached} answered" if facts.reached else f"curl exited {facts.exit_code}"
    for check in _CHECKS:
        found = check(plan, facts, scenario, outcome)
        if found is not None and facts.redirects:  # the check refused curl's last request, after redirects
            last = facts.redirects[-1]
            moved = f" The URL came from {last.host}'s redirect (Location {last.location}): the fix may belong there."
            return replace(
                found, fact=f"after -L followed {followed(facts)}, {found.fact}", change=found.change + moved
            )
        if found is not None:
            return found
    decider, cause, fact, change, ending = route.decision(plan, facts, scenario)
    marks: tuple[Mark, ...] = ("tcp", "no-address")
    hop: HopKey = "resolve"
    if decider == "proxy DNS":
        hop, marks = "proxy-dns", ("ask", "proxy-dns", "refusal")
    elif facts.proxy is not None:  # the client's decision travelled in what the proxy was asked (or not at all)
        marks = ("ask", "no-address")
    return Decision(
        decider=decider, hop=hop, cause=cause, fact=fact, outcome=outcome, change=change, marks=marks, ending=ending
    )


def _command_line(plan: Plan, facts: Facts, scenario: Scenario, outcome: str) -> Decision | None:
    if not (plan.usage_error or plan.url is None or facts.exit_code == CurlExit.FAILED_INIT):
        return None
    said = (facts.message or plan.usage_error or "curl refused the command line").removeprefix("curl: ")
    return Decision(
        decider="command line",
        hop="command-line",
        cause="usage",
        fact=f"{said}, so curl sent nothing",
        outcome=outcome,
        change=advice.usage(said),
        marks=("usage",),
    )


def _own_certificate(plan: Plan, facts: Facts, scenario: Scenario, outcome: str) -> Decision | None:
    """curl exit 58: curl refused its own certificate or key before sending either."""
    if facts.exit_code != CurlExit.SSL_CERTPROBLEM:
        return None
    cause, fact = advice.own_certificate(facts.message or "", plan)
    if facts.bytes_in == 0 or facts.hello_sent is False:
        fact += "; no ClientHello was sent"
    return _client_cert_check(cause, fact, plan, outcome, "own-cert", scenario, facts.server)


def _own_tls_options(plan: Plan, facts: Facts, scenario: Scenario, outcome: str) -> Decision | None:
    """curl could not set up TLS with the options it was given (exit 59, or 35 for a version range that is
    empty): the command line decided, at the hop where its ClientHello would have gone out."""
    said, stop = facts.own_tls_problem, tls_options_stop(plan, facts)
    if said is None or stop is None:
        return None
    return Decision(
        decider="command line",
        hop=stop,
        cause="tls-options",
        fact=f"curl could not set up TLS with its own options ({said}), so it sent no ClientHello",
        outcome=outcome,
        change=advice.tls_options(said),
        marks=("usage",),
    )


def tls_options_stop(plan: Plan, facts: Facts) -> Literal["proxy", "sni"] | None:
    """Where curl's own TLS options stopped it (:attr:`Facts.own_tls_problem`): at an HTTPS proxy it had not
    asked anything yet (its TLS comes first), else at the server's ClientHello; None when they did not."""
    if facts.own_tls_problem is None:
        return None
    at_proxy = facts.asked is None and plan.proxy is not None and plan.proxy.scheme == "https"
    return "proxy" if at_proxy else "sni"


def _ca_file(plan: Plan, facts: Facts, scenario: Scenario, outcome: str) -> Decision | None:
    """curl exit 77: curl could not load its CA file. It does so right after its ClientHello, so whatever the
    server answered went unread: the CA file decided, before anything the server did."""
    if facts.exit_code != CurlExit.SSL_CACERT_BADFILE:
        return None
    return _server_certificate(plan, facts, scenario, outcome)


def _proxy(plan: Plan, facts: Facts, scenario: Scenario, outcome: str) -> Decision | None:
    """The proxy stopped the request before any target (:mod:`lab.explain.proxydecide`)."""
    found = proxydecide.decision(plan, facts, scenario)
    if found is None:
        return None
    decider, cause, fact, change, named = found
    mark: Mark = "refusal"
    if cause == "unreachable":
        mark = "tcp"
    elif decider != "proxy" or cause == "proxy-scheme":  # its TLS: a certificate, or TLS where none was spoken
        mark = "proxy-tls"
    return Decision(
        decider=decider, hop="proxy", cause=cause, fact=fact, outcome=outcome, change=change, marks=(mark,), named=named
    )


def _tls_version(plan: Plan, facts: Facts, scenario: Scenario, outcome: str) -> Decision | None:
    """Client and server had no TLS version in common: the handshake ended at the ServerHello."""
    if not facts.no_common_version:
        return None
    return Decision(
        decider="TLS version",
        hop="sni",
        cause="no-common-version",
        fact=f"{facts.server or 'the server'} and curl share no TLS version ({advice.versions(plan, facts)})",
        outcome=outcome,
        change=advice.tls_version(plan, facts),
        marks=("version",),
    )


def _sni(plan: Plan, facts: Facts, scenario: Scenario, outcome: str) -> Decision | None:
    """The server refused the ClientHello over its server name: alert unrecognized_name (it serves no such
    name), or a refusal when curl sent none (the URL names an address)."""
    failed = facts.tls_failed
    if failed is None or failed.stopped != "client-hello" or failed.alert not in _SNI_ALERTS:
        return None
    _, sni = facts.sni_read
    if plan.sni is None and not sni:  # curl sends none for an address in the URL
        cause = "no-sni"
        fact = (
            f"curl sent no SNI (the URL names the address {plan.url.host if plan.url else '?'}), and {facts.server} "
            f"refused the ClientHello with alert {failed.alert}"
        )
    elif failed.alert == "unrecognized_name":
        cause = "unrecognized-name"
        fact = f"{facts.server} refused the server name {sni or plan.sni} with alert unrecognized_name"
    else:
        return None
    return Decision(
        decider="SNI", hop="sni", cause=cause, fact=fact, outcome=outcome,
        change=advice.sni(cause, plan, scenario, facts.server), marks=("sni",),
    )  # fmt: skip


def _sni_certificate(plan: Plan, facts: Facts, scenario: Scenario, outcome: str) -> Decision | None:
    """curl's name check refused the certificate a load balancer chose by SNI (its primary one, for no SNI or an
    unknown name), while it holds another for the URL's host: the SNI decided which certificate came."""
    choice = sni_choice(plan, facts, scenario)
    if choice is None:
        return None
    sent, presented, instead = choice
    fact = (
        f"curl sent {sent}, so {facts.server} presented its primary certificate ({presented}), which curl's name "
        f"check refused; its certificate for {plan.url.host if plan.url else '?'} ({instead}) is chosen by SNI only"
    )
    return Decision(
        decider="SNI", hop="sni", cause="primary-certificate", fact=fact, outcome=outcome,
        change=advice.sni_certificate(plan, scenario, facts.server, instead), marks=("hello",),
    )  # fmt: skip


def _server_certificate(plan: Plan, facts: Facts, scenario: Scenario, outcome: str) -> Decision | None:
    """curl's own check of the server's certificate (its name, its chain, its dates) failed."""
    problem = facts.curl_cert_problem
    if problem is None:
        return None
    cause = advice.server_cert_cause(problem, facts.exit_code, scenario, facts.server)
    return Decision(
        decider="cert check",
        hop="server-cert",
        cause=cause,
        fact=f"curl could not load the CA certificates it was told to check with ({problem}), and gave up right "
        "after its ClientHello"
        if facts.exit_code == CurlExit.SSL_CACERT_BADFILE
        else f"curl refused {facts.server or 'the server'}'s certificate ({problem})",
        outcome=outcome,
        change=advice.server_cert(cause, plan, scenario, facts.server, problem),
        marks=("cert-fail",),
    )


def _client_certificate(plan: Plan, facts: Facts, scenario: Scenario, outcome: str) -> Decision | None:
    """The server refused the client certificate (missing, expired, unknown CA, no clientAuth...)."""
    failed = facts.tls_failed
    if failed is None or not facts.client_cert_refused:
        return None
    cause = advice.client_cert_cause(failed, facts.alert_in)
    how = facts.refusal
    if cause == "missing":
        fact = f"{failed.host} asked for a client certificate and none was sent ({failed.status_details}, {how})"
    else:
        detail, cert = failed.detail or failed.status_details, advice.shown_cert(failed, plan)
        fact = f"{failed.host} refused certificate {cert}: {detail} ({failed.status_details}, {how})"
    return _client_cert_check(cause, fact, plan, outcome, "alert", scenario, facts.server)


def _client_cert_check(
    cause: str, fact: str, plan: Plan, outcome: str, mark: Mark, scenario: Scenario, server: str | None
) -> Decision:
    """The client certificate decided (curl refused its own, or the server refused it): advice per cause."""
    change = advice.client_cert(cause, plan, advice.checker(scenario, server))
    return Decision(
        decider="client-cert check", hop="client-cert", cause=cause, fact=fact, outcome=outcome, change=change,
        marks=(mark,),
    )  # fmt: skip


# In the order curl meets them (the routing comes after: lab.explain.route).
_CHECKS = (
    _command_line, _own_certificate, _own_tls_options, _proxy, _ca_file, _tls_version, _sni, _sni_certificate,
    _server_certificate, _client_certificate,
)  # fmt: skip

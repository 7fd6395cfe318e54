"""The one decision of a step: which hop decided, why (the observed fact), and what would change it.

Theory of operation. A request stops at the first check that refuses it, in the order curl meets them:
its command line, its own client certificate and key, curl's check of the server certificate, the
server's check of the client certificate, the proxy (reachable? does it want a password?). When no
check stopped it - it was answered, or it went to a host that could not answer - the *routing* decided
(:mod:`lab.explain.route`): the proxy's DNS, ``--connect-to``, ``--resolve`` or the client's DNS.
:func:`decide` applies that order to :class:`~lab.explain.facts.Facts` and returns one
:class:`Decision`; the lesson, the advice and the decisive marks of the hop list and the diagram are
all read from it, so they cannot name two deciders. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lab.explain import advice, route
from lab.explain.curlplan import Plan
from lab.explain.facts import Facts
from lab.model.deciders import Decider, lead
from lab.model.scenario import Scenario
from lab.protocols.curlexit import CurlExit

HopKey = Literal["command-line", "resolve", "proxy", "proxy-dns", "tcp", "sni", "server-cert", "client-cert", "answer"]
# Diagram rows a decision can mark (lab.explain.diagram tags each row with one of these).
Mark = Literal[
    "usage", "no-address", "tcp", "ask", "proxy-dns", "refusal", "version", "cert-fail", "alert", "own-cert"
]  # fmt: skip


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

    @property
    def lesson(self) -> str:
        return f"{lead(self.decider)} decided: {self.fact}; {self.outcome}."


def decide(plan: Plan, facts: Facts, scenario: Scenario) -> Decision:
    """Apply the order of the checks, then the routing, to what was observed."""
    outcome = f"{facts.reached} answered" if facts.reached else f"curl exited {facts.exit_code}"
    for check in (_command_line, _own_certificate, _tls_version, _server_certificate, _client_certificate, _proxy):
        found = check(plan, facts, scenario, outcome)
        if found is not None:
            return found
    decider, cause, fact, change = route.decision(plan, facts, scenario)
    marks: tuple[Mark, ...] = ("tcp", "no-address")
    hop: HopKey = "resolve"
    if decider == "proxy DNS":
        hop, marks = "proxy-dns", ("ask", "proxy-dns", "refusal")
    elif facts.proxy is not None:  # the routing decision travelled in what the proxy was asked
        hop, marks = ("proxy-dns" if decider == "--connect-to" else "resolve"), ("ask",)
    return Decision(decider=decider, hop=hop, cause=cause, fact=fact, outcome=outcome, change=change, marks=marks)


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
    return _client_cert_check(cause, fact, plan, outcome, "own-cert")


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


def _server_certificate(plan: Plan, facts: Facts, scenario: Scenario, outcome: str) -> Decision | None:
    """curl's own check of the server's certificate (its name, its chain, its dates) failed."""
    problem = facts.curl_cert_problem
    if problem is None:
        return None
    cause = advice.server_cert_cause(problem, facts.exit_code)
    return Decision(
        decider="cert check",
        hop="server-cert",
        cause=cause,
        fact=f"curl refused {facts.server or 'the server'}'s certificate ({problem})",
        outcome=outcome,
        change=advice.server_cert(cause, plan, scenario, facts.server),
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
        detail = failed.detail or failed.status_details
        fact = f"{failed.host} refused certificate {failed.client_cert}: {detail} ({failed.status_details}, {how})"
    return _client_cert_check(cause, fact, plan, outcome, "alert")


def _client_cert_check(cause: str, fact: str, plan: Plan, outcome: str, mark: Mark) -> Decision:
    """The client certificate decided (curl refused its own, or the server refused it): advice per cause."""
    change = advice.client_cert(cause, plan)
    return Decision(
        decider="client-cert check", hop="client-cert", cause=cause, fact=fact, outcome=outcome, change=change,
        marks=(mark,),
    )  # fmt: skip


def _proxy(plan: Plan, facts: Facts, scenario: Scenario, outcome: str) -> Decision | None:
    """The proxy stopped the request before any target: unreachable, or it wants credentials."""
    proxy = plan.proxy
    if proxy is None or plan.lookup is None or plan.lookup.address is None:
        return None
    chosen = f"{route.chosen_by(proxy)} chose the proxy {proxy.scheme}://{proxy.address}"
    mark: Mark
    if facts.proxy is None:
        cause, mark, change = "unreachable", "tcp", advice.proxy_unreachable(scenario)
        fact = f"{chosen}, where nothing accepted a connection, so nothing reached {plan.target_host}"
    elif facts.proxy_refused_itself:
        refused = facts.refused
        assert refused is not None
        cause = "auth" if refused.status == 407 or facts.asked is None else "policy"
        mark, change = "refusal", advice.proxy_auth() if cause == "auth" else advice.proxy_policy(scenario)
        fact = f"{chosen}, and it refused to open a tunnel ({refused.summary or refused.reason})"
    else:
        return None
    return Decision(decider="proxy", hop="proxy", cause=cause, fact=fact, outcome=outcome, change=change, marks=(mark,))

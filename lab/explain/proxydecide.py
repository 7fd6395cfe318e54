"""When the proxy curl chose stopped the request before any target: which check it was, in the vocabulary.

In the order curl meets them: nothing accepted a connection at the proxy (``proxy``); an HTTPS proxy's TLS -
curl refused the proxy's certificate (``cert check``, said as "curl's check of the proxy's certificate"), or
the proxy refused curl's client certificate (``client-cert check``, "the proxy's client-certificate check");
curl and the proxy spoke different protocols, TLS to a plain proxy or the reverse (``proxy``); the proxy
refused for its own reasons - a password, its policy, or no answer at all: it closed, reset, or held the
request until curl gave up (``proxy``). A proxy that *could not reach* the destination (HTTP 502/503/504,
SOCKS 3-6) did not refuse: the routing decided (:mod:`lab.explain.route`). The hop of every decision here
is the proxy's. Pure.
"""

from __future__ import annotations

from lab.explain import advice, route
from lab.explain.curlplan import Plan
from lab.explain.facts import Facts
from lab.model.deciders import Decider
from lab.model.scenario import Scenario

# (decider, cause, fact, what would change it, the decider's name the lesson uses)
ProxyDecision = tuple[Decider, str, str, str, str | None]
_HANGUPS = {
    "fin": ("drop", "closed the connection without an answer"),
    "rst": ("reset", "reset the connection without an answer"),
    "hold": ("slow", "held the request without an answer until curl gave up"),
}


def decision(plan: Plan, facts: Facts, scenario: Scenario) -> ProxyDecision | None:
    proxy = plan.proxy
    if proxy is None or plan.lookup is None or plan.lookup.address is None:
        return None
    chosen = f"{route.chosen_by(proxy)} chose the proxy {proxy.scheme}://{proxy.address}"
    if facts.proxy is None:
        fact = f"{chosen}, where nothing accepted a connection, so nothing reached {plan.target_host}"
        return "proxy", "unreachable", fact, advice.proxy_unreachable(scenario), None
    limit = facts.proxy_limit
    if limit is not None and facts.asked is None:  # before any request: too many connections, or too slow
        fact = f"{chosen}, which closed the connection before any request: {limit.summary}"
        return "proxy", "limit", fact, advice.proxy_limit(limit.limit, plan), None
    tls = _tls(plan, facts, scenario, chosen)
    if tls is not None:
        return tls
    refused = facts.refused
    if refused is None or not facts.proxy_refused_itself:
        return None
    asked = f" for {facts.asked.target}" if facts.asked else ""
    if refused.status == 407 or (facts.asked is None and not refused.hangup):
        fact = f"{chosen}, and it refused to open a tunnel ({refused.summary or refused.reason})"
        return "proxy", "auth", fact, advice.proxy_auth(plan), None
    if refused.hangup in _HANGUPS:
        cause, did = _HANGUPS[refused.hangup]
        when = f"asked{asked}" if facts.asked else "before curl could ask for anything"
        fact = f"{chosen}; {when}, it {did}"
        return "proxy", cause, fact, advice.proxy_hangup(cause, plan, facts), None
    cause = "policy" if refused.status in (403, 2) else "refused"
    fact = f"{chosen}, and it refused to open a tunnel{asked} ({refused.summary or refused.reason})"
    return "proxy", cause, fact, advice.proxy_policy(cause, plan, facts, scenario), None


def _tls(plan: Plan, facts: Facts, scenario: Scenario, chosen: str) -> ProxyDecision | None:
    """An HTTPS proxy's TLS stopped it, or curl and the proxy did not speak the same protocol."""
    assert plan.proxy is not None
    scheme = plan.proxy.scheme
    if scheme == "https" and not facts.proxy_https and facts.proxy_garbage is not None:
        fact = f"{chosen} (TLS, -x https://), and the proxy speaks plain HTTP: it could not read curl's ClientHello"
        return "proxy", "proxy-scheme", fact, advice.proxy_scheme("http", plan), None
    if scheme != "https" and facts.proxy_https and facts.proxy_tls_failed is not None:
        fact = f"{chosen} (plain HTTP), and the proxy speaks TLS: it could not read curl's request as a ClientHello"
        return "proxy", "proxy-scheme", fact, advice.proxy_scheme("https", plan), None
    failed = facts.proxy_tls_failed
    if failed is not None and facts.proxy_client_cert_refused:
        cause = advice.client_cert_cause(failed, facts.alert_in)
        sent = plan.options.last("proxy-cert")
        did = "none was sent" if cause == "missing" else f"it refused {sent or 'the one curl sent'}: {failed.detail}"
        fact = f"{chosen}, which asked curl for a client certificate; {did} ({_alert(failed.alert)})"
        change = advice.proxy_client_cert(cause, plan)
        return "client-cert check", cause, fact, change, "the proxy's client-certificate check"
    problem = facts.proxy_cert_problem
    if problem is not None:
        cause = "proxy-" + advice.server_cert_cause(problem, facts.exit_code, scenario, facts.proxy)
        fact = f"{chosen}, and curl refused the proxy's certificate ({problem})"
        change = advice.proxy_cert(cause, plan, scenario, facts.proxy)
        return "cert check", cause, fact, change, "curl's check of the proxy's certificate"
    return None


def _alert(alert: str | None) -> str:
    return f"alert {alert}" if alert else "no alert"

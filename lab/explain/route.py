"""When no check refused the request: which routing decision chose where it went, and what would change it.

The candidates, in the order they override each other: the proxy's own DNS (curl sent a name through an
HTTP proxy or socks5h://), ``--connect-to`` (curl swapped the host and port it connects to or asks for),
``--resolve`` (curl's DNS cache), and the client's DNS (the hosts file, or no lookup for an IP literal).
What curl *meant* comes from :mod:`lab.explain.curlplan`; where the request *went* comes from the facts.
Pure.
"""

from __future__ import annotations

from lab.explain import curlplan
from lab.explain.curlplan import Plan, Proxy
from lab.explain.ending import ending, followed
from lab.explain.facts import Facts
from lab.model.deciders import Decider
from lab.model.scenario import Scenario

Route = tuple[Decider, str, str, str]  # (decider, cause, the fact, what would change it)
Decided = tuple[Decider, str, str, str, str]  # a Route and how the host ended it (lab.explain.ending: "" if answered)


def chosen_by(proxy: Proxy) -> str:
    return f"the environment variable {proxy.source}" if proxy.from_env else f"the {proxy.source} option"


def went(facts: Facts) -> str:
    """Where the request went, as observed: 'glb at 88.88.88.88:443' or why nowhere."""
    if facts.server is not None:
        return f"{facts.server} ({facts.server_address})"
    return "no lab host"


def decision(plan: Plan, facts: Facts, scenario: Scenario) -> Decided:
    """The routing decision, with what the host it chose did when it could not (or did not) answer, and the
    redirects curl followed to get there."""
    decider, cause, fact, change = _routing(plan, facts, scenario)
    end = ending(plan, facts)
    if end is not None and not (decider == "proxy DNS" and end.kind == "proxy-unreached"):  # (its fact says it)
        fact, change = f"{fact}; {end.fact}", f"{end.advice} {change}"
    limit = facts.proxy_limit
    if limit is not None and facts.asked is not None:  # the proxy gave up on the tunnel (curl's -m, but the proxy's)
        fact += f"; the proxy closed the tunnel at its limits.{limit.limit} ({limit.value:g})"
    if facts.redirects:
        fact = f"with -L curl followed {followed(facts)}; for its last request, {fact}"
        first = facts.redirects[0]
        change += f" Without -L curl stops at {first.host}'s {first.status}."
    return decider, cause, fact, change, end.kind if end else ""


def _routing(plan: Plan, facts: Facts, scenario: Scenario) -> Route:
    assert plan.url is not None
    assert plan.lookup is not None
    if plan.proxy is not None and plan.lookup.address is None:
        return _proxy_not_found(plan.proxy)
    if plan.proxy is not None and plan.resolver == "proxy":
        return _proxy_dns(plan, facts, scenario)
    if plan.connect_to:
        return _connect_to(plan, facts, scenario)
    look = plan.target_lookup or plan.lookup
    if plan.proxy is not None and plan.target_lookup is None:  # an IP literal handed to the proxy as it is
        look = curlplan.lookup(plan.target_host, plan.target_port, (), {})
    via = f", and curl asked the proxy for {facts.asked.target}" if facts.asked else ""
    if look.how == "--resolve":
        without = curlplan.plan(
            plan.options.without("--resolve"), plan.env, scenario.client.hosts, curl_version=plan.curl_version
        )
        return (
            "--resolve",
            "resolve",
            f"curl's DNS cache (--resolve {look.entry}) said {look.name}:{look.port} is {look.listed}{via}"
            + (f", and curl went to {went(facts)}" if look.more else ""),
            f"Without it curl would connect to {where(without, scenario)}. Behind an HTTP proxy or socks5h:// "
            "--resolve is ignored: use --connect-to there.",
        )
    if look.how == "IP literal":
        named = cert_name(scenario, facts.server)
        name_hint = (
            f" A name in the URL (https://{named} with --resolve {named}:{plan.url.port}:{look.name}) sends the "
            f"SNI and Host {named}."
            if named and named != look.name
            else ""
        )
        return (
            "client DNS",
            "ip-literal",
            f"the URL names the address {look.name} itself, so there was nothing to look up{via}",
            f"Another address in the URL goes to another host.{name_hint}",
        )
    if look.address is None:
        return (
            "client DNS",
            "not-found",
            f"{look.name} is not in the client's hosts file, so curl had no address for it",
            f"Give curl the address: --resolve {look.name}:{look.port}:ADDRESS (or add {look.name} to the "
            "client's hosts file, [client] hosts).",
        )
    glb_ip = _suggest_glb(scenario, look.name)
    pin = f"--resolve {look.name}:{look.port}:{glb_ip}" if glb_ip and glb_ip != look.address else "--resolve"
    return (
        "client DNS",
        "hosts-file",
        f"the client's hosts file says {look.name} is {look.address}{via}, so curl went to {went(facts)}",
        f"To go elsewhere without touching DNS: {pin} (SNI and Host stay {look.name}).",
    )


def _proxy_not_found(proxy: Proxy) -> Route:
    return (
        "client DNS",
        "not-found",
        f"the proxy's host {proxy.host} is not in the client's hosts file, so curl could not reach the proxy",
        f"Give the proxy as an address (-x {proxy.scheme}://ADDRESS:{proxy.port}), or add {proxy.host} "
        "to the client's hosts file ([client] hosts).",
    )


def _proxy_dns(plan: Plan, facts: Facts, scenario: Scenario) -> Route:
    assert plan.url is not None
    assert plan.proxy is not None
    proxy = plan.proxy
    asked = facts.asked.target if facts.asked else plan.tunnel
    glb_ip = _suggest_glb(scenario, plan.target_host)
    target = f"{plan.target_host}:{plan.target_port}"
    if facts.resolved is not None:
        said = f"the proxy's own DNS said {facts.resolved.name} is {facts.resolved.address}"
    elif facts.refused is not None:
        said = f"the proxy could not reach it ({facts.refused.summary or facts.refused.reason})"
    else:
        said = "the proxy made no lookup that reached a lab host"
    ignored = " --resolve only feeds curl's own lookups, and curl made none for it." if plan.options.resolve else ""
    fact = f"curl asked the proxy ({chosen_by(proxy)}) for {asked}, and {said}.{ignored}".rstrip(".")
    if facts.resolved is not None and facts.resolved.address == glb_ip:
        return (
            "proxy DNS",
            "proxy-dns",
            fact,
            f"This route depends on the proxy's DNS; to pin it from the client anyway: --connect-to "
            f"{target}:{glb_ip}:{plan.target_port}.",
        )
    other = "use socks5:// so curl resolves it (with --resolve)" if proxy.scheme == "socks5h" else "fix the proxy's DNS"
    fix_to = glb_ip or "ADDRESS"
    return (
        "proxy DNS",
        "proxy-dns" if facts.refused is None else "proxy-refused-name",
        fact,
        f"To choose the address from the client: --connect-to {target}:{fix_to}:{plan.target_port} (curl then "
        f"asks for {fix_to}:{plan.target_port}; SNI and Host stay {plan.url.host}), or {other}.",
    )


def _connect_to(plan: Plan, facts: Facts, scenario: Scenario) -> Route:
    assert plan.url is not None
    without = curlplan.plan(
        plan.options.without("--connect-to"), plan.env, scenario.client.hosts, curl_version=plan.curl_version
    )
    before = f"connect to {where(without, scenario)}"
    if without.proxy is not None:
        looked = without.target_lookup.name if without.target_lookup else "the target"
        before = f"ask the proxy for {without.tunnel}" if without.tunnel else f"find no address for {looked} itself"
    target = f"{plan.target_host}:{plan.target_port}"
    arrived = f", where {went(facts)} accepted" if facts.server else ", where nothing accepted a connection"
    if facts.asked is not None:
        arrived = f"; the proxy was asked for {facts.asked.target}"
    return (
        "--connect-to",
        "connect-to",
        f"--connect-to {plan.connect_to} made curl use {target} instead of {plan.url.host}:{plan.url.port}, "
        f"keeping SNI and Host {plan.url.host}{arrived}",
        f"Without it curl would {before}.",
    )


def where(plan: Plan, scenario: Scenario) -> str:
    """Where ``plan`` would send curl's TCP connection, with the lab host there."""
    if plan.target_lookup is not None:
        found = plan.target_lookup
        if found.address is None:
            return "nowhere (the name does not resolve)"
        host = _name_of(scenario, found.address, found.port)
        return f"{found.address}:{found.port} ({host}, found by the {found.how}) through the SOCKS proxy"
    if plan.tcp is None:
        return "nowhere (the name does not resolve)"
    return f"{plan.tcp[0]}:{plan.tcp[1]} ({_name_of(scenario, *plan.tcp)})"


def _name_of(scenario: Scenario, address: str, port: int | None) -> str:
    host = scenario.host_at(address, port)
    return host.name if host else "no lab host"


def _suggest_glb(scenario: Scenario, name: str) -> str | None:
    """The address of the load balancer whose certificate carries ``name`` (the usual intended target)."""
    glbs = [h for h in scenario.hosts.values() if h.kind == "glb"]
    for host in glbs:
        cert = getattr(host.settings, "cert", None)
        if cert is not None and name in cert.names:
            return host.ip
    return glbs[0].ip if glbs else None


def cert_name(scenario: Scenario, server: str | None) -> str | None:
    """The first name ``server``'s certificate carries (its subject's CN when it has no DNS names)."""
    host = scenario.hosts.get(server or "")
    cert = getattr(host.settings, "cert", None) if host else None
    if cert is None:
        return None
    return cert.names[0] if cert.names else dict(cert.subject).get("CN")

"""Why a request reached the host it reached: the routing plan meets what the hosts saw.

Theory of operation. :func:`lab.curlplan.plan` says what curl *meant* to do; the step's events say what the
world *did* with it (who accepted, what the proxy was asked and how it resolved it, which SNI and Host
arrived, which certificate check failed). :func:`explain` walks the hops in the order a packet meets them -
client resolution, proxy choice, proxy DNS, TCP target, SNI/Host, server certificate, client certificate,
answer - and picks the one *decisive* hop: the first decision that, changed, would change who answered.
It also says what to change, computed where possible by re-planning without the decisive option.
Pure: events in, verdict out; no sockets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from lab.explain import curlplan
from lab.explain.curlplan import Plan
from lab.model.events import (
    Accepted,
    ClientHelloSeen,
    Event,
    Forwarded,
    Listening,
    RequestReceived,
    Resolved,
    TlsFailed,
    TlsOk,
    TunnelRefused,
    TunnelRequested,
    answered,
    first,
)
from lab.model.scenario import Scenario

Decisive = Literal[
    "client DNS", "--resolve", "--connect-to", "proxy DNS", "SNI", "cert check", "client-cert check", "command line"
]
Status = Literal["ok", "fail", "skip", "info"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Hop:
    key: str  # "resolve", "proxy", "proxy-dns", "tcp", "sni", "server-cert", "client-cert", "answer"
    title: str
    text: str
    status: Status = "info"
    decisive: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One arrow of the sequence diagram (``src == dst``: a note on that lane)."""

    src: str
    dst: str
    label: str
    decisive: bool = False
    failed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    hops: tuple[Hop, ...]
    decisive: Decisive
    reached: str | None
    lesson: str  # one line
    change: str  # what would change the outcome
    lanes: tuple[str, ...]
    messages: tuple[Message, ...]
    drift: tuple[str, ...] = ()  # where the emulator's plan and real curl disagree (should be empty)

    def to_json(self) -> dict[str, Any]:
        return {
            "decisive": self.decisive,
            "lesson": self.lesson,
            "change": self.change,
            "hops": [asdict(h) for h in self.hops],
            "drift": list(self.drift),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Observed:
    """The parts of a curl run the verdict needs (a :class:`lab.runner.CurlResult` provides them)."""

    exit_code: int
    error: str | None
    events: tuple[Event, ...]
    connected: tuple[str, ...] = ()  # curl -v "Connected to" lines
    proxy_env: tuple[str, ...] = ()
    verbose_lines: tuple[str, ...] = ()


def _name_of(scenario: Scenario, address: str | None, port: int | None) -> str:
    if not address:
        return "?"
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


def explain(plan: Plan, observed: Observed, scenario: Scenario) -> Verdict:
    events = tuple(e for e in observed.events if not isinstance(e, Listening))
    proxies = {h.name for h in scenario.hosts.values() if h.kind in ("http-proxy", "socks5")}
    hops: list[Hop] = []
    lanes = ["client"]
    msgs: list[Message] = []
    response = answered(events)
    reached = response.host if response else None

    if plan.usage_error or observed.exit_code == 2:
        error = plan.usage_error or observed.error or "curl refused the command line"
        hops.append(Hop(key="resolve", title="command line", text=f"{error} - curl sent nothing", status="fail"))
        hops[-1] = Hop(**{**asdict(hops[-1]), "decisive": True})
        msgs.append(Message(src="client", dst="client", label="curl: usage error, nothing sent", decisive=True))
        return Verdict(
            hops=tuple(hops),
            decisive="command line",
            reached=None,
            lesson=f"The command line decided: {error.removeprefix('curl: ')}, so curl exited 2 before any DNS "
            "lookup or connection.",
            change="Use an option curl has (curl --help all); to choose the address behind a proxy, --connect-to.",
            lanes=tuple(lanes),
            messages=tuple(msgs),
        )
    assert plan.url is not None
    assert plan.lookup is not None
    url, proxy, look = plan.url, plan.proxy, plan.lookup
    target = f"{plan.target_host}:{plan.target_port}"

    # 1. client resolution
    pinned = [r for r in plan.options.resolve if r.lower().startswith(f"{url.host.lower()}:")]
    if proxy is not None and plan.resolver != "client":
        unused = f" --resolve {pinned[0]} sits in curl's DNS cache, unused." if pinned else ""
        text = (
            f"curl looks up only the proxy's host {proxy.host} ({look.how}); it sends the name "
            f"{plan.target_host} to the proxy unresolved.{unused}"
        )
        if plan.resolver == "nobody":
            text = f"curl looks up only the proxy's host {proxy.host} ({look.how}); the target {target} is an address."
        resolve_hop = Hop(key="resolve", title="client resolution", text=text)
    else:
        lk = plan.target_lookup or look
        how = {"hosts file": f"the hosts file ({lk.entry})", "--resolve": f"--resolve {lk.entry}"}.get(lk.how, lk.how)
        text = f"{lk.name} → {lk.address} from {how}" if lk.address else f"{lk.name}: not in the hosts file"
        if lk.how == "IP literal":
            text = f"{lk.name} is an IP address: no lookup"
        if plan.connect_to:
            text = f"--connect-to {plan.connect_to} replaces {url.host}:{url.port} with {target}; " + text
        resolve_hop = Hop(key="resolve", title="client resolution", text=text, status="ok" if lk.address else "fail")
    hops.append(resolve_hop)

    # 2. proxy choice
    if proxy is not None:
        why = f"the {proxy.source} option" if not proxy.from_env else f"the environment variable {proxy.source}"
        hops.append(Hop(key="proxy", title="proxy", text=f"{proxy.scheme}://{proxy.address}, chosen by {why}"))
        lanes.append(_name_of(scenario, look.address, proxy.port) if look.address else "proxy")
    else:
        text = plan.no_proxy or "none: no -x and no proxy variable for this URL"
        if plan.ignored_env and not plan.no_proxy:
            text = "none: " + "; ".join(plan.ignored_env)
        hops.append(Hop(key="proxy", title="proxy", text=text, status="skip"))
    proxy_lane = lanes[1] if proxy is not None else None

    # 3. the proxy's request and its DNS
    asked = first(events, TunnelRequested, proxies)
    resolved = first(events, Resolved, proxies)
    refused = first(events, TunnelRefused, proxies)
    if proxy is not None and proxy_lane:
        msgs.append(Message(src="client", dst=proxy_lane, label=f"TCP {proxy.address}"))
        kind = plan.tunnel_kind or "CONNECT"
        ask_text = f"{kind} {asked.target if asked else plan.tunnel}"
        if asked is None:
            hops.append(Hop(key="proxy-dns", title="proxy DNS", text="the proxy received nothing", status="fail"))
        else:
            if resolved is not None:
                if resolved.table == "IP literal":
                    dns = f"{resolved.name} is an address: the proxy makes no lookup"
                else:
                    dns = f"the proxy's own DNS says {resolved.name} → {resolved.address}"
                text = f"asked {ask_text}; {dns} ({resolved.upstream})"
            else:
                text = f"asked {ask_text}; " + (refused.summary if refused else "no upstream")
            hops.append(Hop(key="proxy-dns", title="proxy DNS", text=text, status="fail" if refused else "ok"))
        msgs.append(Message(src="client", dst=proxy_lane, label=ask_text))
        if resolved is not None:
            msgs.append(
                Message(
                    src=proxy_lane,
                    dst=proxy_lane,
                    label=f"DNS {resolved.name} → {resolved.address}"
                    if resolved.table != "IP literal"
                    else f"{resolved.name}: IP literal, no lookup",
                )
            )
        if refused is not None:
            msgs.append(Message(src=proxy_lane, dst="client", label=refused.summary[:60], failed=True))

    # 4. TCP target: the first non-proxy host that accepted
    accepted = next((e for e in events if isinstance(e, Accepted) and e.host not in proxies), None)
    if accepted is not None:
        where = scenario.hosts[accepted.host].address if accepted.host in scenario.hosts else "?"
        hops.append(Hop(key="tcp", title="TCP target", text=f"{accepted.host} at {where}", status="ok"))
        lanes.append(accepted.host)
        src = proxy_lane or "client"
        msgs.append(Message(src=src, dst=accepted.host, label=f"TCP {where}"))
    else:
        address = f"{plan.tcp[0]}:{plan.tcp[1]}" if plan.tcp else "nowhere (name not resolved)"
        hops.append(Hop(key="tcp", title="TCP target", text=f"no lab host accepted ({address})", status="fail"))
    server = accepted.host if accepted else None

    # 5. SNI and Host
    tls_ok = first(events, TlsOk, {server} if server else set())
    tls_failed = first(events, TlsFailed, {server} if server else set())
    hello = tls_ok or tls_failed or first(events, ClientHelloSeen, proxies)
    request = first(events, RequestReceived, {server} if server else set())
    sni = hello.sni if hello else plan.sni
    authority = request.authority if request else None
    sni_text = f"SNI {sni or 'none (IP literal)'}" + (f", Host {authority}" if authority else "")
    if hello is None and url.scheme == "https":
        sni_text = f"curl would send SNI {plan.sni or 'none'}; no TLS ClientHello reached a lab host"
    hops.append(Hop(key="sni", title="SNI and Host", text=sni_text))
    if server:
        msgs.append(Message(src="client", dst=server, label=f"TLS ClientHello, SNI {sni or 'none'}"))

    # 6. server certificate, 7. client certificate
    code, error = observed.exit_code, observed.error or ""
    if not plan.verify_name:
        server_cert = Hop(key="server-cert", title="server certificate", text="not checked (-k)", status="skip")
    elif code in (60, 51) and any(k in error for k in ("subject name", "SSL certificate problem")):
        server_cert = Hop(
            key="server-cert", title="server certificate", text=error.removeprefix("curl: "), status="fail"
        )
    elif tls_ok is not None:
        server_cert = Hop(
            key="server-cert", title="server certificate", text=f"valid for {plan.verify_name}, trusted", status="ok"
        )
    else:
        server_cert = Hop(key="server-cert", title="server certificate", text="never received", status="skip")
    hops.append(server_cert)
    client_cert_failed = False
    if code == 58:
        text, status = f"curl could not use it: {error.removeprefix('curl: ')}", "fail"
        client_cert_failed = True
    elif server and scenario.hosts.get(server) is not None and scenario.hosts[server].kind == "glb":
        if tls_failed is not None:
            detail = tls_failed.status_details or tls_failed.reason or tls_failed.summary
            alert = tls_failed.alert
            text = f"{server} refused " + (
                f"certificate {tls_failed.client_cert}" if tls_failed.client_cert else "(none sent)"
            )
            text += f": {detail}" + (f" (alert {alert})" if alert else "")
            status = "fail"
            client_cert_failed = True
        elif tls_ok is not None:
            cert = tls_ok.client_cert
            problem = tls_ok.verdict
            text = f"{cert or 'none sent'}" + (
                f": {problem}, let through by the mTLS mode" if problem else ": accepted"
            )
            status = "ok"
        else:
            text, status = "the handshake did not finish", "skip"
    else:
        sent = f" ({plan.client_cert} sent anyway)" if plan.client_cert else ""
        text, status = f"{server or 'no server'} does not ask for one{sent}", "skip"
    hops.append(Hop(key="client-cert", title="client certificate", text=text, status=status))  # type: ignore[arg-type]
    if server and tls_failed is not None:
        label = f"alert {tls_failed.alert}" if tls_failed.alert else "handshake fails"
        msgs.append(Message(src=server, dst="client", label=label, failed=True))
    elif server and tls_ok is not None:
        msgs.append(Message(src=server, dst="client", label=f"{tls_ok.version} ok, ALPN {tls_ok.alpn}"))
        if code in (60, 51):
            msgs.append(Message(src="client", dst="client", label="curl: certificate name check fails", failed=True))

    # 8. answer
    forwarded = first(events, Forwarded)
    if response is not None and reached is not None:
        behind = f", served by backend {forwarded.backend}" if forwarded else ""
        hops.append(
            Hop(
                key="answer",
                title="answered",
                text=f"{reached}: HTTP {response.status}{behind}",
                status="ok",
            )
        )
        if request is not None:
            msgs.append(
                Message(
                    src="client",
                    dst=server or reached,
                    label=f"{request.method} {request.target}, Host {authority}",
                )
            )
        if forwarded is not None:
            backend = forwarded.backend
            lanes.append(backend)
            msgs.append(Message(src=reached, dst=backend, label="URL map → backend"))
            msgs.append(Message(src=backend, dst=reached, label="response"))
        msgs.append(Message(src=server or reached, dst="client", label=f"{response.status}, served by {reached}"))
    else:
        hops.append(
            Hop(
                key="answer",
                title="answered",
                text=f"nobody (curl exit {code}: {error.removeprefix('curl: ')})",
                status="fail",
            )
        )

    decisive, lesson, change = _decide(plan, observed, scenario, hops, client_cert_failed, resolved, reached, server)
    decisive_hop = {
        "client DNS": "resolve",
        "--resolve": "resolve",
        "--connect-to": "resolve",
        "proxy DNS": "proxy-dns",
        "SNI": "sni",
        "cert check": "server-cert",
        "client-cert check": "client-cert",
        "command line": "resolve",
    }[decisive]
    if decisive == "--connect-to" and proxy is not None:
        decisive_hop = "proxy-dns"
    hops = [Hop(**{**asdict(h), "decisive": h.key == decisive_hop}) for h in hops]
    msgs = [Message(**{**asdict(m), "decisive": _marks(decisive_hop, m, proxy_lane, plan)}) for m in msgs]
    return Verdict(
        hops=tuple(hops),
        decisive=decisive,
        reached=reached,
        lesson=lesson,
        change=change,
        lanes=tuple(dict.fromkeys(lanes)),
        messages=tuple(msgs),
        drift=drift(plan, observed, events, proxies),
    )


def _marks(hop: str, m: Message, proxy_lane: str | None, plan: Plan) -> bool:
    """Which arrows of the diagram belong to the decisive hop (highlighted)."""
    if hop == "proxy-dns":
        return (m.src == m.dst == proxy_lane) or m.label.startswith(plan.tunnel_kind or "~")
    if hop == "resolve":
        return m.label.startswith("TCP") and m.src == "client"
    if hop == "sni":
        return "ClientHello" in m.label
    if hop == "server-cert":
        return "name check" in m.label or "ok, ALPN" in m.label
    if hop == "client-cert":
        return m.failed and m.dst == "client"
    return False


def _decide(
    plan: Plan,
    observed: Observed,
    scenario: Scenario,
    hops: list[Hop],
    client_cert_failed: bool,
    resolved: Resolved | None,
    reached: str | None,
    server: str | None,
) -> tuple[Decisive, str, str]:
    assert plan.url is not None
    assert plan.lookup is not None
    url, proxy = plan.url, plan.proxy
    code = observed.exit_code
    glb_ip = _suggest_glb(scenario, url.host)
    outcome = f"{reached} answered" if reached else f"curl exited {code}"
    server_name_check = any(k in (observed.error or "") for k in ("subject name", "SSL certificate problem"))
    cert_check: tuple[Decisive, str, str] = (
        "cert check",
        f"curl's server-certificate check decided: the certificate does not name {plan.verify_name}; {outcome}.",
        f"Ask for a name the certificate carries (https://{_cert_name(scenario, server) or 'mydomain'}"
        f"{f' with --resolve NAME:{url.port}:{url.host}' if url.ip_literal else ''}), or -k to skip the "
        "check (testing only).",
    )
    if code in (60, 51) and server_name_check:
        return cert_check
    if client_cert_failed:
        hop = next(h for h in hops if h.key == "client-cert")
        fix = (
            "send a certificate from the CA it trusts: --cert certs/client.crt --key certs/client.key"
            if plan.client_cert is None or code != 58
            else "give the key that belongs to the certificate (--key must match --cert)"
        )
        return "client-cert check", f"The client-certificate check decided: {hop.text}; {outcome}.", f"To pass, {fix}."
    if code in (60, 51):
        return cert_check
    if proxy is not None and plan.resolver == "proxy":
        name, address = (resolved.name, resolved.address) if resolved else (plan.target_host, "?")
        ignored = " --resolve only feeds curl's own lookups, and curl made none for it." if plan.options.resolve else ""
        fix_to = glb_ip or "ADDRESS"
        other = (
            "use socks5:// so curl resolves it (with --resolve)" if proxy.scheme == "socks5h" else "fix the proxy's DNS"
        )
        if address == glb_ip:
            return (
                "proxy DNS",
                f"Proxy DNS decided: curl asked the proxy ({proxy.source}) for {plan.tunnel}, and the proxy's own DNS "
                f"said {name} is {address}, so {outcome}.",
                f"This route depends on the proxy's DNS; to pin it from the client anyway: --connect-to "
                f"{plan.target_host}:{plan.target_port}:{address}:{plan.target_port}.",
            )
        return (
            "proxy DNS",
            f"Proxy DNS decided: curl asked the proxy ({proxy.source}) for {plan.tunnel}, and the proxy's own DNS "
            f"said {name} is {address}, so {outcome}.{ignored}",
            f"To choose the address from the client: --connect-to {plan.target_host}:{plan.target_port}:{fix_to}:"
            f"{plan.target_port} (curl then asks for {fix_to}:{plan.target_port}; SNI and Host stay {url.host}), or "
            + other
            + ".",
        )
    if plan.connect_to:
        without = curlplan.plan(_without(plan.argv, "--connect-to"), plan.env, scenario.client.hosts)
        before = (
            f"ask the proxy for {without.tunnel}"
            if without.proxy is not None
            else f"connect to {_where(without, scenario)}"
        )
        return (
            "--connect-to",
            f"--connect-to decided: {plan.connect_to} made curl use {plan.target_host}:{plan.target_port} "
            f"instead of {url.host}:{url.port}, keeping SNI and Host {url.host}; {outcome}.",
            f"Without it curl would {before}.",
        )
    look = plan.target_lookup or plan.lookup
    via = f" through {proxy.scheme}://{proxy.address} ({proxy.source}), which got the address" if proxy else ""
    if look.how == "--resolve":
        without = curlplan.plan(_without(plan.argv, "--resolve"), plan.env, scenario.client.hosts)
        return (
            "--resolve",
            f"--resolve decided: curl's DNS cache said {look.name}:{look.port} is {look.address}{via}; {outcome}.",
            f"Without it curl would connect to {_where(without, scenario)}. Behind an HTTP proxy or socks5h:// "
            "--resolve is ignored: use --connect-to there.",
        )
    if look.how == "IP literal":
        return (
            "client DNS",
            f"The URL names the address itself ({look.name}): no lookup{via}; {outcome}.",
            f"A name in the URL (https://mydomain with --resolve mydomain:{url.port}:{look.name}) gives the "
            "server the SNI and Host it expects.",
        )
    pin = f"--resolve {look.name}:{look.port}:{glb_ip}" if glb_ip and glb_ip != look.address else "--resolve"
    return (
        "client DNS",
        f"Client DNS decided: the hosts file says {look.name} is {look.address or 'unknown'}{via}; {outcome}.",
        f"To go elsewhere without touching DNS: {pin} (SNI and Host stay {look.name}).",
    )


def _cert_name(scenario: Scenario, server: str | None) -> str | None:
    host = scenario.hosts.get(server or "")
    cert = getattr(host.settings, "cert", None) if host else None
    return cert.names[0] if cert is not None and cert.names else None


def _where(plan: Plan, scenario: Scenario) -> str:
    if plan.target_lookup is not None:
        found = plan.target_lookup
        if found.address is None:
            return "nowhere (the name does not resolve)"
        return (
            f"{found.address}:{found.port} ({_name_of(scenario, found.address, found.port)}, found by the "
            f"{found.how}) through the SOCKS proxy"
        )
    if plan.tcp is None:
        return "nowhere (the name does not resolve)"
    return f"{plan.tcp[0]}:{plan.tcp[1]} ({_name_of(scenario, *plan.tcp)})"


def _without(argv: tuple[str, ...], option: str) -> tuple[str, ...]:
    out: list[str] = []
    skip = False
    for word in argv:
        if skip:
            skip = False
            continue
        if word == option:
            skip = True
            continue
        out.append(word)
    return tuple(out)


def drift(plan: Plan, observed: Observed, events: tuple[Event, ...], proxies: set[str]) -> tuple[str, ...]:
    """Where real curl did something the plan did not predict: a bug in the emulator, shown to the learner."""
    problems: list[str] = []
    asked = first(events, TunnelRequested, proxies)
    if asked is not None and plan.tunnel is not None and asked.target != plan.tunnel:
        problems.append(f"the proxy was asked for {asked.target}, the plan said {plan.tunnel}")
    if asked is not None and plan.proxy is None:
        problems.append("a proxy was used, the plan said none")
    if plan.tcp is not None and observed.connected:
        ip = observed.connected[0].split("(")[-1].split(")")[0]
        if ip != plan.tcp[0]:
            problems.append(f"curl connected to {ip}, the plan said {plan.tcp[0]}")
    if observed.verbose_lines and plan.options.verbose and tuple(observed.proxy_env) != plan.proxy_env:
        problems.append(f"curl reported proxy variables {observed.proxy_env}, the plan said {plan.proxy_env}")
    return tuple(problems)


def explain_result(scenario: Scenario, result: Any) -> tuple[Plan, Verdict]:
    """Plan and verdict for a :class:`lab.runner.CurlResult` run in ``scenario``'s world."""
    planned = curlplan.plan(result.argv, result.env, scenario.client.hosts)
    observed = Observed(
        exit_code=result.exit_code,
        error=result.error,
        events=tuple(result.events),
        connected=tuple(result.verbose.connected),
        proxy_env=tuple(result.proxy_env),
        verbose_lines=tuple(result.verbose.key_lines),
    )
    return planned, explain(planned, observed, scenario)

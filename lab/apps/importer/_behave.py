"""Step 3c of ``lab import``: the host settings that make a host behave the way a transcript shows. Pure.

One function per host role: :func:`origin` (the certificate it presented, where its handshake failed, the
client certificate it asked for, how it answered), :func:`proxy` (an HTTPS proxy's certificate, its login,
its rules per destination, a SOCKS proxy that hangs up), and :func:`answers` (each ``-L`` hop's status and
``Location``). Every setting records the transcript line that called for it.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from lab.apps.importer._classify import Situation
from lab.apps.importer._facts import Cert, Hop
from lab.apps.importer._observe import Observation, parse_subject
from lab.apps.importer._redact import dns_name
from lab.apps.importer._world import HostPlan
from lab.protocols.netaddr import is_ip

OTHER_NAME = "other-name.example"  # a certificate name that is not the host curl checked (a mismatch)
RIGHT_PASSWORD = "the-right-password"  # what the lab's proxy accepts when the transcript's password failed


def toml(value: str) -> str:
    """A TOML basic string (JSON's escapes are a subset TOML accepts)."""
    return json.dumps(value, ensure_ascii=False)


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(toml(v) for v in values) + "]"


def inline(pairs: dict[str, str]) -> str:
    """``{ key = value, ... }`` from already-rendered values."""
    return "{ " + ", ".join(f"{k} = {v}" for k, v in pairs.items()) + " }"


def tls13(obs: Observation) -> bool:
    """Whether the server side of this session spoke (or would speak) TLS 1.3 with today's curl."""
    options, facts = obs.options, obs.facts
    capped = options.last("tls-max") in ("1.0", "1.1", "1.2") and obs.situation.where != "proxy"  # (not the proxy's)
    if capped or (facts.version and facts.version < (7, 52, 0)):
        return False
    versions = [line[2:9] for line in facts.lines if re.match(r"^\* TLSv1\.[0-3] \(", line)]
    if facts.verbose.tls_version:
        return facts.verbose.tls_version.startswith("TLSv1.3")
    if versions:
        return versions[-1] == "TLSv1.3"
    # the server's verdict on a client certificate during the handshake (35, 60) means TLS 1.2
    return not (obs.situation.point == "client-cert" and obs.exit_code in (35, 60))


def kind_for(obs: Observation) -> str:
    """``reset`` for a server that takes the connection and never answers TLS; ``glb`` for one that asked for a
    client certificate and hung up without an alert when none came; ``origin`` otherwise."""
    situation = obs.situation
    if situation.kind in ("silent", "connect-timeout"):
        return "reset"
    if situation.kind == "tls-close" and situation.point == "client-hello":
        return "reset"
    if quiet_refusal(obs):
        return "glb"
    return "origin"


def quiet_refusal(obs: Observation) -> str | None:
    """The ``failure_style`` of a load balancer that asked for a client certificate (Request CERT), refused the one
    it got (or that none came), and hung up without sending an alert - during a TLS 1.2 handshake, or after TLS
    1.3's, at the request - as Google's can (an OpenSSL server always sends its alert: an origin cannot play it)."""
    situation, facts = obs.situation, obs.facts
    if not facts.shook("Request CERT") or situation.alert:
        return None
    if situation.kind == "tls-close" and situation.point == "client-cert":
        return "reset"
    if tls13(obs) and situation.kind in ("reset-after-request", "eof-after-request"):  # (HTTP/2: one race)
        return "reset"
    if tls13(obs) and situation.kind == "empty-reply":
        return "empty-reply"
    return None


def _load_balancer(host: HostPlan, obs: Observation, name: str) -> None:
    style = quiet_refusal(obs)
    if style is None:
        return  # another session decided this host's behaviour
    checked = None if obs.options.flag("insecure") else obs.plan.verify_name
    _certificate(host, obs, name, checked)
    why = "asked for a client certificate, refused it, and hung up without an alert (mTLS REJECT_INVALID)"
    host.set("failure_style", toml(style), why, obs.line)
    if not tls13(obs):
        host.set("tls", '{ max = "1.2" }', "the transcript's handshake was TLS 1.2", obs.line)


def silent(host: HostPlan, obs: Observation) -> None:
    host.set("mode", toml("silent"), "took the connection and never answered", obs.line)


def origin(host: HostPlan, obs: Observation, name: str, *, followed: tuple[str, str] | None = None) -> None:
    """The settings of the server a session's outcome happened at (or a ``reset`` host's mode).

    ``followed``: (scheme, host) of the URL a redirect led to, when the outcome happened there (``-L``)."""
    situation = obs.situation
    if host.kind == "glb":
        _load_balancer(host, obs, name)
        return
    if host.kind not in ("reset", "origin"):
        return  # the address is another session's proxy: noted by World.host
    if host.kind == "reset":
        if situation.kind == "tls-close":
            host.set("mode", toml(situation.close), f"closed ({situation.close}) right after the ClientHello", obs.line)
        else:
            silent(host, obs)
        return
    url = obs.plan.url
    scheme = followed[0] if followed else (url.scheme if url else "")
    https = scheme == "https" and situation.kind != "plain-on-tls"
    plain_or_tls(host, https, obs)
    if https:
        checked = None if obs.options.flag("insecure") else (followed[1] if followed else obs.plan.verify_name)
        _certificate(host, obs, name, checked)
        _handshake(host, obs)
    _answer(host, situation, obs)


def plain_or_tls(host: HostPlan, https: bool, obs: Observation) -> None:
    if not https and host.kind == "origin":
        why = "answered plain HTTP on a TLS port" if obs.situation.kind == "plain-on-tls" else "plain HTTP"
        host.set("tls", "false", why, obs.line)


def cert_names(cert: Cert | None) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) a certificate block proves: each SAN curl matched, and the subject's CN."""
    names: list[str] = []
    ips: list[str] = []
    if cert is None:
        return names, ips
    for line in cert.san:
        match = re.search(r"""host "([^"]+)" matched cert's (?:"([^"]+)"|IP address)""", line)
        if match and match.group(2):
            names.append(match.group(2))
        elif match and is_ip(match.group(1)):
            ips.append(match.group(1))
    cn = parse_subject(cert.subject)[0].get("CN") or cert.common_name.split(" ")[0]
    if cn and not is_ip(cn) and not cn.startswith("*"):
        names.append(cn)
    return [n for n in dict.fromkeys(dns_name(n) for n in names) if n], ips


def _certificate(host: HostPlan, obs: Observation, name: str, checked: str | None) -> None:
    situation, cert = obs.situation, obs.facts.server_cert
    names, ips = cert_names(cert)
    fields, _ = parse_subject(cert.subject if cert else "")
    spec: dict[str, str] = {}
    if situation.kind == "cert-name":
        names = [n for n in names if n.lower() != (checked or "").lower()] or [OTHER_NAME]
        ips = [i for i in ips if i != checked]
        if situation.point == "cn":
            fields["CN"] = names[0]
            names = []  # no subjectAltName: curl falls back to the subject's CN
    elif checked and checked not in names and checked not in ips and situation.kind != "cert-self-signed":
        (ips if is_ip(checked) else names).append(checked)
    if not names and not ips and situation.point != "cn":
        names = [dns_name(name)] if not is_ip(name) and dns_name(name) else []
        ips = [name] if is_ip(name) else []
    names = [n for n in (dns_name(n) for n in names) if n]
    spec["names"] = toml_list(names)
    if ips:
        spec["ips"] = toml_list(ips)
    if fields:
        spec["subject"] = inline({k if re.fullmatch(r"\w+", k) else toml(k): toml(v) for k, v in fields.items()})
    issuer = {"cert-untrusted": "rogue", "cert-self-signed": "self"}.get(situation.kind)
    if situation.kind == "cert-untrusted" and situation.point == "first":
        spec["intermediate"] = "false"  # a chain curl could complete with the intermediate the server left out
    elif issuer:
        spec["issuer"] = toml("rogue-chain" if situation.point == "chain" else issuer)
    if situation.kind == "cert-expired":
        spec["expired"] = "true"
    why = f"the certificate curl saw ({cert.subject})" if cert and cert.subject else "the host curl checked"
    host.set("cert", inline(spec), why, obs.line, wins=situation.kind.startswith("cert-"))


def hop_certificate(host: HostPlan, name: str, obs: Observation) -> None:
    """A redirect's HTTPS hop: a certificate for the name curl followed to."""
    served = dns_name(name)
    spec = {"ips": toml_list([name])} if is_ip(name) else {"names": toml_list([served] if served else [])}
    host.set("cert", inline(spec), f"the host a redirect sent curl to ({name})", obs.line)


def _handshake(host: HostPlan, obs: Observation) -> None:
    situation, facts = obs.situation, obs.facts
    if not tls13(obs) and (situation.point == "client-cert" or facts.shook("Request CERT")):
        host.set("versions", '{ max = "1.2" }', "the transcript's handshake was TLS 1.2", obs.line)
    if situation.kind == "tls-alert" and situation.point != "client-cert":
        assert situation.alert is not None
        fail = {"at": toml("client-hello"), "alert": toml(situation.alert)}
        host.set("fail", inline(fail), f"sent the alert {situation.alert} before any certificate", obs.line)
    elif situation.kind == "tls-close" and situation.point == "server-hello":
        fail = {"at": toml("server-hello")} | ({"close": toml("rst")} if situation.close == "rst" else {})
        host.set("fail", inline(fail), "hung up right after its ServerHello", obs.line)
    asked = facts.shook("Request CERT") or situation.point == "client-cert"
    if not asked:
        return
    # TLS 1.2: the server's Finished after curl sent no certificate means it let curl in without one
    let_in = not tls13(obs) and facts.shook("Finished", "IN") and situation.point != "client-cert"
    optional = (situation.kind in ("ok", "hang") or let_in) and not obs.options.uses("cert")
    policy = {"require": "false" if optional else "true"}
    if situation.kind == "tls-close":
        policy["linger"] = "false"  # it hangs up the moment the handshake fails
    why = "asked for a client certificate (Request CERT)" + (", and let curl in without one" if optional else "")
    # Only a session that got past curl's own checks shows what the server does about the client certificate.
    decides = optional or situation.point == "client-cert"
    host.set("client_cert", inline(policy), why, obs.line, wins=decides)


def _answer(host: HostPlan, situation: Situation, obs: Observation) -> None:
    answer = {"hang": "hang", "empty-reply": "close", "reset-after-request": "reset", "eof-after-request": "eof"}
    if situation.kind in answer:
        host.set("answer", toml(answer[situation.kind]), f"after the request: {situation.kind}", obs.line)
        host.set("http2", "false", "HTTP/1.1, as the transcript's request", obs.line)
    elif situation.kind == "http-error" and situation.code and host.kind == "origin":
        host.paths.setdefault(_path(obs.facts.hops[0].target) if obs.facts.hops else "/", (situation.code, ""))
    alpn = obs.facts.verbose.alpn
    if (alpn and alpn != "h2") or obs.facts.saw("did not agree"):
        host.set("http2", "false", "ALPN: no HTTP/2 in the transcript", obs.line)


def _path(target: str) -> str:
    return urlsplit(target).path or "/" if "://" in target else target.split("?", 1)[0] or "/"


def answers(host: HostPlan, hops: list[Hop], obs: Observation) -> None:
    """Each hop's status (and ``Location``) on the host that answered it."""
    if host.kind != "origin":
        return
    for hop in hops:
        if hop.status is not None:
            location = hop.location if 300 <= hop.status < 400 else ""  # a redirect's; a 201's stays out
            host.paths.setdefault(_path(hop.target), (hop.status, location))


def proxy(host: HostPlan, obs: Observation) -> None:
    """A proxy's TLS, login, and rules, from what the session shows of it."""
    plan, situation, options = obs.plan, obs.situation, obs.options
    assert plan.proxy is not None
    if host.kind not in ("http-proxy", "socks5"):
        return  # the address is another session's server: noted by World.host
    plain = situation.where == "proxy" and situation.kind == "plain-on-tls"  # -x https:// to a plain proxy
    if plan.proxy.scheme == "https" and host.kind == "http-proxy" and not plain:
        _proxy_tls(host, obs)
    if (situation.kind == "proxy-status" and situation.code == 407) or _credentials(obs) is not None:
        _login(host, obs)
    target = plan.tunnel or f"{plan.target_host}:{plan.target_port}"
    if plan.resolver == "client" and obs.facts.socks:
        target = f"{obs.facts.socks[1]}:{obs.facts.socks[2]}"
    reply: str | None = None
    unknown_name = not is_ip(plan.target_host) and plan.resolver == "proxy" and situation.code in (4, 502)
    if unknown_name:  # the proxy's own DNS has no answer: left out of its table, the lab's proxy says the same
        host.notes.append(f"{plan.target_host} is left out of its DNS: it answered {situation.code} (line {obs.line})")
    elif _valid_reply(situation):
        reply = str(situation.code)
    elif situation.kind == "proxy-drop" or (situation.kind == "socks-drop" and situation.point == "request"):
        reply = toml("reset" if situation.close == "rst" else "drop")
    elif situation.kind == "proxy-timeout":
        reply = toml("slow")
    elif situation.kind == "socks-drop":
        host.set("greeting", toml("drop"), "closed after the client's greeting, without a reply", obs.line)
    elif situation.kind == "socks-auth":
        _login(host, obs)
    if reply is not None:
        rule = inline({"to": toml(target), "reply": reply})
        if rule not in host.rules:
            host.rules.append(rule)
            host.notes.append(f"rule for {target}: {situation.kind} (line {obs.line})")
    del options


def _valid_reply(situation: Situation) -> bool:
    """A status a proxy rule can answer with: HTTP 300-599 but 407 (that is a login), SOCKS5 1-8."""
    code = situation.code or 0
    if situation.kind == "proxy-status":
        return code != 407 and 300 <= code <= 599
    return situation.kind == "socks-reply" and 1 <= code <= 8


def proxy_dns(host: HostPlan, name: str, ip: str, obs: Observation) -> None:
    if host.kind not in ("http-proxy", "socks5"):
        return
    if host.dns.setdefault(name.lower(), ip) != ip:
        host.notes.append(f"line {obs.line}: {name} would resolve to {ip}; kept {host.dns[name.lower()]}")


def _proxy_tls(host: HostPlan, obs: Observation) -> None:
    situation, cert = obs.situation, obs.facts.proxy_cert
    names, ips = cert_names(cert)
    proxy = obs.plan.proxy
    assert proxy is not None
    if (
        proxy.host not in names
        and proxy.host not in ips
        and not (situation.where == "proxy" and situation.kind == "cert-name")
    ):
        (ips if is_ip(proxy.host) else names).append(proxy.host)
    spec = {"names": toml_list(names)} | ({"ips": toml_list(ips)} if ips else {})
    if situation.where == "proxy":
        issuer = {"cert-untrusted": "rogue", "cert-self-signed": "self"}.get(situation.kind)
        if issuer:
            spec["issuer"] = toml(issuer)
        if situation.kind == "cert-expired":
            spec["expired"] = "true"
    host.set("tls", "true", "an HTTPS proxy (-x https://)", obs.line)
    host.set("cert", inline(spec), "the proxy's certificate", obs.line)
    if obs.options.uses("proxy-cert") or (situation.where == "proxy" and situation.point == "client-cert"):
        host.set("client_cert", inline({"require": "true"}), "asked for a client certificate", obs.line)


def _credentials(obs: Observation) -> tuple[str, str] | None:
    """(user, password) the command gives the proxy: -U/--proxy-user, or user:password@ in the proxy URL."""
    given = obs.options.last("proxy-user") or obs.options.last("socks5-basic")
    if given is None and obs.plan.proxy is not None:
        parts = urlsplit(obs.plan.proxy.url)
        if parts.username:
            given = f"{parts.username}:{parts.password or ''}"
    if given is None:
        return None
    user, _, password = given.partition(":")
    return user, password


def _login(host: HostPlan, obs: Observation) -> None:
    given = _credentials(obs)
    situation = obs.situation
    refused = (situation.kind == "proxy-status" and situation.code == 407) or situation.kind == "socks-auth"
    user, password = given or ("user", RIGHT_PASSWORD)
    if refused and given is not None:
        password = RIGHT_PASSWORD if password != RIGHT_PASSWORD else RIGHT_PASSWORD + "-2"
    why = "wants a login (407)" if refused else "accepted the login the command gives"
    host.set("auth", inline({"user": toml(user), "password": toml(password)}), why, obs.line, wins=not refused)

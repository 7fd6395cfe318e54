"""What would change the outcome, per cause: the fix that fits what was observed, never a blanket one.

An expired client certificate needs renewing, not "a certificate from the trusted CA"; a name mismatch
needs the name in the URL (or ``--connect-to``), never ``-k``. Each function here takes the cause the
decision found and says the one thing to do about it. Pure.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from lab.explain.curlplan import Plan
from lab.explain.facts import PROXY_KINDS, Facts
from lab.explain.route import cert_name
from lab.model.events import TlsFailed
from lab.model.scenario import Scenario
from lab.protocols.curlexit import CurlExit
from lab.protocols.netaddr import is_ip

LAB_PAIR = "--cert certs/client.crt --key certs/client.key"
# The alert OpenSSL chooses for each client-certificate problem (lab.hosts.glb.mtls), and Google's statusDetails.
_BY_ALERT = {
    "certificate_required": "missing",
    "certificate_expired": "expired",
    "unknown_ca": "unknown-ca",
    "unsupported_certificate": "no-client-auth",
}
_BY_STATUS = {"client_cert_not_provided": "missing", "client_cert_chain_invalid_eku": "no-client-auth"}


def usage(said: str) -> str:
    if "--proxy-resolve" in said:
        return (
            "No curl has --proxy-resolve. To choose the address behind a proxy: --connect-to "
            "NAME:PORT:ADDRESS:PORT (curl then asks the proxy for ADDRESS:PORT)."
        )
    if "one HTTP request method" in said:
        return (
            "Keep one request method: -I asks for HEAD, -d/--data for POST, -F for a form POST, -T for PUT (with -G "
            "the -d data goes into the URL instead of a POST body)."
        )
    return "Fix the command line (curl --help all lists every option), then run it again."


def own_certificate(message: str, plan: Plan) -> tuple[str, str]:
    """curl exit 58, in words: (cause, fact)."""
    cert, key = plan.client_cert or "the certificate", plan.options.last("key") or "the key"
    if "private key" in message and "No such file" not in message:
        return "key-mismatch", f"curl refused the pair: the key {key} does not belong to {cert}"
    for path in (plan.client_cert, plan.options.last("key")):
        if path and path in message and "No such file" in message:
            return "unusable", f"curl could not read {path}: no such file"
    return "unusable", f"curl could not use {cert} with {key} ({message or 'exit 58'})"


def shown_cert(failed: TlsFailed, plan: Plan) -> str:
    """The client certificate a server refused, as the learner knows it: its CN, or the --cert file it came from
    (OpenSSL does not tell a server the subject of a certificate it failed to verify)."""
    named = failed.client_cert or ""
    return (plan.client_cert or named) if named.startswith("(") else named


def client_cert_cause(failed: TlsFailed, alert_in: str | None) -> str:
    """Which client-certificate problem the server reported (its chosen alert first, then statusDetails)."""
    if failed.client_cert is None or failed.status_details == "client_cert_not_provided":
        return "missing"
    alert = failed.chosen_alert or failed.alert or alert_in or ""
    return _BY_ALERT.get(alert) or _BY_STATUS.get(failed.status_details) or "refused"


def checker(scenario: Scenario, server: str | None) -> str:
    """Who checks the client certificate, as advice names it: "the load balancer", or the host's name."""
    host = scenario.hosts.get(server or "")
    return "the load balancer" if host is None or host.kind == "glb" else server or "the server"


def client_cert(cause: str, plan: Plan, who: str = "the load balancer") -> str:
    cert = plan.client_cert or "the certificate"
    glb = who == "the load balancer"
    trusted = "in the load balancer's trust config" if glb else f"{who} trusts"
    if cause == "missing":
        return f"Send a client certificate {who} trusts: {LAB_PAIR}."
    if cause == "expired":
        allowlist = "; or list it in the trust config's allowlist" if glb else ""
        return (
            f"Renew the client certificate: {cert} is past its validity dates (openssl x509 -noout -dates -in "
            f"{cert}){allowlist}."
        )
    if cause == "no-client-auth":
        return f"Reissue {cert} with extendedKeyUsage = clientAuth: a serverAuth-only certificate cannot log in."
    if cause == "unknown-ca":
        return (
            f"Use a certificate issued by a CA {trusted} ({LAB_PAIR}), or add the CA that issued {cert} to its "
            "trust anchors."
        )
    if cause == "key-mismatch":
        key = _matching_key(cert)
        return (
            f"Give the key that belongs to {cert}{f' ({key})' if key else ''}: compare openssl x509 -noout "
            "-pubkey -in CERT with openssl pkey -pubout -in KEY."
        )
    if cause == "unusable":
        return f"Point --cert and --key at readable PEM files ({LAB_PAIR})."
    return f"Send a client certificate {who} accepts ({LAB_PAIR})."


def _matching_key(cert: str) -> str | None:
    path = PurePosixPath(cert)
    return f"--key {path.with_suffix('.key')}" if path.suffix == ".crt" else None


def server_cert_cause(problem: str, exit_code: int, scenario: Scenario | None = None, server: str | None = None) -> str:
    """Which server-certificate problem curl's words (or the alert it sent) name. A chain that ends at no
    trusted CA is "missing-intermediate" when the host is known to send its certificate without its
    intermediate (``cert.intermediate = false``), "self-signed" when it is its own issuer."""
    lowered = problem.lower()
    if "subject name" in lowered or "does not match" in lowered:
        return "name-mismatch"
    if "expired" in lowered:
        return "server-expired"
    if exit_code == CurlExit.SSL_CACERT_BADFILE or "verify locations" in lowered or "certificate file" in lowered:
        return "no-ca"
    if (
        "self-signed certificate in certificate chain" in lowered
        or "self signed certificate in certificate chain" in lowered
    ):
        return "untrusted-root"
    if "self-signed" in lowered or "self signed" in lowered:
        return "self-signed"
    if any(k in lowered for k in ("issuer", "unknown ca", "unknown_ca", "unable to verify")):
        host = scenario.hosts.get(server or "") if scenario else None
        spec = getattr(host.settings, "cert", None) if host else None
        if spec is not None and not spec.intermediate and spec.issuer == "ev":
            return "missing-intermediate"
        return "untrusted"
    return "server-cert"


_SUBJECT_NAME = re.compile(r"subject name '([^']+)'")


def tls_options(said: str) -> str:
    """curl refused its own TLS options: which option, and how to write it."""
    lowered = said.lower()
    if "curl_sslversion" in lowered:
        return (
            "--tls-max is below the lowest version asked for (--tlsv1.3 means 1.3 or later): raise --tls-max, or "
            "lower the minimum (--tlsv1.2)."
        )
    if "curve" in lowered:
        return "--curves takes group names the TLS library knows (e.g. X25519:P-256); drop it for curl's defaults."
    if "1.3 cipher" in lowered:
        return "--tls13-ciphers takes TLS 1.3 suite names (e.g. TLS_AES_128_GCM_SHA256); drop it for curl's defaults."
    return (
        "--ciphers takes OpenSSL cipher names (openssl ciphers -v lists them; TLS 1.3 suites go in --tls13-ciphers); "
        "drop it for curl's defaults."
    )


def host_header_note(plan: Plan, lead: str = "; ") -> str:
    """A -H "Host: ..." that differs from the URL's host: curl sends it as the header only. SNI and the name curl
    checks the certificate against stay the URL's host (lib/vtls uses the connection's host name)."""
    url = plan.url
    if url is None or url.scheme != "https" or plan.host_header.lower() == url.authority.lower():
        return ""
    return (
        f'{lead}-H "Host: {plan.host_header}" changes only the HTTP Host header: SNI and the name curl checks '
        f"the certificate against still come from the URL's host {url.host}"
    ) + ("." if lead == " " else "")


def server_cert(cause: str, plan: Plan, scenario: Scenario, server: str | None, problem: str = "") -> str:
    assert plan.url is not None
    if cause == "name-mismatch":
        said = _SUBJECT_NAME.search(problem)
        name = cert_name(scenario, server) or (said.group(1) if said else "NAME")
        port, host = plan.url.port, plan.url.host
        pin = f"--resolve {name}:{port}:{host}" if plan.url.ip_literal else f"--connect-to {name}:{port}:{host}:{port}"
        return (
            f"Ask for a name the certificate carries: https://{name} with {pin}, which keeps the address "
            f"and sends SNI and Host {name}.{host_header_note(plan, lead=' ')}"
        )
    if cause == "server-expired":
        return "The server must renew its certificate: it is past its validity dates (curl -v prints 'expire date')."
    if cause == "no-ca":
        unread = re.search(r"(?:certificate file|verify locations)[:\s]+(?:CAfile: )?(\S+)", problem)
        if unread:
            return (
                f"curl could not read {unread.group(1)} as CA certificates: give --cacert a PEM file that exists "
                "(the CA that issued the server's certificate), or drop --cacert for the system's CAs."
            )
        return "Give curl CA certificates to check the server with: --cacert FILE (the trust store is empty)."
    if cause == "untrusted":
        return "Trust the CA that issued the server's certificate: --cacert with that CA's certificate."
    if cause == "untrusted-root":
        return (
            "The chain ends at a root curl does not trust (a TLS-inspecting proxy or a private CA signed it): "
            "--cacert with that root's certificate, if you trust it."
        )
    if cause == "self-signed":
        return (
            "The server's certificate signed itself: trust exactly that certificate with --cacert (its PEM), "
            "or have the server use one from a CA curl trusts."
        )
    if cause == "missing-intermediate":
        return (
            "The server sends its certificate without the intermediate CA certificate that links it to a root "
            "curl trusts: the server must send the whole chain (curl -v shows one 'issuer' and no chain); "
            "meanwhile --cacert with the intermediate's certificate."
        )
    return "Fix the server's certificate so curl's check passes (curl -v shows what it checked)."


def proxy_unreachable(scenario: Scenario) -> str:
    proxies = [f"{h.name} {h.address}" for h in scenario.hosts.values() if h.kind in ("http-proxy", "socks5")]
    known = f" (here: {', '.join(proxies)})" if proxies else ""
    return f"Point -x (or the proxy variable) at a proxy that listens{known}, or use none: --noproxy '*'."


def proxy_auth(plan: Plan) -> str:
    scheme = plan.proxy.scheme if plan.proxy else "http"
    return (
        f"Give the proxy its user and password: --proxy-user USER:PASSWORD (or -x {scheme}://USER:PASSWORD@HOST:PORT)."
    )


def proxy_policy(cause: str, plan: Plan, facts: Facts, scenario: Scenario) -> str:
    """A proxy that answered a refusal of its own (403, SOCKS 2, another status)."""
    refused = facts.refused
    target = facts.asked.target if facts.asked else plan.tunnel or plan.target_host
    bypass = f"or reach {target} without this proxy (--noproxy {plan.target_host}) where the network allows it"
    if refused is not None and "not a lab address" in refused.reason:  # the lab's own rule: never an open relay
        hosts = ", ".join(f"{h.name} {h.address}" for h in scenario.hosts.values() if h.kind not in PROXY_KINDS)
        shown = hosts if len(hosts) <= 160 else hosts[:160].rsplit(", ", 1)[0] + ", ..."
        return f"Ask the proxy for a target it allows (the lab's proxies reach lab hosts only: {shown})."
    if refused is not None and any(k in refused.reason for k in ("would loop", "chain", "this proxy itself")):
        return (
            f"{target} is a proxy (this one, or another): a proxy does not tunnel into a proxy. Ask it for the "
            "destination itself; two proxies in a row need the first to allow it (in the lab: chain = true)."
        )
    if cause == "policy":
        return f"The proxy's policy forbids {target}: ask its administrators to allow it, {bypass}."
    status = refused.status if refused is not None else None
    return f"The proxy answered {status} for {target} (curl -v shows its reason): ask its administrators, {bypass}."


def proxy_hangup(cause: str, plan: Plan, facts: Facts) -> str:
    """A proxy that closed, reset, or held the request without any answer."""
    target = facts.asked.target if facts.asked else plan.tunnel or plan.target_host
    bypass = f"or reach it without this proxy (--noproxy {plan.target_host}) where the network allows it"
    if facts.asked is None and plan.proxy is not None:
        return (
            f"The proxy hung up before curl could ask for anything: check that {plan.proxy.address} is the proxy you "
            f"meant, and that it speaks {plan.proxy.scheme}:// (-x)."
        )
    if cause == "slow":
        waited = plan.options.last("max-time") or plan.options.last("connect-timeout")
        gave_up = f" (curl gave up after {waited} s)" if waited else ""
        return (
            f"The proxy held the request for {target} without answering{gave_up}: it is slow or stuck for that "
            f"destination; ask its administrators, give curl longer (-m), {bypass}."
        )
    did = "reset the connection" if cause == "reset" else "closed the connection"
    return (
        f"The proxy {did} instead of answering for {target}: proxies do that for destinations their filters "
        f"block; ask its administrators about {target}, {bypass}."
    )


def proxy_limit(limit: str, plan: Plan) -> str:
    """A proxy that hung up at one of its limits before curl asked for anything."""
    where = plan.proxy.address if plan.proxy else "the proxy"
    if limit == "max_connections":
        busy = "try again when fewer are open, or raise its limits.max_connections"
        return f"The proxy at {where} holds as many connections as it takes: {busy}."
    return f"The proxy at {where} stopped waiting (limits.{limit}): send the request sooner, or raise that limit."


def proxy_scheme(speaks: str, plan: Plan) -> str:
    assert plan.proxy is not None
    return (
        f"Use the scheme the proxy speaks: -x {speaks}://{plan.proxy.address} (an https:// proxy is reached over "
        "TLS, an http:// one in plain HTTP, whatever the URL's scheme)."
    )


def proxy_cert(cause: str, plan: Plan, scenario: Scenario, proxy: str | None) -> str:
    """curl refused an HTTPS proxy's certificate: the proxy-side options, never --proxy-insecure as a fix."""
    assert plan.proxy is not None
    if cause == "proxy-name-mismatch":
        name = cert_name(scenario, proxy) or "NAME"
        return (
            f"Name the proxy as its certificate does: -x https://{name}:{plan.proxy.port} (with {name} in the "
            "client's hosts file, or --connect-to)."
        )
    if cause == "proxy-server-expired":
        return "The proxy's certificate is past its validity dates: its administrators must renew it."
    return (
        "Trust the CA that issued the proxy's certificate: --proxy-cacert FILE with that CA's certificate (--cacert "
        "is for the server behind the proxy, not for the proxy)."
    )


def proxy_client_cert(cause: str, plan: Plan) -> str:
    """The HTTPS proxy refused curl's client certificate (or wanted one): --proxy-cert, not --cert."""
    pair = "--proxy-cert certs/client.crt --proxy-key certs/client.key"
    if cause == "missing":
        return (
            f"Give the proxy a client certificate it trusts: {pair} (--cert and --key go to the server, not the proxy)."
        )
    if cause == "expired":
        return f"Renew the certificate you give the proxy (--proxy-cert): it is past its validity dates ({pair})."
    return f"Give the proxy a client certificate from a CA it trusts: {pair}."


def sni(cause: str, plan: Plan, scenario: Scenario, server: str | None) -> str:
    """The server refused the ClientHello over its server name: send one it serves, to the same address."""
    assert plan.url is not None
    name = cert_name(scenario, server) or "NAME"
    host = scenario.hosts.get(server or "")
    address, port = (host.ip if host else plan.url.host), plan.url.port
    pin = f"https://{name} with --resolve {name}:{port}:{address}"
    if cause == "no-sni":
        return f"curl sends SNI only for a name in the URL: {pin} keeps the address and sends SNI {name}."
    return (
        f"{server} serves no site named {plan.url.host}: ask for a name it serves, {pin} (the same address), or "
        f"have it configured for {plan.url.host}."
    )


def sni_certificate(plan: Plan, scenario: Scenario, server: str | None, names: str) -> str:
    """A load balancer presented its primary certificate for want of SNI naming another of its certificates."""
    assert plan.url is not None
    name = next((n for n in names.split(", ") if not is_ip(n) and not n.startswith("*")), None)
    host = scenario.hosts.get(server or "")
    address = host.ip if host else plan.url.host
    pick = (
        f"put a name it carries in the URL, https://{name} with --resolve {name}:{plan.url.port}:{address}, so "
        "SNI picks it"
        if name
        else "put a name in the URL that one of its certificates carries, so SNI picks that one"
    )
    return (
        f"The certificate for {plan.url.host} is chosen by SNI, and SNI never carries an address: {pick}; or make "
        "that certificate the primary one (the first of the target proxy's sslCertificates)."
    )


def versions(plan: Plan, facts: Facts) -> str:
    """What each side allowed: "curl offered up to TLS 1.2 (--tls-max 1.2); glb-tls13 accepts TLS 1.3 only"."""
    limit = plan.options.last("tls-max")
    floor = next((v for v in ("1.3", "1.2", "1.1", "1.0") if plan.options.flag(f"tlsv{v}")), None)
    said = []
    if limit:
        said.append(f"curl offered up to TLS {limit} (--tls-max {limit})")
    if floor:
        said.append(f"curl asked for at least TLS {floor} (--tlsv{floor})")
    if facts.server_versions:
        low, high = facts.server_versions
        span = f"TLS {low} only" if low == high else f"TLS {low} to {high}"
        said.append(f"{facts.server} accepts {span}")
    return "; ".join(said) or "alert protocol_version"


def tls_version(plan: Plan, facts: Facts) -> str:
    if facts.server_versions:
        low, high = facts.server_versions
        span = low if low == high else f"{low}-{high}"
        return (
            f"Let curl offer a version the server accepts (TLS {span}): drop the --tls-max/--tlsv1.x that excludes "
            f"it, or widen the server's tls = {{ min, max }}."
        )
    return "Let curl and the server share a TLS version: drop the --tls-max/--tlsv1.x option that excludes it."

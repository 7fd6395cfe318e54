"""What would change the outcome, per cause: the fix that fits what was observed, never a blanket one.

An expired client certificate needs renewing, not "a certificate from the trusted CA"; a name mismatch
needs the name in the URL (or ``--connect-to``), never ``-k``. Each function here takes the cause the
decision found and says the one thing to do about it. Pure.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from lab.explain.curlplan import Plan
from lab.explain.facts import Facts
from lab.explain.route import cert_name
from lab.model.events import TlsFailed
from lab.model.scenario import Scenario
from lab.protocols.curlexit import CurlExit

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


def client_cert_cause(failed: TlsFailed, alert_in: str | None) -> str:
    """Which client-certificate problem the server reported (its chosen alert first, then statusDetails)."""
    if failed.client_cert is None or failed.status_details == "client_cert_not_provided":
        return "missing"
    alert = failed.chosen_alert or failed.alert or alert_in or ""
    return _BY_ALERT.get(alert) or _BY_STATUS.get(failed.status_details) or "refused"


def client_cert(cause: str, plan: Plan) -> str:
    cert = plan.client_cert or "the certificate"
    if cause == "missing":
        return f"Send a client certificate the load balancer trusts: {LAB_PAIR}."
    if cause == "expired":
        return (
            f"Renew the client certificate: {cert} is past its validity dates (openssl x509 -noout -dates -in "
            f"{cert}); or list it in the trust config's allowlist."
        )
    if cause == "no-client-auth":
        return f"Reissue {cert} with extendedKeyUsage = clientAuth: a serverAuth-only certificate cannot log in."
    if cause == "unknown-ca":
        return (
            f"Use a certificate issued by a CA in the load balancer's trust config ({LAB_PAIR}), or add "
            f"the CA that issued {cert} to its trust anchors."
        )
    if cause == "key-mismatch":
        key = _matching_key(cert)
        return (
            f"Give the key that belongs to {cert}{f' ({key})' if key else ''}: compare openssl x509 -noout "
            "-pubkey -in CERT with openssl pkey -pubout -in KEY."
        )
    if cause == "unusable":
        return f"Point --cert and --key at readable PEM files ({LAB_PAIR})."
    return f"Send a client certificate the load balancer accepts ({LAB_PAIR})."


def _matching_key(cert: str) -> str | None:
    path = PurePosixPath(cert)
    return f"--key {path.with_suffix('.key')}" if path.suffix == ".crt" else None


def server_cert_cause(problem: str, exit_code: int) -> str:
    lowered = problem.lower()
    if "subject name" in lowered or "does not match" in lowered:
        return "name-mismatch"
    if "expired" in lowered:
        return "server-expired"
    if exit_code == CurlExit.SSL_CACERT_BADFILE or "verify locations" in lowered or "certificate file" in lowered:
        return "no-ca"
    if any(k in lowered for k in ("issuer", "self-signed", "self signed", "unknown ca", "unable to verify")):
        return "untrusted"
    return "server-cert"


def server_cert(cause: str, plan: Plan, scenario: Scenario, server: str | None) -> str:
    assert plan.url is not None
    if cause == "name-mismatch":
        name = cert_name(scenario, server) or "NAME"
        port, host = plan.url.port, plan.url.host
        pin = f"--resolve {name}:{port}:{host}" if plan.url.ip_literal else f"--connect-to {name}:{port}:{host}:{port}"
        return (
            f"Ask for a name the certificate carries: https://{name} with {pin}, which keeps the address "
            f"and sends SNI and Host {name}."
        )
    if cause == "server-expired":
        return "The server must renew its certificate: it is past its validity dates (curl -v prints 'expire date')."
    if cause == "no-ca":
        return "Give curl CA certificates to check the server with: --cacert FILE (the trust store is empty)."
    if cause == "untrusted":
        return "Trust the CA that issued the server's certificate: --cacert with that CA's certificate."
    return "Fix the server's certificate so curl's check passes (curl -v shows what it checked)."


def proxy_unreachable(scenario: Scenario) -> str:
    proxies = [f"{h.name} {h.address}" for h in scenario.hosts.values() if h.kind in ("http-proxy", "socks5")]
    known = f" (here: {', '.join(proxies)})" if proxies else ""
    return f"Point -x (or the proxy variable) at a proxy that listens{known}, or use none: --noproxy '*'."


def proxy_auth() -> str:
    return "Give the proxy its user and password: --proxy-user USER:PASSWORD (or -x http://USER:PASSWORD@HOST:PORT)."


def proxy_policy(scenario: Scenario) -> str:
    hosts = ", ".join(
        f"{h.name} {h.address}" for h in scenario.hosts.values() if h.kind not in ("http-proxy", "socks5")
    )
    return f"Ask the proxy for a target it allows (the lab's proxies reach lab hosts only: {hosts})."


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

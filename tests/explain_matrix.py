# ruff: noqa: E501  (one row per line reads best: the rows are a table)
"""The commands of the differential test of explanations (tests/test_explain_matrix.py).

Each row: a command run with real curl in one of two worlds - ``seed``, ``tests/data/explain-world.toml`` (the
seed's network plus a few hosts), or ``behaviours``, ``tests/data/explain-world-behaviours.toml`` (one host per
way a server or proxy ends a request) - the decider, the hop that must be decisive, and the labels of the
diagram rows that must carry the ◀ decisive mark. ``both``: where curl 7 and curl 8 word the outcome
differently, the row also runs with curl 8 (tests/conftest.py ``curls()``) and must be explained the same.
The rows cover the seed's commands across TLS 1.2 and 1.3, -x, SOCKS5 and socks5h, proxies from the
environment, every client-certificate problem, -k, --cacert, --connect-to, --resolve, IP URLs, an unknown
option, an unreachable proxy and a proxy that wants a password; and every host behaviour: alerts and hang-ups
at the ClientHello, a server name refused or missing, a hang-up after the ServerHello, self-signed, untrusted,
chain-less, CN-only and expired certificates, OpenSSL's client-certificate checks, plain HTTP, redirects across
hosts (-L), answers that never come, proxy rules (403, 407, 502, drop, reset, slow), HTTPS proxies (their
certificate, --proxy-insecure, --proxy-cacert, --proxy-cert, the wrong scheme) and SOCKS reply codes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from lab.model import scenario
from lab.model.scenario import Scenario
from lab.paths import ROOT

WORLD = ROOT / "tests" / "data" / "explain-world.toml"
WORLDS = {"seed": WORLD, "behaviours": ROOT / "tests" / "data" / "explain-world-behaviours.toml"}
PIN = "--resolve mydomain:443:88.88.88.88"
CERT = "--cert certs/client.crt --key certs/client.key"
PROXY = "-x http://10.9.9.9:3128"


def pair(name: str) -> str:
    return f"--cert certs/{name}.crt --key certs/{name}.key"


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    command: str
    decider: str
    hop: str  # the key of the hop marked decisive
    marked: tuple[str, ...]  # the labels of the diagram rows marked decisive, in order
    world: str = "seed"  # a key of WORLDS
    both: bool = False  # also with curl 8 (its id then ends in "@8")


HTTPS_PROXY = "-x https://proxy.corp"
PROXY_CERT = "--proxy-cert certs/client.crt --proxy-key certs/client.key"


def b(*args: object, both: bool = False) -> Row:
    """A row of the behaviours world."""
    return Row(*args, world="behaviours", both=both)  # type: ignore[arg-type]


BEHAVIOURS = [
    # a TLS origin that ends the handshake at the ClientHello: the routing decided, unless the server name did
    b("hello-alert", "curl -v https://gw.test/", "client DNS", "resolve", ("TCP 192.0.2.10:443",), both=True),
    b("hello-alert-other", "curl -sS https://in.test/", "client DNS", "resolve", ("TCP 192.0.2.15:443",)),
    b("hello-rst", "curl -v https://rst.test/", "client DNS", "resolve", ("TCP 192.0.2.16:443",), both=True),
    b("hello-fin", "curl -sS https://fin.test/", "client DNS", "resolve", ("TCP 192.0.2.17:443",), both=True),
    b("no-sni", "curl -v https://192.0.2.20/", "SNI", "sni", ("alert handshake_failure",), both=True),
    b("no-sni-tls12", "curl -sS --tls-max 1.2 https://192.0.2.20/", "SNI", "sni", ("alert handshake_failure",)),
    b("sni-sent", "curl -sS --resolve sni.test:443:192.0.2.20 https://sni.test/", "--resolve", "resolve", ("TCP 192.0.2.20:443",)),
    b("sni-unrecognized", "curl -v --resolve other.test:443:192.0.2.21 https://other.test/", "SNI", "sni", ("alert unrecognized_name",), both=True),
    b("sni-unrecognized-tls12", "curl -sS --tls-max 1.2 --resolve other.test:443:192.0.2.21 https://other.test/", "SNI", "sni", ("alert unrecognized_name",)),
    b("sni-served", "curl -sS https://vhost.test/", "client DNS", "resolve", ("TCP 192.0.2.21:443",)),
    b("serverhello-close", "curl -v https://staging.test/", "client DNS", "resolve", ("TCP 192.0.2.12:443",), both=True),
    b("serverhello-close-tls12", "curl -sS --tls-max 1.2 https://staging.test/", "client DNS", "resolve", ("TCP 192.0.2.12:443",)),
    b("no-shared-cipher", "curl -sS --tls-max 1.2 --ciphers ECDHE-ECDSA-AES256-GCM-SHA384 https://vhost.test/", "client DNS", "resolve", ("TCP 192.0.2.21:443",)),
    b("origin-tls13-only", "curl -v --tls-max 1.2 https://tls13.test/", "TLS version", "sni", ("alert protocol_version",), both=True),
    # certificates curl refuses, each with its own advice
    b("self-signed", "curl -sS https://jenkins.corp.internal/", "cert check", "server-cert", ("curl refuses the certificate: untrusted issuer",), both=True),
    b("untrusted-issuer", "curl -v https://api.partner.test/", "cert check", "server-cert", ("curl refuses the certificate: untrusted issuer",)),
    b("untrusted-root-sent", "curl -sS https://mitm.test/", "cert check", "server-cert", ("curl refuses the certificate: untrusted issuer",)),
    b("no-intermediate", "curl -v https://nochain.test/", "cert check", "server-cert", ("curl refuses the certificate: untrusted issuer",), both=True),
    b("no-intermediate-tls12", "curl -sS --tls-max 1.2 https://nochain.test/", "cert check", "server-cert", ("curl refuses the certificate: untrusted issuer",)),
    b("cn-only-ok", "curl -sS https://intranet/", "client DNS", "resolve", ("TCP 203.0.113.8:443",)),
    b("cn-only-mismatch", "curl -v https://cn.test/", "cert check", "server-cert", ("curl refuses the certificate: name check fails",), both=True),
    b("expired-origin", "curl -sS https://legacy.shop.test/", "cert check", "server-cert", ("curl refuses the certificate: expired",), both=True),
    # OpenSSL's client-certificate check on an origin: the alert is OpenSSL's own
    b("origin-mtls-none", "curl -v https://api.mydomain/", "client-cert check", "client-cert", ("alert certificate_required",), both=True),
    b("origin-mtls-none-tls12", "curl -sS --tls-max 1.2 https://api.mydomain/", "client-cert check", "client-cert", ("alert handshake_failure",)),
    b("origin-mtls-rogue", f"curl -sS {pair('rogue-client')} https://api.mydomain/", "client-cert check", "client-cert", ("alert unknown_ca",)),
    b("origin-mtls-expired-tls12", f"curl -v --tls-max 1.2 {pair('expired-client')} https://api.mydomain/", "client-cert check", "client-cert", ("alert certificate_expired",), both=True),
    b("origin-mtls-noeku", f"curl -sS {pair('noeku-client')} https://api.mydomain/", "client-cert check", "client-cert", ("alert unsupported_certificate",)),
    b("origin-mtls-not-yet-valid", f"curl -v {pair('future-client')} https://api.mydomain/", "client-cert check", "client-cert", ("alert bad_certificate",)),
    b("origin-mtls-ok", f"curl -sS {CERT} https://api.mydomain/", "client DNS", "resolve", ("TCP 10.5.5.5:443",)),
    # plain HTTP, redirects across hosts, answers that never come
    b("https-to-plain-port", "curl -sS https://plain.test/", "client DNS", "resolve", ("TCP 10.3.3.7:443",), both=True),
    b("redirect-not-followed", "curl -v http://shop.test/", "client DNS", "resolve", ("TCP 10.3.3.3:80",)),
    b("redirects-followed", "curl -v -L http://shop.test/", "client DNS", "resolve", ("TCP 10.3.3.4:80",), both=True),
    b("redirect-to-wrong-name", "curl -sS -L http://moved.test/", "cert check", "server-cert", ("curl refuses the certificate: name check fails",)),
    b("answer-hangs", "curl -sS -m 1 https://hang.test/", "client DNS", "resolve", ("TCP 10.3.3.5:443",)),
    b("answer-empty", "curl -v https://empty.test/", "client DNS", "resolve", ("TCP 10.3.3.6:443",), both=True),
    b("answer-reset", "curl -sS https://eof.test/", "client DNS", "resolve", ("TCP 10.3.3.9:443",)),
    b("body-over-limit", "curl -sS -d 0123456789abcdef https://body.test/", "client DNS", "resolve", ("TCP 10.3.3.10:443",)),
    b("no-such-host", "curl -sS https://nothere.test/", "client DNS", "resolve", ("DNS nothere.test: no address",)),
    # proxy rules per destination: its own refusals are the proxy's; a destination it cannot reach is the routing's
    b("proxy-rule-403", f"curl -v {PROXY} https://mydomain:8443/", "proxy", "proxy", ("403 Forbidden",), both=True),
    b("proxy-rule-407", f"curl -sS {PROXY} https://login.test/", "proxy", "proxy", ("407 Proxy Authentication Required",)),
    b("proxy-rule-502", f"curl -v {PROXY} https://dead.internal/", "proxy DNS", "proxy-dns", ("CONNECT dead.internal:443", "502 Bad Gateway")),
    b("proxy-rule-drop", f"curl -v {PROXY} https://drop.test/", "proxy", "proxy", ("closes: no answer",), both=True),
    b("proxy-rule-reset", f"curl -sS {PROXY} https://rst.test/", "proxy", "proxy", ("resets: no answer",), both=True),
    b("proxy-rule-slow", f"curl -sS -m 1 {PROXY} https://slow.test/", "proxy", "proxy", ("holds: no answer",)),
    b("proxy-rule-allows", f"curl -sS {PROXY} https://mydomain/", "proxy DNS", "proxy-dns", ("CONNECT mydomain:443", "DNS mydomain → 10.1.1.1")),
    b("proxy-loop-itself", f"curl -sS {PROXY} https://10.9.9.9:3128/", "proxy", "proxy", ("403 Forbidden",)),
    b("proxy-loop-socks", "curl -sS -x socks5h://10.9.9.9:1080 https://10.9.9.9:3128/", "proxy", "proxy", ("SOCKS5 reply 2 (connection not allowed by ruleset)",)),
    b("proxy-idle-tunnel", "curl -sS -m 3 -x http://10.9.9.9:3447 https://hang.test/", "proxy DNS", "proxy-dns", ("CONNECT hang.test:443", "DNS hang.test → 10.3.3.5")),
    # HTTPS proxies: the TLS to the proxy is checked like a server's, with the proxy's own options
    b("https-proxy", f"curl -v {HTTPS_PROXY}:3443 https://mydomain/", "proxy DNS", "proxy-dns", ("CONNECT mydomain:443", "DNS mydomain → 10.1.1.1"), both=True),
    b("https-proxy-untrusted", f"curl -v {HTTPS_PROXY}:3444 https://mydomain/", "cert check", "proxy", ("curl refuses the proxy's certificate: untrusted issuer",), both=True),
    b("https-proxy-insecure", f"curl -sS --proxy-insecure {HTTPS_PROXY}:3444 https://mydomain/", "proxy DNS", "proxy-dns", ("CONNECT mydomain:443", "DNS mydomain → 10.1.1.1")),
    b("https-proxy-cacert", f"curl -sS --proxy-cacert certs/rogue-ca.crt {HTTPS_PROXY}:3444 https://mydomain/", "proxy DNS", "proxy-dns", ("CONNECT mydomain:443", "DNS mydomain → 10.1.1.1")),
    b("https-proxy-name-mismatch", "curl -sS -x https://10.9.9.9:3446 https://mydomain/", "cert check", "proxy", ("curl refuses the proxy's certificate: name check fails",), both=True),
    b("https-proxy-no-client-cert", f"curl -v {HTTPS_PROXY}:3445 https://mydomain/", "client-cert check", "proxy", ("alert certificate_required",), both=True),
    b("https-proxy-client-cert", f"curl -sS {PROXY_CERT} {HTTPS_PROXY}:3445 https://mydomain/", "proxy DNS", "proxy-dns", ("CONNECT mydomain:443", "DNS mydomain → 10.1.1.1")),
    b("https-proxy-rogue-client-cert", f"curl -sS --proxy-cert certs/rogue-client.crt --proxy-key certs/rogue-client.key {HTTPS_PROXY}:3445 https://mydomain/", "client-cert check", "proxy", ("alert unknown_ca",)),
    b("https-proxy-cert-to-server", f"curl -sS {CERT} {HTTPS_PROXY}:3445 https://mydomain/", "client-cert check", "proxy", ("alert certificate_required",)),
    b("plain-to-https-proxy", "curl -sS -x http://proxy.corp:3443 https://mydomain/", "proxy", "proxy", ("wants TLS: no answer",)),
    b("https-to-plain-proxy", "curl -v -x https://10.9.9.9:3128 https://mydomain/", "proxy", "proxy", ("plain HTTP: not TLS",), both=True),
    # SOCKS5 reply codes: the proxy's refusals are the proxy's, "could not reach" is the routing's
    b("socks-reply-5", "curl -sS -x socks5://10.9.9.9:1080 https://192.0.2.14/", "client DNS", "resolve", ("SOCKS5 CONNECT 192.0.2.14:443",), both=True),
    b("socks-reply-2", "curl -v -x socks5h://10.9.9.9:1080 https://mydomain:8443/", "proxy", "proxy", ("SOCKS5 reply 2 (connection not allowed by ruleset)",)),
    b("socks-reply-4-dns", "curl -sS -x socks5h://10.9.9.9:1080 https://nothere/", "proxy DNS", "proxy-dns", ("SOCKS5 CONNECT nothere:443", "SOCKS5 reply 4 (host unreachable)")),
    b("socks-reply-4-rule", "curl -sS -x socks5h://10.9.9.9:1082 https://gone.test/", "proxy DNS", "proxy-dns", ("SOCKS5 CONNECT gone.test:443", "SOCKS5 reply 4 (host unreachable)")),
    b("socks-reply-1", "curl -sS -x socks5h://10.9.9.9:1082 https://fail.test/", "proxy", "proxy", ("SOCKS5 reply 1 (general SOCKS server failure)",)),
    b("socks-rule-drop", "curl -sS -x socks5h://10.9.9.9:1080 https://drop.test/", "proxy", "proxy", ("closes: no answer",), both=True),
    b("socks-rule-reset", "curl -sS -x socks5h://10.9.9.9:1082 https://mydomain:8443/", "proxy", "proxy", ("resets: no answer",)),
    b("socks-greeting-dropped", "curl -v -x socks5h://10.9.9.9:1081 https://mydomain/", "proxy", "proxy", ("closes: no answer",), both=True),
]  # fmt: skip

ROWS = [
    Row("ip-url-name-check", "curl -v https://88.88.88.88", "cert check", "server-cert", ("curl refuses the certificate: name check fails",)),
    Row("ip-url-host-header", 'curl -v -H "Host: mydomain" https://88.88.88.88', "cert check", "server-cert", ("curl refuses the certificate: name check fails",)),
    Row("ip-url-host-header-insecure", f'curl -sS -k -H "Host: mydomain" {CERT} https://88.88.88.88/', "client DNS", "resolve", ("TCP 88.88.88.88:443",)),
    # TLS 1.2: the load balancer refuses the missing client certificate inside the handshake, before curl's name check
    Row("ip-url-no-cert-tls12", "curl -v --tls-max 1.2 https://88.88.88.88", "client-cert check", "client-cert", ("alert handshake_failure",)),
    Row("public-dns-reset", "curl -v https://mydomain", "client DNS", "resolve", ("TCP 198.0.8.245:443",)),
    Row("public-dns-reset-quiet", "curl -sS https://mydomain", "client DNS", "resolve", ("TCP 198.0.8.245:443",)),
    Row("insecure-no-cert", "curl -v -k https://88.88.88.88", "client-cert check", "client-cert", ("alert certificate_required",)),
    Row("insecure-no-cert-tls12", "curl -v -k --tls-max 1.2 https://88.88.88.88", "client-cert check", "client-cert", ("alert handshake_failure",)),
    Row("pinned-no-cert", f"curl -v {PIN} https://mydomain", "client-cert check", "client-cert", ("alert certificate_required",)),
    Row("pinned-no-cert-quiet-tls12", f"curl -sS --tls-max 1.2 {PIN} https://mydomain", "client-cert check", "client-cert", ("alert handshake_failure",)),
    Row("pinned-ok", f"curl -v {PIN} {CERT} https://mydomain", "--resolve", "resolve", ("TCP 88.88.88.88:443",)),
    Row("pinned-ok-tls12-quiet", f"curl -sS --tls-max 1.2 {PIN} {CERT} https://mydomain", "--resolve", "resolve", ("TCP 88.88.88.88:443",)),
    Row("pinned-insecure-ok", f"curl -sS -k {PIN} {CERT} https://mydomain", "--resolve", "resolve", ("TCP 88.88.88.88:443",)),
    Row("proxy-ignores-resolve", f"curl -v {PIN} {CERT} {PROXY} https://mydomain", "proxy DNS", "proxy-dns", ("CONNECT mydomain:443", "DNS mydomain → 10.1.1.1")),
    Row("proxy-connect-to", f"curl -v --connect-to mydomain:443:88.88.88.88:443 {CERT} {PROXY} https://mydomain", "--connect-to", "resolve", ("CONNECT 88.88.88.88:443",)),
    Row("connect-to-direct", f"curl -sS --connect-to mydomain:443:88.88.88.88:443 {CERT} https://mydomain", "--connect-to", "resolve", ("TCP 88.88.88.88:443",)),
    Row("connect-to-nothing-there", "curl -sS --connect-to mydomain:443:88.88.88.88:8443 https://mydomain", "--connect-to", "resolve", ("TCP 88.88.88.88:8443: nothing accepted",)),
    Row("socks5-client-resolves", f"curl -v {PIN} {CERT} -x socks5://10.9.9.9:1080 https://mydomain", "--resolve", "resolve", ("SOCKS5 CONNECT 88.88.88.88:443",)),
    Row("socks5h-proxy-resolves", f"curl -v {PIN} {CERT} -x socks5h://10.9.9.9:1080 https://mydomain", "proxy DNS", "proxy-dns", ("SOCKS5 CONNECT mydomain:443", "DNS mydomain → 10.1.1.1")),
    Row("socks5-hostname-option", f"curl -sS {CERT} --socks5-hostname 10.9.9.9:1080 https://mydomain", "proxy DNS", "proxy-dns", ("SOCKS5 CONNECT mydomain:443", "DNS mydomain → 10.1.1.1")),
    Row("env-https-proxy", f"env https_proxy=http://10.9.9.9:3128 curl -v {PIN} {CERT} https://mydomain", "proxy DNS", "proxy-dns", ("CONNECT mydomain:443", "DNS mydomain → 10.1.1.1")),
    Row("env-no-proxy", f"env https_proxy=http://10.9.9.9:3128 NO_PROXY=mydomain curl -v {PIN} {CERT} https://mydomain", "--resolve", "resolve", ("TCP 88.88.88.88:443",)),
    Row("env-http-proxy-unused", f"env http_proxy=http://10.9.9.9:3128 curl -sS {PIN} {CERT} https://mydomain", "--resolve", "resolve", ("TCP 88.88.88.88:443",)),
    Row("env-all-proxy-socks5h", f"env ALL_PROXY=socks5h://10.9.9.9:1080 curl -v {CERT} https://mydomain", "proxy DNS", "proxy-dns", ("SOCKS5 CONNECT mydomain:443", "DNS mydomain → 10.1.1.1")),
    Row("rogue-client", f"curl -v {PIN} {pair('rogue-client')} https://mydomain", "client-cert check", "client-cert", ("alert unknown_ca",)),
    Row("rogue-client-tls12", f"curl -sS --tls-max 1.2 {PIN} {pair('rogue-client')} https://mydomain", "client-cert check", "client-cert", ("alert unknown_ca",)),
    Row("expired-client", f"curl -sS {PIN} {pair('expired-client')} https://mydomain", "client-cert check", "client-cert", ("alert certificate_expired",)),
    Row("expired-client-tls12", f"curl -v --tls-max 1.2 {PIN} {pair('expired-client')} https://mydomain", "client-cert check", "client-cert", ("alert certificate_expired",)),
    Row("noeku-client", f"curl -v {PIN} {pair('noeku-client')} https://mydomain", "client-cert check", "client-cert", ("alert unsupported_certificate",)),
    Row("noeku-client-tls12", f"curl -sS --tls-max 1.2 {PIN} {pair('noeku-client')} https://mydomain", "client-cert check", "client-cert", ("alert unsupported_certificate",)),
    Row("wrong-key", f"curl -v {PIN} --cert certs/client.crt --key certs/rogue-client.key https://mydomain", "client-cert check", "client-cert", ("curl: key does not match the certificate; nothing sent",)),
    Row("wrong-key-quiet", f"curl -sS {PIN} --cert certs/client.crt --key certs/rogue-client.key https://mydomain", "client-cert check", "client-cert", ("curl: key does not match the certificate; nothing sent",)),
    Row("missing-cert-file", f"curl -sS {PIN} --cert certs/nonexistent.crt --key certs/client.key https://mydomain", "client-cert check", "client-cert", ("curl: cannot use --cert/--key; nothing sent",)),
    Row("cacert-wrong-ca", f"curl -v --cacert certs/client-ca.crt --capath /nonexistent {PIN} {CERT} https://mydomain", "cert check", "server-cert", ("curl refuses the certificate: untrusted issuer",)),
    Row("cacert-missing-file", f"curl -sS --cacert certs/nonexistent.crt {PIN} {CERT} https://mydomain", "cert check", "server-cert", ("curl: cannot load its CA certificates; gives up",)),
    Row("ciphers-unknown", f"curl -sS --ciphers BOGUS {PIN} {CERT} https://mydomain", "command line", "sni", ("curl: cannot set up TLS with its options; nothing sent",), both=True),
    Row("tls13-ciphers-unknown", f"curl -v --tls13-ciphers NOPE {PIN} https://mydomain", "command line", "sni", ("curl: cannot set up TLS with its options; nothing sent",)),
    Row("tls-range-empty", f"curl -v --tlsv1.3 --tls-max 1.2 {PIN} {CERT} {PROXY} https://mydomain", "command line", "sni", ("curl: cannot set up TLS with its options; nothing sent",), both=True),
    Row("cacert-right-ca", f"curl -sS --cacert certs/lab-root-ca.crt {PIN} {CERT} https://mydomain", "--resolve", "resolve", ("TCP 88.88.88.88:443",)),
    Row("ip-san-ok", f"curl -v {CERT} https://88.88.88.89", "client DNS", "resolve", ("TCP 88.88.88.89:443",)),
    Row("expired-server", "curl -v https://stale", "cert check", "server-cert", ("curl refuses the certificate: expired",)),
    Row("untrusted-server", "curl -sS https://rogue", "cert check", "server-cert", ("curl refuses the certificate: untrusted issuer",)),
    Row("allow-mode-no-cert", "curl -sS -k https://88.88.88.90/whoami", "client DNS", "resolve", ("TCP 88.88.88.90:443",)),
    Row("allow-mode-rogue", f"curl -v -k {pair('rogue-client')} https://88.88.88.90/whoami", "client DNS", "resolve", ("TCP 88.88.88.90:443",)),
    Row("unknown-option", f"curl --proxy-resolve mydomain:443:88.88.88.88 {CERT} {PROXY} https://mydomain", "command line", "command-line", ("curl: usage error, nothing sent",)),
    Row("no-such-name", "curl -sS https://nosuchname", "client DNS", "resolve", ("DNS nosuchname: no address",)),
    Row("proxy-not-listening", f"curl -sS {CERT} -x http://10.9.9.9:3199 https://mydomain", "proxy", "proxy", ("TCP 10.9.9.9:3199: nothing accepted",)),
    Row("proxy-auth-missing", f"curl -v {CERT} -x http://10.9.9.10:3128 https://mydomain", "proxy", "proxy", ("407 Proxy Authentication Required",)),
    Row("proxy-auth-ok", f"curl -sS {CERT} -x http://u:p@10.9.9.10:3128 https://mydomain", "proxy DNS", "proxy-dns", ("CONNECT mydomain:443", "DNS mydomain → 88.88.88.88")),
    Row("proxy-unknown-name", f"curl -sS {CERT} {PROXY} https://nosuchname", "proxy DNS", "proxy-dns", ("CONNECT nosuchname:443", "502 Bad Gateway")),
    Row("http-through-proxy", "curl -v -x http://10.9.9.10:3128 -U u:p http://plain/", "proxy DNS", "proxy-dns", ("GET http://plain/", "DNS plain → 10.3.3.3")),
    Row("http-direct", "curl -sS http://plain/", "client DNS", "resolve", ("TCP 10.3.3.3:80",)),
    Row("silent-glb-no-cert", "curl -sS -m 2 --resolve mydomain:443:88.88.88.91 https://mydomain", "client-cert check", "client-cert", ("it held the connection open (certificate_required withheld)",)),
    Row("reset-glb-no-cert", "curl -sS --resolve mydomain:443:88.88.88.92 https://mydomain", "client-cert check", "client-cert", ("it reset the connection (certificate_required withheld)",)),
    Row("proxy-name-unknown", "curl -sS -x http://corpproxy:3128 https://mydomain", "client DNS", "resolve", ("DNS corpproxy: no address",)),
    Row("socks5h-unknown-name", "curl -sS -x socks5h://10.9.9.9:1080 https://nosuchname", "proxy DNS", "proxy-dns", ("SOCKS5 CONNECT nosuchname:443", "SOCKS5 reply 4 (host unreachable)")),
    Row("resolve-wrong-port", "curl -sS --resolve mydomain:80:88.88.88.88 https://mydomain", "client DNS", "resolve", ("TCP 198.0.8.245:443",)),
    Row("resolve-wildcard", f"curl -sS --resolve *:443:88.88.88.88 {CERT} https://mydomain", "--resolve", "resolve", ("TCP 88.88.88.88:443",)),
    Row("resolve-wildcard-after-name", f"curl -sS --resolve *:443:10.1.1.1 --resolve mydomain:443:88.88.88.88 {CERT} https://mydomain", "--resolve", "resolve", ("TCP 88.88.88.88:443",)),
    Row("resolve-two-addresses", f"curl -sS --resolve mydomain:443:10.1.1.2,88.88.88.88 {CERT} https://mydomain", "--resolve", "resolve", ("TCP 88.88.88.88:443",)),
    Row("resolve-two-addresses-first-answers", f"curl -sS --resolve mydomain:443:10.1.1.1,88.88.88.88 {CERT} https://mydomain", "--resolve", "resolve", ("TCP 10.1.1.1:443",)),
    Row("resolve-wildcard-wrong-port", "curl -sS --resolve *:8443:88.88.88.88 https://mydomain", "client DNS", "resolve", ("TCP 198.0.8.245:443",)),
    Row("tls-version-mismatch", f"curl -v --tls-max 1.2 --resolve mydomain:443:88.88.88.93 {CERT} https://mydomain", "TLS version", "sni", ("alert protocol_version",)),
    Row("proxy-refuses-outside-lab", "curl -sS --connect-to mydomain:443:192.0.2.14:443 -x http://10.9.9.9:3128 https://mydomain", "proxy", "proxy", ("403 Forbidden",)),
    Row("glb-sni-picks", "curl -v --resolve api.mydomain:443:88.88.88.94 https://api.mydomain/", "--resolve", "resolve", ("TCP 88.88.88.94:443",)),
    Row("glb-sni-none", "curl -v https://88.88.88.94/", "SNI", "sni", ("TLS ClientHello, SNI none",), both=True),
    Row("glb-sni-none-tls12", "curl -sS --tls-max 1.2 https://88.88.88.94/", "SNI", "sni", ("TLS ClientHello, SNI none",)),
    Row("glb-sni-unknown", "curl -sS --resolve other.mydomain:443:88.88.88.94 https://other.mydomain/", "cert check", "server-cert", ("curl refuses the certificate: name check fails",)),
    Row("host-header-override", f"curl -sS {PIN} {CERT} -H 'Host: other' https://mydomain", "--resolve", "resolve", ("TCP 88.88.88.88:443",)),
    *BEHAVIOURS,
]  # fmt: skip


def runs_of(row: Row, curl8: bool) -> list[str]:
    """The run ids of a row: its own (the default curl), and ``ID@8`` with curl 8 where the row says ``both``."""
    return [row.id] + ([f"{row.id}@8"] if row.both and curl8 else [])


@functools.cache
def world(name: str) -> Scenario:
    """The loaded world a row runs in (``row.world``)."""
    return scenario.load(WORLDS[name])

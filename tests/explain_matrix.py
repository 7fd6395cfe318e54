# ruff: noqa: E501  (one row per line reads best: the rows are a table)
"""The commands of the differential test of explanations (tests/test_explain_matrix.py).

Each row: a command run with real curl in ``tests/data/explain-world.toml`` (the seed's network plus a few
hosts), the hop that must be decisive, and the labels of the diagram rows that must carry the ◀ decisive mark.
The rows cover the seed's commands across TLS 1.2 and 1.3, -x, SOCKS5 and socks5h, proxies from the
environment, every client-certificate problem, -k, --cacert, --connect-to, --resolve, IP URLs, an unknown
option, an unreachable proxy and a proxy that wants a password.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.paths import ROOT

WORLD = ROOT / "tests" / "data" / "explain-world.toml"
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


ROWS = [
    Row("ip-url-name-check", "curl -v https://88.88.88.88", "cert check", "server-cert", ("curl refuses the certificate: name check fails",)),
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
    Row("proxy-connect-to", f"curl -v --connect-to mydomain:443:88.88.88.88:443 {CERT} {PROXY} https://mydomain", "--connect-to", "proxy-dns", ("CONNECT 88.88.88.88:443",)),
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
    Row("cacert-missing-file", f"curl -sS --cacert certs/nonexistent.crt {PIN} {CERT} https://mydomain", "cert check", "server-cert", ("curl: cannot load its CA certificates; nothing sent",)),
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
    Row("socks5h-unknown-name", "curl -sS -x socks5h://10.9.9.9:1080 https://nosuchname", "proxy DNS", "proxy-dns", ("SOCKS5 CONNECT nosuchname:443", "SOCKS5 reply 4")),
    Row("resolve-wrong-port", "curl -sS --resolve mydomain:80:88.88.88.88 https://mydomain", "client DNS", "resolve", ("TCP 198.0.8.245:443",)),
    Row("tls-version-mismatch", f"curl -v --tls-max 1.2 --resolve mydomain:443:88.88.88.93 {CERT} https://mydomain", "TLS version", "sni", ("alert protocol_version",)),
    Row("proxy-refuses-outside-lab", "curl -sS --connect-to mydomain:443:192.0.2.14:443 -x http://10.9.9.9:3128 https://mydomain", "proxy", "proxy", ("403 Forbidden",)),
    Row("host-header-override", f"curl -sS {PIN} {CERT} -H 'Host: other' https://mydomain", "--resolve", "resolve", ("TCP 88.88.88.88:443",)),
]  # fmt: skip

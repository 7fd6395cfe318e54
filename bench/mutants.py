# ruff: noqa: E501  (one mutant per entry reads best: the snippets are quoted exactly)
"""The planted bugs of ``make mutation`` (bench/mutation.py): each a small, plausible mistake in a module that
decides something the lab promises - where curl goes (curlplan, route), which hop decided (decide, facts,
hops, verdict), what the proxy and the load balancer do (proxydns, glb/mtls, glb/policy, socks5), what curl
runs with (the runner's environment), whether a step passed (outcome.compare) - or in what the promises rest
on (a catalog scenario's expectation, ``lab run --all``'s exit code).

Each entry: the file, the exact snippet (it must occur once), its mutation, the tests that must catch it (run
with ``pytest -x``: unit tests first, then real curl) and, for a mutant that is expected to survive, why.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Mutant:
    id: str
    file: str  # relative to the project root
    original: str
    mutated: str
    tests: tuple[str, ...]  # pytest arguments
    bug: str  # the mistake, in words
    issue: bool = False  # one of issue 16's four planted bugs
    equivalent: str = ""  # why no test can catch it (the mutant behaves like the original)


UNITS = ("tests/test_verdict_units.py", "tests/test_layout.py")
EXPLAINED = (*UNITS, "tests/test_explain_matrix.py")
CATALOG = ("tests/test_explain.py", "-k", "every_step_of_every_scenario")
PLAN = ("tests/test_curlplan.py",)

MUTANTS: tuple[Mutant, ...] = (
    # --- issue 16's four ------------------------------------------------------------------------------------
    Mutant(
        id="runner-real-home",
        file="lab/runtime/runner.py",
        issue=True,
        original='"HOME": self.home,',
        mutated='"HOME": __import__("os").environ.get("HOME", self.home),',
        tests=("tests/test_isolation.py",),
        bug="the runner gives curl the machine's HOME, so a ~/.curlrc there reaches the lab",
    ),
    Mutant(
        id="proxy-dns-wrong-hop",
        file="lab/explain/decide.py",
        issue=True,
        original='hop, marks = "proxy-dns", ("ask", "proxy-dns", "refusal")',
        mutated='hop, marks = "resolve", ("ask", "proxy-dns", "refusal")',
        tests=(*EXPLAINED, "tests/test_explain.py"),
        bug="when the proxy's DNS decided, the verdict marks client resolution decisive",
    ),
    Mutant(
        id="catalog-wrong-expectation",
        file="scenarios/ip-san-mismatch.toml",
        issue=True,
        original='decided_by = "cert check"\nexit = 60\n',
        mutated='decided_by = "cert check"\nexit = 35\n',
        tests=CATALOG,
        bug="ip-san-mismatch (once never replayed by a test) expects curl exit 35 where curl exits 60",
    ),
    Mutant(
        id="run-all-exits-0",
        file="lab/apps/cli.py",
        issue=True,
        original="return _in_lab(replay, loaded_all, args.json, args.quiz, args.report)",
        mutated="return _in_lab(replay, loaded_all, args.json, args.quiz, args.report) * (not args.all)",
        tests=("tests/test_explain.py", "-k", "run_all"),
        bug="`lab run --all` exits 0 even when an expectation failed",
    ),
    # --- the rest of the catalog that was never replayed ----------------------------------------------------
    Mutant(
        id="catalog-client-cert-problems",
        file="scenarios/client-cert-problems.toml",
        original='exit = 35\nreached = "none"\nerror = "alert unknown ca"',
        mutated='exit = 35\nreached = "none"\nerror = "alert bad certificate"',
        tests=CATALOG,
        bug="client-cert-problems step 2 expects another alert than the load balancer sends",
    ),
    Mutant(
        id="catalog-insecure-no-client-cert",
        file="scenarios/insecure-no-client-cert.toml",
        original="exit = 28\n",
        mutated="exit = 35\n",
        tests=CATALOG,
        bug="insecure-no-client-cert step 1 expects a handshake failure where curl times out",
    ),
    Mutant(
        id="catalog-proxy-resolve-myth",
        file="scenarios/proxy-resolve-myth.toml",
        original='tunnel = "88.88.88.88:443"',
        mutated='tunnel = "mydomain:443"',
        tests=CATALOG,
        bug="proxy-resolve-myth step 2 expects the proxy to be asked for the name",
    ),
    Mutant(
        id="catalog-resolve-pins-glb",
        file="scenarios/resolve-pins-glb.toml",
        original='(X-Client-Cert-Present: true ...).\n"""\n[steps.expect]\ndecided_by = "--resolve"\nexit = 0\nreached = "glb"',
        mutated='(X-Client-Cert-Present: true ...).\n"""\n[steps.expect]\ndecided_by = "--resolve"\nexit = 0\nreached = "api"',
        tests=CATALOG,
        bug="resolve-pins-glb step 3 expects the backend behind the URL map to be the host that answered",
    ),
    # --- curl's routing plan --------------------------------------------------------------------------------
    Mutant(
        id="plan-reads-HTTP_PROXY",
        file="lab/explain/curlplan.py",
        original='if url.scheme != "http":  # curl never reads HTTP_PROXY',
        mutated="if True:  # curl never reads HTTP_PROXY",
        tests=PLAN,
        bug="the plan lets HTTP_PROXY choose a proxy for an http:// URL",
    ),
    Mutant(
        id="plan-upper-before-lower",
        file="lab/explain/curlplan.py",
        original='names = [f"{url.scheme}_proxy"]\n    if url.scheme != "http":  # curl never reads HTTP_PROXY (it could come from a CGI request header)\n        names.append(f"{url.scheme.upper()}_PROXY")',
        mutated='names = []\n    if url.scheme != "http":  # curl never reads HTTP_PROXY (it could come from a CGI request header)\n        names.append(f"{url.scheme.upper()}_PROXY")\n    names.append(f"{url.scheme}_proxy")',
        tests=PLAN,
        bug="HTTPS_PROXY wins over https_proxy",
    ),
    Mutant(
        id="plan-no-proxy-no-suffix",
        file="lab/explain/curlplan.py",
        original='if name == token or name.endswith("." + token):',
        mutated="if name == token:",
        tests=PLAN,
        bug="NO_PROXY=example does not cover a.example",
    ),
    Mutant(
        id="plan-no-proxy-spares-x",
        file="lab/explain/curlplan.py",
        original="if no_proxy is not None and no_proxy_matches(url.host, no_proxy):",
        mutated="if no_proxy is not None and no_proxy_matches(url.host, no_proxy) and options.proxy is None:",
        tests=PLAN,
        bug="--noproxy no longer overrides -x",
    ),
    Mutant(
        id="plan-socks5h-resolves-locally",
        file="lab/explain/curlplan.py",
        original='return self.scheme in ("http", "https", "socks5h", "socks4a")',
        mutated='return self.scheme in ("http", "https", "socks4a")',
        tests=(*UNITS, *PLAN),
        bug="socks5h:// is planned as if curl resolved the name",
    ),
    Mutant(
        id="plan-connect-to-any-port",
        file="lab/explain/curlplan.py",
        original="if port1 and port1 != str(port):",
        mutated="if False:",
        tests=PLAN,
        bug="a --connect-to rule for another port applies anyway",
    ),
    Mutant(
        id="plan-resolve-any-port",
        file="lab/explain/curlplan.py",
        original="hit = cache.get((bare.lower(), port))",
        mutated="hit = next((v for (n, _), v in cache.items() if n == bare.lower()), None)",
        tests=(*UNITS, *PLAN),
        bug="a --resolve entry for another port answers the lookup",
    ),
    Mutant(
        id="plan-proxy-default-port",
        file="lab/explain/curlplan.py",
        original="CURL_DEFAULT_PROXY_PORT = 1080",
        mutated="CURL_DEFAULT_PROXY_PORT = 3128",
        tests=PLAN,
        bug="a proxy given without a port is planned on 3128, not curl's 1080",
    ),
    Mutant(
        id="plan-sni-for-ip",
        file="lab/explain/curlplan.py",
        original="sni=url.host if tls and not url.ip_literal else None,",
        mutated="sni=url.host if tls else None,",
        tests=PLAN,
        bug="the plan has curl send an IP address as SNI",
    ),
    Mutant(
        id="plan-no-proxytunnel",
        file="lab/explain/curlplan.py",
        original='elif url.scheme == "https" or options.flag("proxytunnel"):',
        mutated='elif url.scheme == "https":',
        tests=PLAN,
        bug="-p (--proxytunnel) for an http:// URL is planned as a forwarded GET",
    ),
    # --- routing: which decision chose the host -------------------------------------------------------------
    Mutant(
        id="route-connect-to-over-proxy-dns",
        file="lab/explain/route.py",
        original='    if plan.proxy is not None and plan.resolver == "proxy":\n        return _proxy_dns(plan, facts, scenario)\n    if plan.connect_to:\n        return _connect_to(plan, facts, scenario)',
        mutated='    if plan.connect_to:\n        return _connect_to(plan, facts, scenario)\n    if plan.proxy is not None and plan.resolver == "proxy":\n        return _proxy_dns(plan, facts, scenario)',
        tests=EXPLAINED,
        bug="--connect-to to a name through a proxy is said to decide, though the proxy's DNS chose the address",
    ),
    Mutant(
        id="route-no-glb-pin",
        file="lab/explain/route.py",
        original='pin = f"--resolve {look.name}:{look.port}:{glb_ip}" if glb_ip and glb_ip != look.address else "--resolve"',
        mutated='pin = "--resolve"',
        tests=(*EXPLAINED, "tests/test_explain.py", "-k", "not every_step"),
        bug="the advice for client DNS no longer names the --resolve entry that would reach the load balancer",
    ),
    # --- the decision ---------------------------------------------------------------------------------------
    Mutant(
        id="decide-client-cert-before-server-cert",
        file="lab/explain/decide.py",
        original="_tls_version, _server_certificate, _client_certificate, _proxy)",
        mutated="_tls_version, _client_certificate, _server_certificate, _proxy)",
        tests=EXPLAINED,
        bug="the server's refusal of the client certificate is checked before curl's own check of the server's",
    ),
    Mutant(
        id="decide-socks-login-is-policy",
        file="lab/explain/decide.py",
        original='cause = "auth" if refused.status == 407 or facts.asked is None else "policy"',
        mutated='cause = "auth" if refused.status == 407 else "policy"',
        tests=EXPLAINED,
        bug="a SOCKS proxy refusing the login is explained as its policy (no --proxy-user advice)",
    ),
    Mutant(
        id="decide-connect-to-via-proxy-marks-resolve",
        file="lab/explain/decide.py",
        original='hop, marks = ("proxy-dns" if decider == "--connect-to" else "resolve"), ("ask",)',
        mutated='hop, marks = "resolve", ("ask",)',
        tests=(*EXPLAINED, "tests/test_explain.py"),
        bug="--connect-to through a proxy marks client resolution, not what the proxy was asked",
    ),
    Mutant(
        id="decide-no-hello-fact",
        file="lab/explain/decide.py",
        original="if facts.bytes_in == 0 or facts.hello_sent is False:",
        mutated="if facts.bytes_in == 0:",
        tests=EXPLAINED,
        bug="curl exit 58 with -v no longer says no ClientHello was sent",
    ),
    # --- the facts ------------------------------------------------------------------------------------------
    Mutant(
        id="facts-403-is-not-the-proxy",
        file="lab/explain/facts.py",
        original="return refused.status in (407, 403, 2)",
        mutated="return refused.status in (407, 2)",
        tests=EXPLAINED,
        bug="a proxy's 403 (its policy) is not counted as the proxy refusing",
    ),
    Mutant(
        id="facts-missing-cert-not-refused",
        file="lab/explain/facts.py",
        original='return self.tls_failed is not None and self.tls_failed.status_details.startswith("client_cert")',
        mutated='return self.tls_failed is not None and self.tls_failed.status_details.startswith("client_cert_validation")',
        tests=EXPLAINED,
        bug="a missing client certificate no longer counts as the server refusing it",
    ),
    Mutant(
        id="facts-unknown-ca-not-curls",
        file="lab/explain/facts.py",
        original='"certificate_unknown", "unknown_ca"}',
        mutated='"certificate_unknown"}',
        tests=EXPLAINED,
        bug="curl sending unknown_ca is not read as curl refusing the server's certificate",
    ),
    Mutant(
        id="facts-alert-only-version",
        file="lab/explain/facts.py",
        original='if "protocol_version" in alerts:\n            return True',
        mutated='if "protocol_version" in alerts:\n            return False',
        tests=EXPLAINED,
        bug="a protocol_version alert is not taken as no common TLS version",
    ),
    Mutant(
        id="facts-hello-bytes-ignored",
        file="lab/explain/facts.py",
        original="return self.tls_failed.sni is not None or bool(self.tls_failed.alpn) or bool(self.bytes_in)",
        mutated="return self.tls_failed.sni is not None or bool(self.tls_failed.alpn)",
        tests=EXPLAINED,
        bug="bytes the server read are not taken as a ClientHello that reached it",
    ),
    # --- the hops -------------------------------------------------------------------------------------------
    Mutant(
        id="hops-mark-another-hop",
        file="lab/explain/hops.py",
        original="return tuple(replace(h, decisive=h.key == decisive) for h in found)",
        mutated='return tuple(replace(h, decisive=h.key == ("resolve" if decisive == "proxy-dns" else decisive)) for h in found)',
        tests=(*EXPLAINED, "tests/test_explain.py"),
        bug="the hop list marks client resolution when the decision names proxy DNS",
    ),
    Mutant(
        id="hops-proxy-dns-always-ok",
        file="lab/explain/hops.py",
        original='status: Status = "fail" if failed else "skip" if refused is not None else "ok"',
        mutated='status: Status = "ok"',
        tests=EXPLAINED,
        bug="the proxy DNS hop shows ✓ when the proxy refused the name",
    ),
    Mutant(
        id="hops-tcp-no-via",
        file="lab/explain/hops.py",
        original='through = f", via {facts.proxy}" if facts.proxy else ""',
        mutated='through = ""',
        tests=EXPLAINED,
        bug="the TCP hop no longer says the connection went through the proxy",
    ),
    Mutant(
        id="hops-resolve-unused-unsaid",
        file="lab/explain/hops.py",
        original='unused = f" --resolve {pinned[0]} sits in curl\'s DNS cache, unused." if pinned else ""',
        mutated='unused = ""',
        tests=(*EXPLAINED, "tests/test_explain.py", "-k", "readme"),
        bug="behind a proxy, the unused --resolve entry is not mentioned",
    ),
    # --- the diagram and the narration ----------------------------------------------------------------------
    Mutant(
        id="narrate-marks-failed-arrows",
        file="lab/explain/narrate.py",
        original="decisive=m.decisive, failed=m.failed)",
        mutated="decisive=m.decisive or m.failed, failed=m.failed)",
        tests=EXPLAINED,
        bug="the diagram marks every failed arrow decisive",
    ),
    # --- emulator drift -------------------------------------------------------------------------------------
    Mutant(
        id="verdict-drift-tunnel-unseen",
        file="lab/explain/verdict.py",
        original="if asked is not None and plan.tunnel is not None and asked.target != plan.tunnel:",
        mutated="if False:",
        tests=EXPLAINED,
        bug="a proxy asked for another target than the plan said is not reported as drift",
    ),
    Mutant(
        id="verdict-drift-address-unseen",
        file="lab/explain/verdict.py",
        original="if ip != plan.tcp[0]:",
        mutated="if False:",
        tests=EXPLAINED,
        bug="curl connecting elsewhere than the plan said is not reported as drift",
    ),
    # --- the proxy's DNS ------------------------------------------------------------------------------------
    Mutant(
        id="proxydns-ip-looked-up",
        file="lab/hosts/proxydns.py",
        original='address, source = str(ipaddress.ip_address(bare)), "IP literal"',
        mutated='address, source = str(ipaddress.ip_address(bare)), "proxy DNS"',
        tests=("tests/test_proxy_units.py", "tests/test_proxy.py"),
        bug="the proxy says it looked up an IP literal in its DNS",
    ),
    Mutant(
        id="proxydns-open-relay",
        file="lab/hosts/proxydns.py",
        original="if scenario.host_at(address) is None:",
        mutated="if False:",
        tests=("tests/test_proxy_units.py", "tests/test_proxy.py"),
        bug="an address outside the lab gets 502 (refused upstream), not 403 (not an open relay)",
    ),
    Mutant(
        id="proxydns-unknown-name-goes-old",
        file="lab/hosts/proxydns.py",
        original="found = settings.lookup(bare)",
        mutated='found = settings.lookup(bare) or "10.1.1.1"',
        tests=("tests/test_proxy_units.py", "tests/test_proxy.py"),
        bug="a name the proxy's DNS does not know goes to the old service",
    ),
    Mutant(
        id="proxydns-any-port",
        file="lab/hosts/proxydns.py",
        original="target = scenario.host_at(address, port)",
        mutated="target = scenario.host_at(address)",
        tests=("tests/test_proxy_units.py", "tests/test_proxy.py"),
        bug="the proxy tunnels to a lab address on a port where nothing listens",
    ),
    # --- the load balancer's verdict on a client certificate ------------------------------------------------
    Mutant(
        id="mtls-allowlist-ignored",
        file="lab/hosts/glb/mtls.py",
        original="if trust.allowlisted(leaf):",
        mutated="if False:",
        tests=("tests/test_mtls.py", "tests/test_glb_google.py", "-k", "allowlist"),
        bug="the trust config's allowlist is ignored",
    ),
    Mutant(
        id="mtls-eku-optional",
        file="lab/hosts/glb/mtls.py",
        original="if not _eku_allows(leaf, required=True):",
        mutated="if not _eku_allows(leaf, required=False):",
        tests=("tests/test_mtls.py",),
        bug="a leaf without an extended key usage is accepted",
    ),
    Mutant(
        id="mtls-rsa-no-upper-bound",
        file="lab/hosts/glb/mtls.py",
        original="if not RSA_BITS[0] <= key.key_size <= RSA_BITS[1]:",
        mutated="if not RSA_BITS[0] <= key.key_size:",
        tests=("tests/test_mtls.py",),
        bug="an RSA key over 4096 bits is accepted",
    ),
    Mutant(
        id="mtls-path-off-by-one",
        file="lab/hosts/glb/mtls.py",
        original="if length + 1 > MAX_PATH:",
        mutated="if length > MAX_PATH:",
        tests=("tests/test_mtls.py",),
        bug="a path of eleven certificates is accepted (Google stops at ten)",
    ),
    Mutant(
        id="mtls-alike-off-by-one",
        file="lab/hosts/glb/mtls.py",
        original="if most > MAX_ALIKE:",
        mutated="if most >= MAX_ALIKE:",
        tests=("tests/test_mtls.py",),
        bug="ten intermediates with one subject and key are refused (Google allows ten)",
    ),
    Mutant(
        id="mtls-expired-is-unknown-issuer",
        file="lab/hosts/glb/mtls.py",
        original="if leaf.not_valid_after_utc < at:",
        mutated="if leaf.not_valid_after_utc < at and False:",
        tests=("tests/test_mtls.py",),
        bug="an expired certificate is explained as an unknown issuer",
    ),
    Mutant(
        id="mtls-sha384-weak",
        file="lab/hosts/glb/mtls.py",
        original="STRONG_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)",
        mutated="STRONG_HASHES = (hashes.SHA256, hashes.SHA512)",
        tests=("tests/test_mtls.py",),
        bug="a certificate signed with SHA-384 is refused as weak",
    ),
    # --- the load balancer's policy -------------------------------------------------------------------------
    Mutant(
        id="policy-empty-reply-refuses-in-handshake",
        file="lab/hosts/glb/policy.py",
        original='if settings.failure_style == "empty-reply" or not verdict.rejected(settings.mode):',
        mutated="if not verdict.rejected(settings.mode):",
        tests=("tests/test_glb_policy.py",),
        bug="the empty-reply style refuses inside the handshake",
    ),
    Mutant(
        id="policy-tls13-alert",
        file="lab/hosts/glb/policy.py",
        original='return "certificate_required" if version == "TLSv1.3" else "handshake_failure"',
        mutated='return "handshake_failure"',
        tests=("tests/test_glb_policy.py",),
        bug="TLS 1.3 gets handshake_failure for a missing certificate, not certificate_required",
    ),
    Mutant(
        id="policy-expired-alert",
        file="lab/hosts/glb/policy.py",
        original='"expired": 10,  # CERT_HAS_EXPIRED',
        mutated='"expired": 20,  # CERT_HAS_EXPIRED',
        tests=("tests/test_glb_policy.py",),
        bug="an expired client certificate gets unknown_ca, not certificate_expired",
    ),
    Mutant(
        id="policy-url-map-any-host",
        file="lab/hosts/glb/policy.py",
        original="fnmatch.fnmatch(host.lower(), r.host.lower()) and fnmatch.fnmatch(path, r.path)",
        mutated="fnmatch.fnmatch(path, r.path)",
        tests=("tests/test_glb_policy.py",),
        bug="a URL-map rule for one host matches every host",
    ),
    Mutant(
        id="policy-client-forges-headers",
        file="lab/hosts/glb/policy.py",
        original='replaced = {h.name for h in custom} | {"host", "connection", "x-lab-via"}',
        mutated='replaced = {"host", "connection", "x-lab-via"}',
        tests=("tests/test_glb_policy.py",),
        bug="a client's own X-Client-Cert-* header reaches the backend beside the load balancer's",
    ),
    Mutant(
        id="policy-backend-status",
        file="lab/hosts/glb/policy.py",
        original='return "response_sent_by_backend" if reached else "failed_to_connect_to_backend"',
        mutated='return "response_sent_by_backend"',
        tests=("tests/test_glb_policy.py",),
        bug="a backend that could not be reached logs response_sent_by_backend",
    ),
    # --- SOCKS5 ---------------------------------------------------------------------------------------------
    Mutant(
        id="socks-no-auth-accepted",
        file="lab/protocols/socks5.py",
        original="wanted = USER_PASSWORD if self.credentials else NO_AUTH",
        mutated="wanted = NO_AUTH",
        tests=("tests/test_socks_units.py",),
        bug="a SOCKS proxy with a password lets clients in without one",
    ),
    Mutant(
        id="socks-user-only",
        file="lab/protocols/socks5.py",
        original="ok = (user, password) == self.credentials",
        mutated="ok = self.credentials is not None and user == self.credentials[0]",
        tests=("tests/test_socks_units.py",),
        bug="the SOCKS proxy checks the user but not the password",
    ),
    Mutant(
        id="socks-port-little-endian",
        file="lab/protocols/socks5.py",
        original='port = int.from_bytes(buf[end : end + 2], "big")',
        mutated='port = int.from_bytes(buf[end : end + 2], "little")',
        tests=("tests/test_socks_units.py",),
        bug="the port is read little-endian",
    ),
    Mutant(
        id="socks-failed-reply-tunnels",
        file="lab/protocols/socks5.py",
        original="self.state = _State.TUNNEL if code == SUCCEEDED else _State.CLOSED",
        mutated="self.state = _State.TUNNEL",
        tests=("tests/test_socks_units.py",),
        bug="after a failure reply the connection becomes a tunnel",
    ),
    # --- the runner's environment ---------------------------------------------------------------------------
    Mutant(
        id="runner-machine-environment",
        file="lab/runtime/runner.py",
        original='return {"PATH": BASE_PATH,',
        mutated='return {**__import__("os").environ, "PATH": BASE_PATH,',
        tests=("tests/test_isolation.py",),
        bug="curl inherits the machine's environment (https_proxy, CURL_CA_BUNDLE, ...)",
    ),
    Mutant(
        id="runner-step-env-ignored",
        file="lab/runtime/runner.py",
        original='"TERM": "dumb", **extra}',
        mutated='"TERM": "dumb"}',
        tests=("tests/test_isolation.py",),
        bug="a step's own `env VAR=...` does not reach curl",
    ),
    # --- comparing a step with its expectations -------------------------------------------------------------
    Mutant(
        id="compare-reached-none",
        file="lab/model/outcome.py",
        original='if expect.reached is not None and expect.reached != (result.reached or "none"):',
        mutated="if expect.reached is not None and expect.reached != result.reached:",
        tests=CATALOG,
        bug='reached = "none" never matches',
    ),
    Mutant(
        id="compare-error-ignored",
        file="lab/model/outcome.py",
        original='if expect.error is not None and expect.error not in (result.error or ""):',
        mutated="if False:",
        tests=("tests/test_explain.py", "-k", "run_all"),
        bug="a wrong error expectation passes",
    ),
    Mutant(
        id="compare-tunnel-ignored",
        file="lab/model/outcome.py",
        original='if expect.tunnel is not None and expect.tunnel != (result.tunnel or "none"):',
        mutated="if False:",
        tests=("tests/test_explain.py", "-k", "run_all"),
        bug="a wrong tunnel expectation passes",
    ),
    Mutant(
        id="compare-exit-ignored",
        file="lab/model/outcome.py",
        original="if expect.exit is not None and expect.exit != result.exit_code:",
        mutated="if False:",
        tests=("tests/test_explain.py", "-k", "run_all"),
        bug="a wrong exit-code expectation passes",
    ),
    Mutant(
        id="compare-decider-ignored",
        file="lab/model/outcome.py",
        original="if expect.decided_by is not None and expect.decided_by != decided:",
        mutated="if False:",
        tests=("tests/test_explain.py", "-k", "disagrees or run_all"),
        bug="a wrong decided_by passes",
    ),
)

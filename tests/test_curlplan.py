"""The curl emulator (lab.explain.curlplan): pure tables first, then every prediction checked against real curl.

Reading the command line itself is lab.protocols.curlargs, tested in tests/test_curlargs.py."""

from __future__ import annotations

import pytest

from lab.explain import curlplan
from lab.explain.curlplan import plan
from lab.explain.verdict import explain_result
from lab.model import scenario
from lab.model.events import ClientHelloSeen, RequestReceived, Resolved, TlsFailed, TlsOk
from lab.model.outcome import CurlResult
from lab.model.scenario import format_address
from tests.conftest import LabFactory, curls

SEED_HOSTS = scenario.load("seed").client.hosts
PROXY = "http://10.9.9.9:3128"


@pytest.mark.parametrize(
    ("env", "flags", "source", "reported"),
    [
        (
            {"https_proxy": PROXY, "HTTPS_PROXY": "http://o:1", "ALL_PROXY": "http://o:2"},
            [],
            "https_proxy",
            ["https_proxy"],
        ),
        ({"HTTPS_PROXY": PROXY, "all_proxy": "http://o:2"}, [], "HTTPS_PROXY", ["HTTPS_PROXY"]),
        ({"http_proxy": PROXY}, [], None, []),  # http_proxy is for http:// URLs only
        ({"all_proxy": PROXY, "ALL_PROXY": "http://o:1"}, [], "all_proxy", ["all_proxy"]),
        ({"https_proxy": PROXY, "NO_PROXY": "example.com,.mydomain"}, [], None, ["NO_PROXY"]),
        (
            {"https_proxy": PROXY, "no_proxy": "other", "NO_PROXY": "mydomain"},
            [],
            "https_proxy",
            ["no_proxy", "https_proxy"],
        ),
        ({"https_proxy": PROXY}, ["--noproxy", "*"], None, []),
        ({}, ["--noproxy", "mydomain", "-x", PROXY], None, []),  # --noproxy beats even -x
        ({"https_proxy": PROXY}, ["-x", ""], None, []),  # -x "" turns the environment off too
        ({"https_proxy": "http://o:1"}, ["-x", PROXY], "-x", []),
    ],
)
def test_proxy_choice(env: dict[str, str], flags: list[str], source: str | None, reported: list[str]) -> None:
    planned = plan(["curl", *flags, "https://mydomain"], env, SEED_HOSTS)
    assert (planned.proxy.source if planned.proxy else None) == source
    assert list(planned.proxy_env) == reported


def test_connect_to_and_resolve_tables() -> None:
    assert curlplan.match_connect_to(("a:80:b:81", "::c:"), "a", 443) == ("::c:", "c", 443)
    assert curlplan.match_connect_to(("mydomain:80:x:1",), "mydomain", 443) is None
    found = curlplan.lookup("MyDomain", 443, ("mydomain:443:88.88.88.88",), SEED_HOSTS)
    assert (found.address, found.how) == ("88.88.88.88", "--resolve")
    assert curlplan.lookup("mydomain", 8443, ("mydomain:443:88.88.88.88",), SEED_HOSTS).how == "hosts file"
    assert curlplan.lookup("nowhere", 443, (), SEED_HOSTS).address is None
    listed = curlplan.lookup("mydomain", 443, ("*:443:10.1.1.2,[::1]",), SEED_HOSTS)
    assert (listed.address, listed.more, listed.listed) == ("10.1.1.2", ("::1",), "10.1.1.2, ::1")


RESOLVE = "--resolve mydomain:443:88.88.88.88"
CONNECT_TO = "--connect-to mydomain:443:88.88.88.88:443"
CASES = [
    ({}, "curl -v https://mydomain"),
    ({}, f"curl -v {RESOLVE} https://mydomain"),
    ({}, f"curl -v {RESOLVE} -x {PROXY} https://mydomain"),
    ({}, f"curl -v {CONNECT_TO} -x {PROXY} https://mydomain"),
    ({}, f"curl -v {CONNECT_TO} https://mydomain"),
    ({}, "curl -v --connect-to ::10.1.1.1: https://mydomain"),
    ({}, f"curl -v -xhttp://10.9.9.9:3128 {RESOLVE} https://mydomain"),
    ({}, f"curl -v {RESOLVE} -x socks5://10.9.9.9:1080 https://mydomain"),
    ({}, f"curl -v {RESOLVE} -x socks5h://10.9.9.9:1080 https://mydomain"),
    ({}, f"curl -v {RESOLVE} -x {PROXY} --socks5 10.9.9.9:1080 https://mydomain"),
    ({}, f"curl -v {RESOLVE} --socks5 10.9.9.9:1080 -x {PROXY} https://mydomain"),  # the last proxy option wins
    ({}, f"curl -v {RESOLVE} --socks5-hostname 10.9.9.9:1080 https://mydomain"),
    ({"https_proxy": PROXY}, f"curl -v {RESOLVE} https://mydomain"),
    ({"HTTPS_PROXY": PROXY}, f"curl -v {RESOLVE} https://mydomain"),
    ({"ALL_PROXY": PROXY}, f"curl -v {RESOLVE} https://mydomain"),
    ({"http_proxy": PROXY, "HTTP_PROXY": PROXY}, f"curl -v {RESOLVE} https://mydomain"),
    ({"https_proxy": PROXY, "NO_PROXY": "mydomain"}, f"curl -v {RESOLVE} https://mydomain"),
    ({"https_proxy": PROXY}, f"curl -v --noproxy mydomain {RESOLVE} https://mydomain"),
    ({}, f"curl -v --noproxy '*' -x {PROXY} {RESOLVE} https://mydomain"),
    ({"https_proxy": PROXY}, f"curl -v -x '' {RESOLVE} https://mydomain"),
    ({}, "curl -v --insec https://10.1.1.1"),
    ({}, f"curl -v -k -H 'Host: other.example' {RESOLVE.replace('88.88.88.88', '10.1.1.1')} https://mydomain"),
    ({}, f"curl -v --proxy-resolve mydomain:443:88.88.88.88 -x {PROXY} https://mydomain"),
    ({}, "curl -sS --no-resolve mydomain:443:88.88.88.88 https://mydomain"),
    ({}, "curl -sS -v"),
    ({"HTTP_PROXY": "http://10.9.9.9:1080"}, "curl -v http://10.9.9.9:3128/"),  # curl never reads HTTP_PROXY
    ({"https_proxy": PROXY, "NO_PROXY": "mydomain"}, "curl -v --resolve a.mydomain:443:88.88.88.88 https://a.mydomain"),
    ({"https_proxy": PROXY, "NO_PROXY": "domain"}, f"curl -v {RESOLVE} https://mydomain"),  # a suffix at a dot only
    ({}, f"curl -v {RESOLVE} -x socks5h://10.9.9.9 https://mydomain"),  # no port: curl's 1080
    ({}, f"curl -v -p -x {PROXY} http://mydomain:443/"),  # --proxytunnel: CONNECT for http:// too
    ({}, "curl -v -k https://10.1.1.1"),  # no SNI for an IP address
    ({}, "curl -v --resolve '*:443:88.88.88.88' https://mydomain"),  # a wildcard: any name on that port
    ({}, "curl -v --resolve '*:443:10.1.1.1' --resolve mydomain:443:88.88.88.88 https://mydomain"),  # the name first
    ({}, "curl -v --resolve '*:8443:88.88.88.88' https://mydomain"),  # another port: the hosts file
    ({}, "curl -v --resolve mydomain:443:10.1.1.1,88.88.88.88 https://mydomain"),  # a list: the first, first
]


@pytest.mark.parametrize(("env", "command"), CASES)
async def test_plan_matches_real_curl(lab: LabFactory, env: dict[str, str], command: str) -> None:
    """Every prediction against each curl (the default one and curl 8, when fetched), planned for its release."""
    import shlex

    argv = shlex.split(command)
    env_words = [f"{k}={v}" for k, v in env.items()]
    async with lab("seed") as runner:
        for curl in curls():
            result = await runner.run(["env", *env_words, *argv], curl=curl)
            _check_plan(plan(argv, env, SEED_HOSTS, curl_version=curl.version.version), result)


def _check_plan(predicted: curlplan.Plan, result: CurlResult) -> None:
    if predicted.expected_exit is not None:  # (otherwise the servers decide it)
        assert result.exit_code == predicted.expected_exit, result.stderr
    if predicted.usage_error:
        assert result.error == predicted.usage_error
        return
    assert predicted.tcp is not None
    # curl 7 says "Connected to" at once, curl 8 only once TLS is up; both say first where they dial.
    assert result.verbose.trying[0] == format_address(*predicted.tcp), result.stderr
    # curl 7.88 names no host ("Connected to (nil)") when --connect-to chose the address
    named = predicted.proxy.host if predicted.proxy else None if predicted.connect_to else predicted.target_host
    for reached in result.verbose.connections:  # curl 8 prints "()" for a SOCKS proxy's address
        assert (reached.ip or predicted.tcp[0], reached.port) == predicted.tcp, result.stderr
        assert reached.name in (named, predicted.target_host if predicted.connect_to else named), result.stderr
    assert result.tunnel == predicted.tunnel
    assert tuple(result.proxy_env) == predicted.proxy_env
    connect_line = f"* Establish HTTP proxy tunnel to {predicted.tunnel}"
    assert (connect_line in result.stderr) == (predicted.tunnel_kind == "CONNECT"), result.stderr
    resolved = [e.table for e in result.events if isinstance(e, Resolved)]
    proxy_resolved = "proxy DNS" if predicted.resolver == "proxy" else "IP literal"
    assert resolved == ([proxy_resolved] if predicted.proxy else []), result.stderr
    hello = [e.sni or None for e in result.events if isinstance(e, TlsOk | TlsFailed | ClientHelloSeen)]
    if predicted.url is not None and predicted.url.scheme == "https":
        assert hello[:1] == [predicted.sni], result.stderr  # the first server that read a ClientHello
    else:
        assert set(hello) <= {None}, result.stderr  # plain HTTP (a TLS server in a tunnel reads no name)
    requests = [e.authority for e in result.events if isinstance(e, RequestReceived)]
    assert requests == ([predicted.host_header] if result.reached else []), result.stderr
    _, verdict = explain_result(scenario.load("seed"), result)
    assert verdict.drift == ()


async def test_unresolvable_name_is_exit_6(lab: LabFactory) -> None:
    predicted = plan(["curl", "-sS", "https://unknown.example"], {}, SEED_HOSTS)
    assert predicted.tcp is None
    async with lab("seed") as runner:
        result = await runner.run(["curl", "-sS", "https://unknown.example"])
    assert result.exit_code == predicted.expected_exit == 6


@pytest.mark.parametrize(
    "options", ["-I -d x", "-d x -F a=b", "-I -F a=b", "-T /dev/null -d x", "-G -d x -I", "-d x --json {}", "-I --head"]
)
async def test_two_request_methods_are_a_usage_error_as_curl_says(lab: LabFactory, options: str) -> None:
    """-I with -d (and the like) makes curl exit 2 before any connection; -G turns -d into a query, no POST."""
    argv = ["curl", "-v", *options.split(), "https://mydomain"]
    async with lab("seed") as runner:
        for curl in curls():
            result = await runner.run(argv, curl=curl)
            predicted = plan(argv, {}, SEED_HOSTS, curl_version=curl.version.version)
            assert (result.exit_code == 2) == (predicted.usage_error is not None), result.stderr
            if predicted.usage_error:
                assert "You can only select one HTTP request method" in result.stderr
                assert predicted.usage_error.removeprefix("curl: ").split("!")[0] in result.stderr

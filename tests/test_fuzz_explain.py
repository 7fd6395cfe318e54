"""Random curl commands, explained and checked: the differential test of explanations beyond the fixed matrix.

Each command is drawn from the pieces customers combine - a URL (name, address, port, scheme), ``--resolve``
(a name, ``*``, another port, a list), ``--connect-to``, a proxy (``-x``, SOCKS, the environment, ``NO_PROXY``,
``--noproxy``), the TLS options, a client certificate (good, expired, untrusted, no clientAuth, the wrong key, a
missing file), ``-H "Host: ..."`` - and run with real curl in the matrix's world (tests/explain_matrix.py); its
explanation must not contradict what curl printed or what the hosts reported (tests/explain_checks.py), and the
printed explanation must mark exactly its decisive lines. Seeded: a failure names its seed and command, which
replay alone with ``LAB_FUZZ_SEED=N LAB_FUZZ_COMMANDS=1``. ``LAB_FUZZ_COMMANDS`` sets how many (``make fuzz``
runs thousands); every third runs with curl 8 when ``make curl8`` fetched it.
"""

from __future__ import annotations

import io
import os
import random
import shlex

import pytest
from rich.console import Console

from lab.explain.narrate import explain_command
from lab.explain.verdict import explain_result
from lab.model import scenario
from lab.model.outcome import CurlBuild, CurlResult
from lab.session import open_lab
from tests.conftest import curls
from tests.explain_checks import contradictions, marked, must_be_marked
from tests.explain_matrix import WORLDS

pytestmark = pytest.mark.netns
COMMANDS = int(os.environ.get("LAB_FUZZ_COMMANDS", "40"))
SEED = int(os.environ.get("LAB_FUZZ_SEED", "0"))

NAMES = ["mydomain", "stale", "rogue", "plain", "nosuchname", "api.mydomain", "lb.mydomain"]
ADDRESSES = ["88.88.88.88", "88.88.88.89", "88.88.88.90", "88.88.88.92", "88.88.88.93", "88.88.88.94",
             "10.1.1.1", "198.0.8.245", "10.4.4.4", "10.5.5.5", "10.3.3.3", "10.99.0.1"]  # fmt: skip
PROXIES = [
    ["-x", "http://10.9.9.9:3128"], ["-x", "10.9.9.9:3128"], ["--proxy", "http://10.9.9.9:3128/"],
    ["-x", "socks5://10.9.9.9:1080"], ["-x", "socks5h://10.9.9.9:1080"], ["--socks5-hostname", "10.9.9.9:1080"],
    ["--socks5", "10.9.9.9:1080"], ["-x", "http://u:p@10.9.9.10:3128"], ["-x", "http://10.9.9.10:3128"],
    ["-x", "http://u:wrong@10.9.9.10:3128"], ["-x", "http://10.9.9.9:3999"], ["-x", "http://proxy.nowhere:3128"],
    ["-p", "-x", "http://10.9.9.9:3128"],
]  # fmt: skip
ENV_PROXIES = [("https_proxy", "http://10.9.9.9:3128"), ("HTTPS_PROXY", "http://10.9.9.9:3128"),
               ("http_proxy", "http://10.9.9.9:3128"), ("ALL_PROXY", "socks5h://10.9.9.9:1080"),
               ("all_proxy", "socks5://10.9.9.9:1080")]  # fmt: skip
TLS = [["-k"], ["--cacert", "certs/lab-root-ca.crt"], ["--cacert", "certs/rogue-ca.crt"], ["--tls-max", "1.2"],
       ["--tlsv1.3"], ["--http1.1"], ["--http2"], ["--insecure", "--tls-max", "1.2"], ["--ciphers", "BOGUS"],
       ["--tls13-ciphers", "NOPE"], ["--cacert", "certs/missing-ca.pem"], ["--capath", "/etc/ssl/certs"]]  # fmt: skip
CLIENT_CERTS = ["client", "expired-client", "rogue-client", "noeku-client", "future-client"]


def command(pick: random.Random) -> tuple[dict[str, str], list[str]]:
    """One command a customer might have typed, and its environment."""
    host = pick.choice(NAMES + ADDRESSES[:8])
    scheme = pick.choices(["https", "http"], [5, 1])[0]
    port = pick.choices(["", ":443", ":80", ":8443"], [8, 2, 1, 1])[0]
    url = f"{scheme}://{host}{port}{pick.choice(['', '/', '/api/v1'])}"
    url_port = int(port[1:]) if port else (443 if scheme == "https" else 80)
    argv = ["curl", pick.choice(["-v", "-sS", "-sSv", "-vk"] if pick.random() < 0.1 else ["-v", "-sS"])]
    argv += ["-m", "3", "--connect-timeout", "2"]
    env: dict[str, str] = {}
    for _ in range(pick.choices([0, 1, 2], [4, 4, 1])[0]):
        name = pick.choice([host, "*", pick.choice(NAMES)])
        addresses = ",".join(pick.sample(ADDRESSES, pick.choices([1, 2], [5, 1])[0]))
        argv += ["--resolve", f"{name}:{pick.choice([url_port, url_port, 443, 80])}:{addresses}"]
    if pick.random() < 0.25:
        to = pick.choice(["", *ADDRESSES[:8], *NAMES[:3]])
        argv += [
            "--connect-to",
            f"{pick.choice([host, ''])}:{pick.choice([url_port, ''])}:{to}:{pick.choice([443, ''])}",
        ]
    if pick.random() < 0.35:
        argv += pick.choice(PROXIES)
    elif pick.random() < 0.3:
        variable, value = pick.choice(ENV_PROXIES)
        env[variable] = value
        if pick.random() < 0.4:
            env[pick.choice(["NO_PROXY", "no_proxy"])] = pick.choice([host, f".{host}", "*", "88.88.0.0/16", "other"])
    if pick.random() < 0.15:
        argv += ["--noproxy", pick.choice([host, "*", "other"])]
    for _ in range(pick.choices([0, 1, 2], [3, 3, 1])[0]):
        argv += pick.choice(TLS)
    if pick.random() < 0.6:
        cert = pick.choice(CLIENT_CERTS)
        key = pick.choice([cert, cert, cert, "rogue-client"])
        argv += ["--cert", f"certs/{cert}.crt", "--key", f"certs/{key}.key"]
    elif pick.random() < 0.1:
        argv += ["-E", "certs/missing.pem"]
    if pick.random() < 0.15:
        argv += ["-H", f"Host: {pick.choice(NAMES[:3])}"]
    if pick.random() < 0.1:
        argv += ["-L"]
    return env, [*argv, url]


BEHAVIOUR_NAMES = ["body.test", "fin.test", "sni.test", "vhost.test", "moved.test", "eof.test", "gw.test", "in.test",
                   "rst.test", "staging.test", "tls13.test", "jenkins.corp.internal", "api.partner.test", "intranet",
                   "cn.test", "mitm.test", "nochain.test", "legacy.shop.test", "api.mydomain", "shop.test",
                   "www.shop.test", "hang.test", "empty.test", "plain.test", "drop.test", "fail.test", "gone.test",
                   "192.0.2.10", "192.0.2.20", "mydomain"]  # fmt: skip
BEHAVIOUR_PROXIES = [
    ["-x", "http://10.9.9.9:3128"], ["-x", "https://proxy.corp:3443"], ["-x", "https://proxy.corp:3444"],
    ["-x", "https://proxy.corp:3445", "--proxy-cert", "certs/client.crt", "--proxy-key", "certs/client.key"],
    ["-x", "https://proxy.corp:3445"], ["-x", "https://proxy.corp:3444", "--proxy-insecure"],
    ["-x", "http://10.9.9.9:3443"], ["-x", "https://10.9.9.9:3128"], ["-x", "socks5h://10.9.9.9:1080"],
    ["-x", "socks5h://10.9.9.9:1082"], ["-x", "socks5://10.9.9.9:1080"], ["-x", "socks5h://10.9.9.9:1081"],
]  # fmt: skip


def behaviour_command(pick: random.Random) -> tuple[dict[str, str], list[str]]:
    """A command against the world of host behaviours: alerts, hang-ups, odd certificates, redirects, proxies."""
    host = pick.choice(BEHAVIOUR_NAMES)
    scheme = pick.choices(["https", "http"], [3, 1])[0]
    port = pick.choices(["", ":443", ":80", ":8443"], [8, 1, 1, 1])[0]
    argv = ["curl", pick.choice(["-v", "-sS"]), "-m", "3", "--connect-timeout", "2"]
    if pick.random() < 0.35:
        argv += pick.choice(BEHAVIOUR_PROXIES)
    for _ in range(pick.choices([0, 1, 2], [3, 3, 1])[0]):
        argv += pick.choice([*TLS, ["-L"], ["-I"], ["-d", "x=1"], ["--proxy-cacert", "certs/rogue-ca.crt"]])
    if pick.random() < 0.3:
        cert = pick.choice(CLIENT_CERTS)
        argv += ["--cert", f"certs/{cert}.crt", "--key", f"certs/{cert}.key"]
    if pick.random() < 0.1:
        argv += ["--resolve", f"{host}:{port[1:] or 443}:{pick.choice(['192.0.2.10', '10.3.3.3', '192.0.2.21'])}"]
    return {}, [*argv, f"{scheme}://{host}{port}{pick.choice(['', '/', '/cart'])}"]


GENERATORS = {"seed": command, "behaviours": behaviour_command}


def _problems(world: scenario.Scenario, result: CurlResult) -> list[str]:
    _, verdict = explain_result(world, result)
    found = contradictions(world, result, verdict)
    if verdict.drift:
        found.append(f"the plan drifted from what curl did: {verdict.drift}")
    out = io.StringIO()
    Console(file=out, width=100, force_terminal=False, color_system=None).print(explain_command(world, result))
    lines = out.getvalue().splitlines()
    wanted = must_be_marked(lines, verdict, verdict.decision.hop, 100)
    if marked(lines) != wanted:
        found.append(f"lines marked ◀ decisive {marked(lines)}, expected {wanted}")
    return found


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_random_commands_are_explained_without_contradiction(name: str) -> None:
    import trio

    builds = curls()
    eight: CurlBuild | None = builds[1] if len(builds) > 1 else None
    world = scenario.load(WORLDS[name])
    generate = GENERATORS[name]

    async def run_all() -> list[str]:
        failures = []
        async with open_lab(world) as runner:
            for n in range(SEED, SEED + COMMANDS):
                env, argv = generate(random.Random(n))
                curl = eight if eight is not None and n % 3 == 2 else None
                words = ["env", *(f"{k}={v}" for k, v in env.items()), *argv] if env else argv
                result = await runner.run(words, curl=curl)
                problems = _problems(world, result)
                if problems:
                    which = f"curl {curl.version.version}" if curl else "the default curl"
                    failures.append(f"seed {n} ({which}): {shlex.join(words)}\n    " + "\n    ".join(problems))
        return failures

    failures = trio.run(run_all)
    assert failures == [], f"{len(failures)} of {COMMANDS} commands contradicted:\n" + "\n".join(failures)

"""Full mTLS handshakes per second: the lab's load balancer against nginx, same certificates, same client.

Theory of operation: the process enters a lab namespace (:func:`lab.netns.enter`, before trio starts),
starts the seed world - its ``glb`` on 88.88.88.88:443 - and an nginx (Debian package, installed by
``make bench``) on 88.88.88.89:443 with the same server chain and key, ``ssl_verify_client on`` against the
same client CA, one worker (the load balancer is one Python thread), no session cache or tickets. The same
client, ``openssl s_time -new -www /``, then makes as many new connections as it can for a fixed time
against each server in turn: a full TLS handshake with a client certificate, one HTTP request, close.
Results: ``bench/results/mtls-handshakes.json`` and ``.md``; the ratio glb/nginx is the headline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import trio

from lab.errors import NamespaceUnavailable
from lab.model import scenario
from lab.paths import ROOT
from lab.runtime import netns
from lab.runtime.pki import Pki
from lab.session import open_lab

RESULTS = Path(__file__).resolve().parent / "results"
NGINX_ADDRESS = ("88.88.88.89", 443)
GLB_ADDRESS = ("88.88.88.88", 443)
GOAL = 0.7
_REAL = re.compile(r"(\d+) connections in (\d+) real seconds")

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    server {{
        listen {ip}:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_client_certificate {client_ca};
        ssl_verify_client on;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


class BenchError(Exception):
    """The benchmark cannot run here; the message says what to install or change."""


@dataclass(frozen=True, slots=True)
class Measurement:
    server: str
    tls: str
    connections: int
    seconds: float
    per_second: float


async def s_time(address: tuple[str, int], tls: str, seconds: int, clients: int) -> Measurement:
    """``clients`` concurrent ``openssl s_time -new`` runs (full handshakes, lab client certificate).

    One s_time is latency-bound (it waits for each connection to end), so several run at once; the rate is
    their connections over the wall time of the whole batch."""
    certs = ROOT / "certs"
    args = [
        "openssl", "s_time", "-connect", f"{address[0]}:{address[1]}", "-new", "-time", str(seconds),
        "-cert", str(certs / "client.crt"), "-key", str(certs / "client.key"), "-www", "/",
        "-tls1_3" if tls == "1.3" else "-tls1_2",
    ]  # fmt: skip
    counts: list[int] = []

    async def one() -> None:
        done = await trio.run_process(args, capture_stdout=True, capture_stderr=True, check=False)
        found = _REAL.search(done.stdout.decode())
        if done.returncode != 0 or not found:
            raise BenchError(f"openssl s_time against {address} failed: {done.stderr.decode()[-400:]}")
        counts.append(int(found.group(1)))

    started = trio.current_time()
    async with trio.open_nursery() as nursery:
        for _ in range(clients):
            nursery.start_soon(one)
    elapsed = trio.current_time() - started
    return Measurement("", tls, sum(counts), round(elapsed, 3), sum(counts) / elapsed)


async def start_nginx(nursery: trio.Nursery, workdir: Path, pki: Pki) -> trio.Process:
    binary = shutil.which("nginx")
    if binary is None:
        raise BenchError("nginx is not installed: run `make bench` (it installs it) or `apt-get install nginx-light`")
    seed = scenario.load("seed")
    pair = pki.server(seed.hosts["glb"])  # the load balancer's own chain and key
    conf = workdir / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            dir=workdir, ip=NGINX_ADDRESS[0], port=NGINX_ADDRESS[1], cert=pair.cert, key=pair.key,
            client_ca=pki.client_ca.pair.cert,
        )
    )  # fmt: skip
    await trio.run_process(["ip", "addr", "add", f"{NGINX_ADDRESS[0]}/32", "dev", "lo"])
    process: trio.Process = await nursery.start(
        partial(trio.run_process, [binary, "-p", str(workdir), "-c", str(conf)], check=False)
    )
    with trio.fail_after(10):  # ready when it accepts a TCP connection
        while True:
            try:
                stream = await trio.open_tcp_stream(*NGINX_ADDRESS)
            except OSError:
                if process.returncode is not None:
                    raise BenchError(f"nginx exited: {(workdir / 'error.log').read_text()[-400:]}") from None
                await trio.sleep(0.05)
            else:
                await stream.aclose()
                return process


async def main(seconds: int, versions: list[str], clients: int) -> dict[str, object]:
    seed = scenario.load("seed")
    results: list[Measurement] = []
    async with open_lab(seed) as runner:
        with tempfile.TemporaryDirectory(prefix="lab-bench-") as tmp:
            async with trio.open_nursery() as nursery:
                nginx = await start_nginx(nursery, Path(tmp), runner.world.pki)
                for tls in versions:
                    for name, address in (("glb", GLB_ADDRESS), ("nginx", NGINX_ADDRESS)):
                        measured = await s_time(address, tls, seconds, clients)
                        results.append(
                            Measurement(name, tls, measured.connections, measured.seconds, measured.per_second)
                        )
                        print(f"  {name:<6} TLS {tls}: {measured.per_second:7.1f} handshakes/s", flush=True)
                nginx.terminate()
    ratios = {}
    for tls in versions:
        glb = next(m for m in results if m.server == "glb" and m.tls == tls)
        nginx_m = next(m for m in results if m.server == "nginx" and m.tls == tls)
        ratios[tls] = glb.per_second / nginx_m.per_second
    return {
        "what": "full mTLS handshakes per second (openssl s_time -new -www /, client certificate, RSA 2048)",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "seconds_per_run": seconds,
        "concurrent_clients": clients,
        "results": [asdict(m) for m in results],
        "ratio_glb_over_nginx": ratios,
        "goal": GOAL,
    }


def report_markdown(record: dict[str, object]) -> str:
    lines = [
        "# mTLS handshakes per second: lab load balancer vs nginx",
        "",
        f"{record['what']}; {record['concurrent_clients']} concurrent clients, "
        f"{record['seconds_per_run']} s per run; {record['when']}; machine {record['machine']}.",
        "",
        "| server | TLS | connections | seconds | handshakes/s |",
        "|---|---|---:|---:|---:|",
    ]
    for m in record["results"]:  # type: ignore[attr-defined]
        lines.append(f"| {m['server']} | {m['tls']} | {m['connections']} | {m['seconds']:g} | {m['per_second']:.1f} |")
    lines.append("")
    for tls, ratio in record["ratio_glb_over_nginx"].items():  # type: ignore[attr-defined]
        verdict = "meets" if ratio >= GOAL else "below"
        lines.append(f"- TLS {tls}: glb/nginx = **{ratio:.2f}** ({verdict} the goal of {GOAL})")
    return "\n".join(lines) + "\n"


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each s_time run (default 5)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent s_time clients (default 4)")
    parser.add_argument("--tls", nargs="+", default=["1.3", "1.2"], choices=["1.2", "1.3"])
    args = parser.parse_args(argv)
    try:
        netns.enter()
        os.chdir(ROOT)
        print(f"full mTLS handshakes, {args.seconds} s per run:", flush=True)
        record = trio.run(main, args.seconds, args.tls, args.clients)
    except (BenchError, NamespaceUnavailable) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mtls-handshakes.json").write_text(json.dumps(record, indent=1))
    markdown = report_markdown(record)
    (RESULTS / "mtls-handshakes.md").write_text(markdown)
    print(markdown)
    from bench import addressing, startup

    # The soak forks a clean lab process: it runs as a process of its own, not in this one's threads.
    soak = subprocess.run([sys.executable, "-m", "bench.soak"], cwd=ROOT, check=False).returncode
    return startup.run() or addressing.run() or soak


if __name__ == "__main__":
    raise SystemExit(run())

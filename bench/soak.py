"""A long session in minutes: the seed world's memory over 20,000 connections of every kind.

Theory of operation: this process enters a lab namespace, then forks (before trio starts, so the child owns a
clean interpreter). The child runs the seed world exactly as ``lab up`` does - the same hosts, one timeline
with a subscriber - and nothing else; the parent is the clients: load balancer requests with and without a
client certificate, the old service, tunnels through the HTTP proxy (proxy.py's threads) and the SOCKS
proxy, ClientHellos to the reset host, in turn, a few at a time. The child's resident set (VmRSS from
/proc) is read after the first 100 connections (the baseline: every code path warmed up) and at checkpoints
up to the last. Results: ``bench/results/memory.json`` and ``.md``; the headline is RSS after 20,000 minus
RSS after 100 (goal: within 10 MB) and their ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import os
import signal
import ssl
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

from lab.model import scenario
from lab.paths import ROOT
from lab.runtime import netns
from lab.runtime.timeline import Timeline
from lab.session import open_lab

RESULTS = Path(__file__).resolve().parent / "results"
GOAL_MB = 10.0
CHECKPOINTS = (100, 1_000, 2_500, 5_000, 10_000, 15_000, 20_000)
GET = b"GET / HTTP/1.1\r\nHost: mydomain\r\nConnection: close\r\n\r\n"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def _serve(ready: int) -> None:
    """The child: the seed world, until SIGTERM."""

    async def main() -> None:
        timeline = Timeline()
        timeline.subscribe(lambda event: None)  # as lab up's printer: every event goes to a subscriber
        with trio.open_signal_receiver(signal.SIGTERM) as signals:
            async with open_lab(scenario.load("seed"), timeline=timeline):
                os.write(ready, b"ready\n")
                os.close(ready)
                async for _ in signals:
                    return

    trio.run(main)


def _contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    plain = ssl.create_default_context()
    plain.check_hostname = False
    plain.verify_mode = ssl.CERT_NONE
    mtls = ssl.create_default_context()
    mtls.check_hostname = False
    mtls.verify_mode = ssl.CERT_NONE
    mtls.load_cert_chain(ROOT / "certs" / "client.crt", ROOT / "certs" / "client.key")
    return plain, mtls


async def _request(stream: trio.abc.Stream, context: ssl.SSLContext) -> None:
    tls = trio.SSLStream(stream, context, server_hostname="mydomain", https_compatible=True)
    async with tls:
        await tls.send_all(GET)
        while await tls.receive_some(65536):
            pass


async def _via_http_proxy(context: ssl.SSLContext) -> None:
    stream = await trio.open_tcp_stream("10.9.9.9", 3128)
    await stream.send_all(b"CONNECT mydomain:443 HTTP/1.1\r\nHost: mydomain:443\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += await stream.receive_some(4096)
    await _request(stream, context)


async def _via_socks(context: ssl.SSLContext) -> None:
    stream = await trio.open_tcp_stream("10.9.9.9", 1080)
    await stream.send_all(b"\x05\x01\x00\x05\x01\x00\x03\x08mydomain\x01\xbb")
    got = b""
    while len(got) < 12:
        got += await stream.receive_some(12 - len(got))
    await _request(stream, context)


async def _refused(address: tuple[str, int], context: ssl.SSLContext) -> None:
    """A handshake the host ends (the load balancer without a client certificate, the reset host)."""
    with contextlib.suppress(trio.BrokenResourceError, ssl.SSLError):
        await _request(await trio.open_tcp_stream(*address), context)


def _kinds() -> list[tuple[str, Callable[[], Awaitable[None]]]]:
    plain, mtls = _contexts()
    return [
        ("glb with a client certificate", lambda: _request_to(("88.88.88.88", 443), mtls)),
        ("glb without one (refused)", lambda: _refused(("88.88.88.88", 443), plain)),
        ("old service", lambda: _request_to(("10.1.1.1", 443), plain)),
        ("through the HTTP proxy", lambda: _via_http_proxy(plain)),
        ("through the SOCKS proxy", lambda: _via_socks(plain)),
        ("reset host", lambda: _refused(("198.0.8.245", 443), plain)),
    ]


async def _request_to(address: tuple[str, int], context: ssl.SSLContext) -> None:
    await _request(await trio.open_tcp_stream(*address), context)


async def drive(child: int, total: int, concurrency: int) -> list[dict[str, float]]:
    kinds = _kinds()
    counter = itertools.count()
    done = 0
    samples: list[dict[str, float]] = []
    started = trio.current_time()
    checkpoints = [c for c in CHECKPOINTS if c <= total] or [total]

    async def worker() -> None:
        nonlocal done
        while (n := next(counter)) < total:
            _, connect = kinds[n % len(kinds)]
            with trio.fail_after(20):
                await connect()
            done += 1
            if checkpoints and done >= checkpoints[0]:
                at = checkpoints.pop(0)
                samples.append(
                    {"connections": at, "rss_mb": rss_kib(child) / 1024, "seconds": trio.current_time() - started}
                )
                print(f"  {at:>6} connections: RSS {samples[-1]['rss_mb']:.1f} MB", flush=True)

    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(worker)
    return samples


def measure(total: int, concurrency: int) -> dict[str, object]:
    netns.enter()
    os.chdir(ROOT)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child process
        os.close(read_end)
        try:
            _serve(write_end)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as ready:
        if ready.readline().strip() != "ready":
            raise SystemExit("bench soak: the lab did not start")
    try:
        samples = trio.run(drive, child, total, concurrency)
    finally:
        os.kill(child, signal.SIGTERM)
        os.waitpid(child, 0)
    first, last = samples[0], samples[-1]
    return {
        "what": "VmRSS of a process serving the seed world, over connections of every kind (bench/soak.py)",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "kinds": [name for name, _ in _kinds()],
        "concurrency": concurrency,
        "samples": samples,
        "baseline": first,
        "growth_mb": last["rss_mb"] - first["rss_mb"],
        "ratio_last_over_baseline": last["rss_mb"] / first["rss_mb"],
        "goal_growth_mb": GOAL_MB,
    }


def report_markdown(record: dict[str, object]) -> str:
    lines = [
        "# Memory over a long session",
        "",
        f"{record['what']}; {record['concurrency']} clients at a time, in turn: {', '.join(record['kinds'])}. "  # type: ignore[arg-type]
        f"{record['when']}.",
        "",
        "| connections | RSS (MB) | seconds |",
        "|---:|---:|---:|",
    ]
    for sample in record["samples"]:  # type: ignore[attr-defined]
        lines.append(f"| {sample['connections']} | {sample['rss_mb']:.1f} | {sample['seconds']:.0f} |")
    growth, ratio = record["growth_mb"], record["ratio_last_over_baseline"]
    verdict = "meets" if growth <= GOAL_MB else "misses"  # type: ignore[operator]
    lines += ["", f"- growth after the first 100 connections: **{growth:+.1f} MB** (ratio {ratio:.3f}; {verdict} "
              f"the goal of {GOAL_MB:g} MB)"]  # fmt: skip
    return "\n".join(lines) + "\n"


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    print(f"memory over {args.connections} connections:", flush=True)
    record = measure(args.connections, args.concurrency)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps(record, indent=1))
    markdown = report_markdown(record)
    (RESULTS / "memory.md").write_text(markdown)
    print(markdown)
    return 0 if record["growth_mb"] <= GOAL_MB else 1  # type: ignore[operator]


if __name__ == "__main__":
    sys.exit(run())

"""How a refused connection ends, and what real curl makes of it: exit codes counted per way of closing.

Theory of operation: the process enters a lab namespace, starts the seed world (for its addresses and its
certificates) and, beside its load balancer, a bare server on 88.88.88.88:8443 with the load balancer's TLS
context. That server refuses every client that sends no certificate, then ends the connection one way from
:mod:`lab.hosts.glb.closing` - after OpenSSL's alert (the ``alert`` style) or after letting the handshake
finish (the ``empty-reply`` style) - while curl, asked for ``https://mydomain:8443/`` without a
certificate, is run RUNS times per way and TLS version. The counts of curl's exit codes go to
``bench/results/close-race.json`` and ``.md``; docs/scenarios.md ("How a refused connection ends") records a
run and the choice it supports.

    python -m bench.close_race [--runs 40] [--curl PATH ...]
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import platform
import subprocess
import sys
from pathlib import Path

import trio

from lab.errors import NamespaceUnavailable
from lab.hosts.glb import closing
from lab.hosts.glb.server import tls_context
from lab.model import scenario
from lab.model.glbsettings import GlbSettings
from lab.runtime import netns
from lab.runtime.runner import Runner
from lab.runtime.tlsbio import OpenSSLStream, TLSHandshakeFailed
from lab.runtime.tlsverify import ClientChainPolicy
from lab.runtime.world import CountingStream
from lab.session import open_lab

RESULTS = Path(__file__).resolve().parent / "results"
ADDRESS = ("88.88.88.88", 8443)


class Bench:
    """The bare server: how it refuses (``after``: alert or handshake) and how it ends (``ending``)."""

    def __init__(self, runner: Runner) -> None:
        glb = runner.world.scenario.hosts["glb"]
        pair = runner.world.pki.server(glb)
        assert isinstance(glb.settings, GlbSettings)
        self.contexts = {}
        for after in ("alert", "handshake"):
            context = tls_context(str(pair.cert), str(pair.key), glb.settings)
            policy = ClientChainPolicy(context, require_certificate=after == "alert", decide=lambda chain: 0)
            self.contexts[after] = (context, policy)
        self.after = "alert"
        self.ending: closing.Ending = closing.linger_after_alert

    async def handle(self, stream: trio.SocketStream) -> None:
        counted = CountingStream(stream)
        context, policy = self.contexts[self.after]
        tls = OpenSSLStream(counted, context, failure_style="alert")
        policy.watch(tls.conn)
        try:
            await tls.do_handshake()
            refused = self.after == "handshake"
        except TLSHandshakeFailed:
            refused = self.after == "alert"
        finally:
            policy.forget(tls.conn)
        if refused:
            await self.ending(counted, tls)
        with trio.move_on_after(1):
            await counted.aclose()


async def _curl(curl: str, runner: Runner, args: list[str]) -> tuple[int, str]:
    """curl's exit code and the last line it printed (its error, or the version line for --version)."""
    done = await trio.run_process(
        [curl, *args], env=runner.environment({}), capture_stdout=True, capture_stderr=True, check=False
    )
    lines = (done.stderr or done.stdout[:200]).decode("utf-8", "replace").strip().splitlines()
    return done.returncode, lines[-1] if done.stderr else (lines[0] if lines else "")


async def measure(runs: int, curls: list[str]) -> dict[str, dict[str, int]]:
    results: dict[str, dict[str, int]] = {}
    async with open_lab(scenario.load("seed")) as runner, trio.open_nursery() as nursery:
        bench = Bench(runner)
        listeners = await trio.open_tcp_listeners(ADDRESS[1], host=ADDRESS[0])
        nursery.start_soon(trio.serve_listeners, bench.handle, listeners)
        variants = [("alert", name, f) for name, f in closing.AFTER_ALERT.items()]
        variants += [("handshake", name, f) for name, f in closing.AFTER_HANDSHAKE.items()]
        for curl in curls:
            version_line = (await _curl(curl, runner, ["--version"]))[1]
            for after, name, ending in variants:
                bench.after, bench.ending = after, ending
                for tls, http in (("1.3", "--http2"), ("1.3", "--http1.1"), ("1.2", "--http2")):
                    counts: collections.Counter[str] = collections.Counter()
                    for _ in range(runs):
                        code, error = await _curl(
                            curl, runner, ["-sS", "-m", "5", "--tls-max", tls, http, "--resolve",
                                           "mydomain:8443:88.88.88.88", "https://mydomain:8443/"]
                        )  # fmt: skip
                        counts[f"{code} {_kind(error)}"] += 1
                    when = "after the alert" if after == "alert" else "after the handshake"
                    label = f"{_short(curl, version_line)}, TLS {tls}, {http[2:]}: {when}: {name}"
                    results[label] = dict(counts.most_common())
                    print(f"{label}: {results[label]}", flush=True)
        nursery.cancel_scope.cancel()
    return results


def _short(curl: str, version_line: str) -> str:
    parts = version_line.split()
    return f"curl {parts[1]}" if len(parts) > 1 else curl


def _kind(error: str) -> str:
    """The part of curl's error line that tells the cases apart, without addresses and OpenSSL codes."""
    for phrase in (
        "certificate required",
        "handshake failure",
        "Empty reply from server",
        "Connection reset by peer",
        "getpeername() failed",
        "Broken pipe",
        "unexpected eof",
        "SSL_ERROR_SYSCALL",
        "Failure when receiving data",
        "Failed sending",
        "timed out",
    ):
        if phrase.lower() in error.lower():
            return f"({phrase})"
    return f"({error[:60]})" if error else ""


def write(results: dict[str, dict[str, int]], runs: int, curls: list[str]) -> Path:
    versions = [subprocess.run([c, "--version"], capture_output=True, text=True, check=False).stdout for c in curls]
    curl = "; ".join(v.splitlines()[0] for v in versions if v)
    record = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "curl": curl,
        "runs": runs,
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "close-race.json").write_text(json.dumps(record, indent=1))
    lines = [f"# How a refused connection ends ({record['when']}, {runs} runs each)", "", curl, ""]
    lines += ["| server | curl exit codes |", "|---|---|"]
    lines += [f"| {label} | {', '.join(f'{n}x {k}' for k, n in counts.items())} |" for label, counts in results.items()]
    path = RESULTS / "close-race.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--curl", action="append", help="a curl binary to measure (repeatable; default: curl)")
    args = parser.parse_args()
    try:
        netns.enter()
    except NamespaceUnavailable as exc:
        print(f"close_race: {exc}", file=sys.stderr)
        return 3
    results = trio.run(measure, args.runs, args.curl or ["curl"])
    print(f"wrote {write(results, args.runs, args.curl or ['curl'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

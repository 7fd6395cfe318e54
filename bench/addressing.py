"""What real peer addresses cost at start-up: the two designs, measured on the seed world.

* ``lo-only`` (before peer addresses, the baseline): every host address on ``lo``; curl's connections
  came from the destination's own address.
* ``source-routes`` (the lab's choice, :mod:`lab.runtime.addressing`): the same, plus the client's
  address and one ``local`` route per host address whose source is the client.
* ``netns-per-host`` (the alternative, a prototype made only here): one network namespace per host
  address and one for the client, each joined by a veth pair to a bridge, ``iproute2`` as the lab uses it.

Each sample is a fresh process that enters a lab namespace, times the set-up plus one TCP connection
from the client to the load balancer's address (so a design is only done when a packet gets through), and
exits. Median of :data:`RUNS`. Results: ``bench/results/addressing.json`` and ``.md``.
"""

from __future__ import annotations

import ctypes
import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lab.model import scenario
from lab.model.scenario import Scenario
from lab.paths import ROOT
from lab.runtime import addressing, netns

RESULTS = Path(__file__).resolve().parent / "results"
RUNS = 10
CLONE_NEWNET = 0x40000000
GLB = ("88.88.88.88", 443)


def _ip(*args: str, batch: list[str] | None = None) -> None:
    stdin = "".join(f"{line}\n" for line in batch) if batch is not None else None
    subprocess.run(["ip", *args], input=stdin, text=True, check=True, capture_output=True)


def _socket_in(namespace: str | None) -> socket.socket:
    """A TCP socket in a named network namespace (a socket keeps the namespace it was made in)."""
    if namespace is None:
        return socket.socket()
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/proc/thread-self/ns/net") as home, open(f"/run/netns/{namespace}") as target:
        libc.setns(target.fileno(), CLONE_NEWNET)
        made = socket.socket()
        libc.setns(home.fileno(), CLONE_NEWNET)
    return made


def lo_only(world: Scenario) -> tuple[str | None, str | None]:
    """What the lab did before (``netns.configure``): flush, then every host address on ``lo``."""
    _ip("addr", "flush", "dev", "lo", "scope", "global")
    ips = sorted({h.ip for h in world.hosts.values()})
    _ip("-batch", "-", batch=[f"addr add {ip}/32 dev lo" for ip in ips])
    return None, None


def source_routes(world: Scenario) -> tuple[str | None, str | None]:
    addressing.assign(world)
    return None, None


def netns_per_host(world: Scenario) -> tuple[str | None, str | None]:
    """The prototype: a bridge in the lab namespace, a namespace and a veth pair per address."""
    subprocess.run(["mount", "-t", "tmpfs", "none", "/run"], check=True)  # a private mount namespace: ours only
    host_ips = sorted({h.ip for h in world.hosts.values()})
    places = {"client": world.client.address} | {f"h{i}": ip for i, ip in enumerate(host_ips)}
    root = ["link add br0 type bridge", "link set br0 up"]
    for name in places:
        root += [f"netns add {name}", f"link add v{name} type veth peer name eth0 netns {name}"]
        root.append(f"link set v{name} master br0 up")
    _ip("-batch", "-", batch=root)
    for name, ip in places.items():
        inside = ["link set lo up", f"addr add {ip}/32 dev eth0", "link set eth0 up", "route add default dev eth0"]
        _ip("-n", name, "-batch", "-", batch=inside)
    return "client", f"h{host_ips.index(GLB[0])}"


Design = Callable[[Scenario], tuple[str | None, str | None]]  # -> (client's namespace, glb's namespace)
DESIGNS: dict[str, Design] = {"lo-only": lo_only, "source-routes": source_routes, "netns-per-host": netns_per_host}


def sample(design: str) -> float:
    """One set-up in this (fresh) process, in seconds, ending with one TCP connection client -> glb."""
    netns.enter()
    world = scenario.load("seed")
    started = time.perf_counter()
    client_ns, glb_ns = DESIGNS[design](world)
    with _socket_in(glb_ns) as listener, _socket_in(client_ns) as client:
        listener.bind(GLB)
        listener.listen()
        client.settimeout(5)
        client.connect(GLB)
        listener.accept()[0].close()
    return time.perf_counter() - started


def run() -> int:
    times: dict[str, list[float]] = {design: [] for design in DESIGNS}
    for _ in range(RUNS):  # the designs take turns, so a busy moment of the machine hits all of them
        for design in DESIGNS:
            argv = [sys.executable, "-m", "bench.addressing", design]
            done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
            times[design].append(float(done.stdout.strip()))
    medians = {design: statistics.median(samples) for design, samples in times.items()}
    base = medians["lo-only"]
    startup = RESULTS / "startup.json"  # the warm `lab exec` start-up, measured just before by bench.startup
    warm = json.loads(startup.read_text())["lab_exec_warm_s"] if startup.exists() else None
    record = {
        "runs": RUNS,
        "median_s": medians,
        "ratio_vs_lo_only": {k: v / base for k, v in medians.items()},
        "extra_as_share_of_warm_start": {k: (v - base) / warm for k, v in medians.items()} if warm else None,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "addressing.json").write_text(json.dumps(record, indent=1))
    rows = [
        f"| {k} | {v * 1000:.1f} ms | {v / base:.1f}x | " + (f"{(v - base) / warm:+.1%} |" if warm else "- |")
        for k, v in medians.items()
    ]
    markdown = (
        "# Peer addresses: network set-up of the seed world (set-up + first TCP connection)\n\n"
        f"| design | median of {RUNS} | vs lo-only | extra, as a share of the warm `lab exec` start-up |\n"
        "|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    (RESULTS / "addressing.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(sample(sys.argv[1]))
        raise SystemExit(0)
    raise SystemExit(run())

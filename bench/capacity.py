"""How many learners' labs one machine holds: N labs at once, each replaying the whole catalog.

Theory of operation: each lab is a separate process in its own network + mount namespace (as ``lab serve``
will start one per browser session, and as each pod runs one on Kubernetes): :mod:`bench.learner`, which
replays the catalog with the lab's own session, runner and explanation code and prints each step's latency
(the real curl, the hosts' work, the explanation a learner reads) and each world's start time. All N start
together. Two workloads: *flat out* (no pause between steps, as ``lab run --all``: the worst case, every
learner replaying at once) and *paced* (a learner's few seconds of reading and typing before each step).

Memory, two ways: the peak RSS of the lab's largest process (``wait4``'s ``ru_maxrss``: the lab itself,
bigger than any curl), and the peak PSS of the lab's whole process tree (the lab and its curl, sampled every
0.2 s; PSS, because RSS counts the pages a child shares with the lab between fork and exec twice, and the
shared libraries once per lab). A step fails if its expectations fail, or if the lab exits non-zero or
prints fewer steps than the catalog has.

The single-lab flat-out run in the same invocation is the baseline; every figure is also given as a ratio
to it. The headline: the largest N whose p95 step latency is at most 1 s with no failures. Goal: 30 labs on
2 cores, at most 80 MB each. Results: ``bench/results/capacity.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import write_results
from lab.model import scenario
from lab.paths import ROOT

RESULTS = Path(__file__).resolve().parent / "results"
P95_GOAL_S = 1.0
RSS_GOAL_MB = 80.0
LEARNERS_GOAL = 30
DEFAULT_LEARNERS = (1, 10, 15, 20, 30)
QUICK_LEARNERS = (1, 4)
DEFAULT_PACED = (30,)
QUICK_PACED = (4,)
PACE_S = 3.0
QUICK_PACE_S = 0.5
SAMPLE_EVERY_S = 0.2


@dataclass(slots=True)
class Lab:
    """One learner's lab process and what it printed, as it printed it."""

    process: subprocess.Popen[str]
    started: float
    first: float | None = None
    steps: list[float] = field(default_factory=list)
    worlds: list[float] = field(default_factory=list)
    oks: list[bool] = field(default_factory=list)
    peak_rss_kb: int = 0  # the largest process of the lab (ru_maxrss)
    peak_pss_kb: int = 0  # the lab's process tree, summed
    returncode: int | None = None

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                record = json.loads(line)
                self.first = self.first or time.monotonic()
                self.steps.append(float(record["latency_s"]))
                self.worlds += [float(record["world_s"])] if "world_s" in record else []
                self.oks.append(bool(record["ok"]))
        _, status, usage = os.wait4(self.process.pid, 0)
        self.returncode = self.process.returncode = os.waitstatus_to_exitcode(status)
        self.peak_rss_kb = usage.ru_maxrss


@dataclass(frozen=True, slots=True)
class Round:
    learners: int
    pace_s: float
    wall_s: float
    steps: int
    failures: int
    startup_p50_s: float
    world_p95_s: float
    p50_s: float
    p95_s: float
    max_s: float
    rss_mb_median: float
    rss_mb_max: float
    pss_mb_median: float
    pss_mb_max: float


def _tree_pss_kb(pid: int, children: dict[int, list[int]]) -> int:
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/smaps_rollup") as status:
                for line in status:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
        todo.extend(children.get(current, ()))
    return total


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process (one pass over /proc)."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def _sample(labs: list[Lab], done: threading.Event) -> None:
    while not done.wait(SAMPLE_EVERY_S):
        tree = _children()
        for lab in labs:
            if lab.returncode is None:
                lab.peak_pss_kb = max(lab.peak_pss_kb, _tree_pss_kb(lab.process.pid, tree))


def run_round(learners: int, pace: float, expected_steps: int) -> Round:
    labs = []
    for number in range(learners):
        argv = [sys.executable, "-m", "bench.learner", "--pace", str(pace), "--seed", str(number)]
        process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        labs.append(Lab(process, time.monotonic()))
    started = time.monotonic()
    done = threading.Event()
    sampler = threading.Thread(target=_sample, args=(labs, done))
    sampler.start()
    readers = [threading.Thread(target=lab.read) for lab in labs]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    latencies = sorted(x for lab in labs for x in lab.steps)
    worlds = sorted(x for lab in labs for x in lab.worlds)
    failures = sum(lab.oks.count(False) + max(0, expected_steps - len(lab.oks)) + (lab.returncode != 0) for lab in labs)
    rss = [lab.peak_rss_kb / 1024 for lab in labs]
    pss = [lab.peak_pss_kb / 1024 for lab in labs]
    return Round(
        learners=learners,
        pace_s=pace,
        wall_s=round(wall, 2),
        steps=sum(len(lab.oks) for lab in labs),
        failures=failures,
        startup_p50_s=round(statistics.median(lab.first - lab.started for lab in labs if lab.first), 3),
        world_p95_s=round(_quantile(worlds, 0.95), 3),
        p50_s=round(_quantile(latencies, 0.50), 3),
        p95_s=round(_quantile(latencies, 0.95), 3),
        max_s=round(latencies[-1] if latencies else float("nan"), 3),
        rss_mb_median=round(statistics.median(rss), 1),
        rss_mb_max=round(max(rss), 1),
        pss_mb_median=round(statistics.median(pss), 1),
        pss_mb_max=round(max(pss), 1),
    )


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


def record(rounds: list[Round], expected_steps: int) -> dict[str, object]:
    base = rounds[0]

    def largest(pace_wanted: bool) -> int:
        holding = [r for r in rounds if bool(r.pace_s) == pace_wanted and r.p95_s <= P95_GOAL_S and not r.failures]
        return max((r.learners for r in holding), default=0)

    return {
        "what": "N learners' labs at once on one machine, each replaying the catalog in its own namespace",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "steps_per_lab": expected_steps,
        "rounds": [asdict(r) for r in rounds],
        "ratios_to_one_lab": [
            {
                "learners": r.learners,
                "pace_s": r.pace_s,
                "p95": round(r.p95_s / base.p95_s, 2),
                "rss": round(r.rss_mb_max / base.rss_mb_max, 2),
                "pss": round(r.pss_mb_max / base.pss_mb_max, 2),
            }
            for r in rounds
        ],
        "largest_n_p95_within_goal": {"flat_out": largest(False), "paced": largest(True)},
        "goal": {"learners": LEARNERS_GOAL, "p95_s": P95_GOAL_S, "rss_mb": RSS_GOAL_MB},
    }


def report_markdown(rec: dict[str, Any]) -> str:
    rounds = rec["rounds"]
    base = rounds[0]
    lines = [
        "# Capacity: learners' labs at once on one machine",
        "",
        f"{rec['what']}; {rec['steps_per_lab']} steps per lab; {rec['when']}; machine {rec['machine']}.",
        "Pace 0: every lab replays flat out (the worst case); pace S: a learner thinks S seconds (0.5-1.5 S) before",
        "each step. Step: the real curl, the hosts, the explanation. World: starting a scenario's hosts. Start-up:",
        "process start to first step done. RSS: peak of the lab's largest process; PSS: peak of its process tree.",
        "",
        "| labs | pace s | wall s | steps | failures | start-up p50 s | world p95 s | step p50 s | step p95 s "
        "| step max s | p95 / 1 lab | RSS MB max | PSS MB median | PSS MB max |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rounds:
        lines.append(
            f"| {r['learners']} | {r['pace_s']:g} | {r['wall_s']} | {r['steps']} | {r['failures']} "
            f"| {r['startup_p50_s']} | {r['world_p95_s']} | {r['p50_s']} | {r['p95_s']} | {r['max_s']} "
            f"| {r['p95_s'] / base['p95_s']:.2f}x | {r['rss_mb_max']} | {r['pss_mb_median']} | {r['pss_mb_max']} |"
        )
    goal, largest = rec["goal"], rec["largest_n_p95_within_goal"]
    lines += [
        "",
        f"- largest N with step p95 <= {goal['p95_s']} s and no failures: **{largest['flat_out']}** flat out, "
        f"**{largest['paced']}** paced (of the N measured; goal: {goal['learners']} on 2 cores; "
        f"this machine has {rec['machine']['cpus']})",
        f"- largest RSS of one lab: **{max(r['rss_mb_max'] for r in rounds)} MB**; PSS of one lab's processes: "
        f"**{max(r['pss_mb_max'] for r in rounds)} MB** (goal: at most {goal['rss_mb']} MB)",
    ]
    return "\n".join(lines) + "\n"


def _numbers(text: str) -> list[int]:
    return sorted({int(n) for n in text.replace(",", " ").split()})


def plan(learners: str | None, paced: str | None, pace: float, quick: bool) -> list[tuple[int, float]]:
    """(labs, pace) per round; the first is always one lab flat out: the baseline, in the same run."""
    flat = _numbers(learners) if learners else list(QUICK_LEARNERS if quick else DEFAULT_LEARNERS)
    slow = _numbers(paced) if paced is not None else list(QUICK_PACED if quick else DEFAULT_PACED)
    rounds = [(n, 0.0) for n in flat if n != 1] + [(n, pace) for n in slow]
    return [(1, 0.0), *rounds]


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--learners",
        default=os.environ.get("BENCH_LEARNERS"),
        help="labs at once, flat out, e.g. 1,10,20,30 (default: $BENCH_LEARNERS, else 1,10,15,20,30)",
    )
    parser.add_argument(
        "--paced", default=os.environ.get("BENCH_PACED"), help="labs at once, paced (default: $BENCH_PACED, else 30)"
    )
    parser.add_argument("--pace", type=float, default=None, help="mean thinking time before a step (default 3 s)")
    parser.add_argument("--quick", action="store_true", help="1 and 4 labs flat out, 4 paced at 0.5 s (about a minute)")
    args = parser.parse_args(argv)
    pace = args.pace if args.pace is not None else (QUICK_PACE_S if args.quick else PACE_S)
    expected = sum(len(scenario.load(p).steps) for p in scenario.catalog())
    warm = subprocess.run([sys.executable, "-m", "bench.learner"], cwd=ROOT, capture_output=True)
    if warm.returncode != 0:  # also makes the certificates, so the labs below only read them
        print(f"bench: a single lab fails here: {warm.stderr.decode().strip()[-300:]}", file=sys.stderr)
        return 2
    rounds = []
    for learners, round_pace in plan(args.learners, args.paced, pace, args.quick):
        measured = run_round(learners, round_pace, expected)
        rounds.append(measured)
        print(
            f"  {learners:3d} labs, pace {round_pace:g} s: step p95 {measured.p95_s:.3f} s, failures "
            f"{measured.failures}, RSS max {measured.rss_mb_max} MB, wall {measured.wall_s} s",
            flush=True,
        )
    rec = record(rounds, expected)
    write_results("capacity", rec, report_markdown(rec))
    return 0


if __name__ == "__main__":
    raise SystemExit(run())

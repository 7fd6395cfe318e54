"""One simulated learner for ``bench.capacity``: the whole catalog, step by step, in a lab namespace of its own.

``python -m bench.learner --pace S`` enters its namespace (as ``lab`` does), then for every scenario starts
its world and runs each step: the real curl, then the explanation a learner reads (as ``lab run`` lays it out). It
prints one JSON line per step: ``latency_s`` is that work, measured here; a scenario's first step also
carries ``world_s``, the time its world took to start. ``--pace S`` is the learner's thinking time before
each step (uniformly 0.5 S to 1.5 S, seeded by the learner's number, so labs do not move in lock-step);
0 replays flat out, as ``lab run --all`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

import trio

from lab.errors import NamespaceUnavailable
from lab.explain.narrate import render
from lab.explain.report import StepRecord
from lab.model import scenario
from lab.paths import ROOT
from lab.runtime import netns
from lab.session import open_lab


async def replay(pace: float, seed: int) -> int:
    think = random.Random(seed)
    failures = 0
    for path in scenario.catalog():
        loaded = scenario.load(path)
        started = time.monotonic()
        async with open_lab(loaded) as runner:
            world_s: float | None = time.monotonic() - started
            for step in loaded.steps:
                if pace:
                    await trio.sleep(think.uniform(0.5 * pace, 1.5 * pace))  # the learner reads and types
                began = time.monotonic()
                result = await runner.run(step.argv)
                explained = StepRecord.of(loaded, step, result)
                problems = explained.problems
                render(loaded, step, result, explained.plan, explained.verdict, problems).build(120)
                record = {"scenario": loaded.name, "step": step.number, "ok": not problems}
                record["latency_s"] = round(time.monotonic() - began, 4)
                if world_s is not None:
                    record["world_s"], world_s = round(world_s, 4), None
                failures += bool(problems)
                print(json.dumps(record), flush=True)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.learner", description=__doc__.splitlines()[0])
    parser.add_argument("--pace", type=float, default=0.0, help="mean thinking time before each step, seconds")
    parser.add_argument("--seed", type=int, default=0, help="the learner's number (seeds the thinking times)")
    args = parser.parse_args(argv)
    try:
        netns.enter()
    except NamespaceUnavailable as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    result: int = trio.run(replay, args.pace, args.seed)
    return result


if __name__ == "__main__":
    raise SystemExit(main())

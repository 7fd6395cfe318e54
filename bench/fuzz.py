"""``make fuzz``: the fuzz tests at full size, and their figures.

Runs the property-based and socket-level fuzz tests (``tests/test_fuzz_*.py``) with 10,000 examples per
property - scenario files (any value anywhere, flipped bytes) and every sans-io parser (generated and
mutated input) - 2,000 hostile connections per host kind, and 2,000 random curl commands per world whose
explanations are checked against curl and the hosts (tests/test_fuzz_explain.py) and whose -v transcripts
must import and replay as they ran (tests/test_fuzz_import.py), then writes what ran:
inputs per target, tests passed and failed (a failure is a traceback or an undocumented error somewhere), and the time.
Results: ``bench/results/fuzz.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lab.paths import ROOT

RESULTS = Path(__file__).resolve().parent / "results"
FILES = ["tests/test_fuzz_loader.py", "tests/test_fuzz_protocols.py", "tests/test_fuzz_hosts.py",
         "tests/test_fuzz_explain.py", "tests/test_fuzz_import.py"]  # fmt: skip


class Tally:
    """A pytest plugin: outcomes and times per test."""

    def __init__(self) -> None:
        self.tests: dict[str, dict[str, Any]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.outcome != "passed":
            entry = self.tests.setdefault(report.nodeid, {"outcome": "passed", "seconds": 0.0})
            entry["seconds"] += report.duration
            if report.outcome != "passed":
                entry["outcome"] = report.outcome


def _commands(per_world: int) -> dict[str, int]:
    return {"curl commands explained (2 worlds)": 2 * per_world, "transcripts imported (2 worlds)": 2 * per_world}


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000, help="examples per property (default 10,000)")
    parser.add_argument("--sockets", type=int, default=2_000, help="connections per host kind (default 2,000)")
    parser.add_argument(
        "--commands", type=int, default=2_000, help="random curl commands explained and checked, per world (2,000)"
    )
    args = parser.parse_args(argv)
    os.environ["LAB_FUZZ_EXAMPLES"] = str(args.examples)
    os.environ["LAB_FUZZ_SOCKETS"] = str(args.sockets)
    os.environ["LAB_FUZZ_COMMANDS"] = str(args.commands)
    os.chdir(ROOT)
    tally = Tally()
    started = time.monotonic()
    code = pytest.main(["-q", "-p", "no:cacheprovider", *FILES], plugins=[tally])
    elapsed = time.monotonic() - started
    from tests.test_fuzz_protocols import COUNTS

    failed = sorted(name for name, t in tally.tests.items() if t["outcome"] != "passed")
    record = {
        "what": "hostile input: generated and mutated scenario files, parser input and connections (bench/fuzz.py)",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "examples_per_property": args.examples,
        "connections_per_host_kind": args.sockets,
        "inputs": dict(
            sorted(
                {
                    **COUNTS,
                    "curl commands explained (2 worlds)": 2 * args.commands,
                    "transcripts imported (2 worlds)": 2 * args.commands,
                }.items()
            )
        ),
        "tests": len(tally.tests),
        "failed": failed,
        "tracebacks": len(failed),
        "seconds": round(elapsed, 1),
        "pytest_exit": int(code),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fuzz.json").write_text(json.dumps(record, indent=1))
    lines = [
        "# Fuzzing",
        "",
        f"{record['what']}; {record['when']}; {record['seconds']} s in all.",
        "",
        "| target | inputs |",
        "|---|---:|",
        *(f"| {name} | {count:,} |" for name, count in record["inputs"].items()),  # type: ignore[attr-defined]
        "",
        f"- {record['tests']} fuzz tests, {len(failed)} failed: **{len(failed)} tracebacks or undocumented errors**",
        *(f"  - {name}" for name in failed),
    ]
    (RESULTS / "fuzz.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(run())

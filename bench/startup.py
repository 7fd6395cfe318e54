"""Warm start-up of a lab, measured from the outside: a fresh ``lab exec seed -- curl --version`` process
(namespace, certificates from cache, every seed host listening, one trivial curl, teardown) against a bare
Python interpreter start measured in the same run. Results: ``bench/results/startup.json`` and ``.md``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from lab.paths import ROOT

RESULTS = Path(__file__).resolve().parent / "results"
RUNS = 10
# A warm start includes cached bytecode; this machine's environment may disable writing it.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _median_seconds(argv: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, check=True, capture_output=True, env=ENV)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run() -> int:
    lab = [sys.executable, "-m", "lab", "exec", "seed", "--", "curl", "--version"]
    subprocess.run(lab, cwd=ROOT, check=True, capture_output=True, env=ENV)  # warm: certificates made and cached
    baseline = _median_seconds([sys.executable, "-c", "pass"])
    warm = _median_seconds(lab)
    record = {"runs": RUNS, "python_start_s": baseline, "lab_exec_warm_s": warm, "ratio": warm / baseline}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(record, indent=1))
    markdown = (
        "# Warm lab start-up\n\n| what | median of 10 |\n|---|---|\n"
        f"| bare `python -c pass` (baseline) | {baseline * 1000:.0f} ms |\n"
        f"| `lab exec seed -- curl --version` (namespace, 5 hosts, curl, teardown) | {warm * 1000:.0f} ms |\n"
        f"| ratio | {warm / baseline:.1f}x |\n"
    )
    (RESULTS / "startup.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(run())

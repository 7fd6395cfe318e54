"""``make mutation``: plant each bug of bench/mutants.py in turn, run the tests that must catch it, restore the file.

Theory of operation. A mutant is one exact snippet of one file replaced by a plausible mistake. For each, the
file is rewritten, ``pytest -x`` runs the mutant's tests in a fresh process (with its own bytecode cache, so no
stale .pyc hides the change) and the file is put back - in a ``finally``, so also on Ctrl-C or SIGTERM; a
journal (bench/results/.mutation-journal.json) holds the original while a mutant is in place, and the next run
restores it should this process have been killed outright. The tests must pass without mutants first.
A mutant is *killed* when its tests fail, *survives* when they pass; a snippet that is no longer in its file
is *stale* (fix the table). Results: bench/results/mutation.json and .md - the score killed/total, and every
survivor with its explanation.

    python -m bench.mutation                 # every mutant
    python -m bench.mutation --only ID,ID    # some
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType

from bench.mutants import MUTANTS, Mutant
from lab.paths import ROOT

RESULTS = Path(__file__).resolve().parent / "results"
JOURNAL = RESULTS / ".mutation-journal.json"
TIMEOUT = 600.0
_FAILED = re.compile(r"^FAILED (\S+)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Outcome:
    id: str
    file: str
    bug: str
    issue: bool
    tests: str
    status: str  # killed, survived, stale, error
    killed_by: str
    seconds: float
    equivalent: str


def _restore_from_journal() -> None:
    """Put back a file a killed earlier run left mutated."""
    if not JOURNAL.exists():
        return
    saved = json.loads(JOURNAL.read_text(encoding="utf-8"))
    (ROOT / saved["file"]).write_text(saved["original"], encoding="utf-8")
    JOURNAL.unlink()
    print(f"mutation: restored {saved['file']}, left mutated by an interrupted run", file=sys.stderr)


def _pytest(args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="mutation-pycache-") as cache:
        env = {**os.environ, "PYTHONPYCACHEPREFIX": cache}
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False,
        )  # fmt: skip


def _run(mutant: Mutant) -> Outcome:
    path = ROOT / mutant.file
    original = path.read_text(encoding="utf-8")
    started = time.monotonic()

    def outcome(status: str, killed_by: str = "") -> Outcome:
        return Outcome(
            id=mutant.id, file=mutant.file, bug=mutant.bug, issue=mutant.issue, tests=" ".join(mutant.tests),
            status=status, killed_by=killed_by, seconds=round(time.monotonic() - started, 1),
            equivalent=mutant.equivalent,
        )  # fmt: skip

    if original.count(mutant.original) != 1:
        return outcome("stale")
    JOURNAL.write_text(json.dumps({"file": mutant.file, "original": original}), encoding="utf-8")
    try:
        path.write_text(original.replace(mutant.original, mutant.mutated), encoding="utf-8")
        done = _pytest(mutant.tests)
    finally:
        path.write_text(original, encoding="utf-8")
        JOURNAL.unlink()
    if done.returncode == 0:
        return outcome("survived")
    if done.returncode == 1:
        failed = _FAILED.search(done.stdout)
        return outcome("killed", failed.group(1) if failed else "(a failing test)")
    return outcome("error", done.stdout[-300:] + done.stderr[-300:])


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # the finally in _run restores the file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated mutant ids")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    _restore_from_journal()
    signal.signal(signal.SIGTERM, _terminate)
    chosen = [m for m in MUTANTS if not args.only or m.id in args.only.split(",")]
    unknown = set(filter(None, args.only.split(","))) - {m.id for m in chosen}
    if unknown:
        parser.error(f"no such mutant: {', '.join(sorted(unknown))}")
    selections = list(dict.fromkeys(m.tests for m in chosen))
    print(f"mutation: checking that {len(selections)} test selections pass without mutants ...", flush=True)
    for tests in selections:
        clean = _pytest(tests)
        if clean.returncode != 0:
            print(f"mutation: the tests fail without any mutant ({' '.join(tests)}):\n{clean.stdout[-2000:]}")
            return 2
    outcomes = []
    for number, mutant in enumerate(chosen, 1):
        result = _run(mutant)
        outcomes.append(result)
        print(
            f"[{number}/{len(chosen)}] {result.status:<8} {mutant.id} ({result.seconds} s) {result.killed_by}",
            flush=True,
        )
    _write(outcomes)
    unexplained = [o for o in outcomes if o.status != "killed" and not (o.status == "survived" and o.equivalent)]
    return 1 if unexplained else 0


def _write(outcomes: list[Outcome]) -> None:
    killed = sum(o.status == "killed" for o in outcomes)
    record = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "killed": killed,
        "total": len(outcomes),
        "score": round(killed / len(outcomes), 3) if outcomes else None,
        "mutants": [asdict(o) for o in outcomes],
    }
    (RESULTS / "mutation.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    lines = [
        "# Mutation check over the decision modules (`make mutation`)",
        "",
        f"{record['when']}: **{killed}/{len(outcomes)} mutants killed**. Each mutant is one planted bug "
        "(bench/mutants.py); its tests run with `pytest -x` while it is in place.",
        "",
        "| mutant | file | the bug | status | caught by |",
        "|---|---|---|---|---|",
    ]
    for o in outcomes:
        issue = " (issue 16)" if o.issue else ""
        caught = o.killed_by if o.status == "killed" else (o.equivalent or "**unexplained**")
        lines.append(f"| `{o.id}`{issue} | {o.file} | {o.bug} | {o.status} | {caught} |")
    survivors = [o for o in outcomes if o.status != "killed"]
    lines += ["", "## Survivors", ""]
    lines += [f"- `{o.id}` ({o.status}): {o.equivalent or 'unexplained: add a test'}" for o in survivors] or ["none"]
    (RESULTS / "mutation.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"mutation: {killed}/{len(outcomes)} killed; wrote {RESULTS.relative_to(ROOT)}/mutation.json and .md")


if __name__ == "__main__":
    raise SystemExit(main())

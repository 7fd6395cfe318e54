"""Record real curl runs of the explanation matrix for the unit tests that run without a namespace.

``python -m tests.record_runs`` (inside a lab namespace: it enters one) runs every row of
:mod:`tests.explain_matrix` with real curl and writes ``tests/data/explain-runs.json``: per row the argv,
environment, exit code, stderr and the hosts' events, exactly as :meth:`lab.model.events.Event.to_json`
writes them (log entries left out: the explanation does not read them). ``tests/test_verdict_units.py``
rebuilds :class:`lab.model.outcome.CurlResult` objects from it. Re-record after changing a host or curl.
"""

from __future__ import annotations

import json
import os
import shlex
from typing import Any

from lab.model import scenario
from lab.model.events import LogEntry, from_json
from lab.model.outcome import CurlResult
from lab.paths import ROOT
from lab.protocols import curlv
from tests.explain_matrix import ROWS, WORLD

RUNS = ROOT / "tests" / "data" / "explain-runs.json"


def to_record(result: CurlResult) -> dict[str, Any]:
    return {
        "argv": list(result.argv),
        "env": result.env,
        "exit_code": result.exit_code,
        "stderr": result.stderr,
        "events": [e.to_json() for e in result.events if not isinstance(e, LogEntry)],
    }


def from_record(record: dict[str, Any]) -> CurlResult:
    return CurlResult(
        argv=tuple(record["argv"]),
        env=dict(record["env"]),
        exit_code=int(record["exit_code"]),
        stdout="",
        stderr=record["stderr"],
        verbose=curlv.parse(record["stderr"]),
        events=tuple(from_json(e) for e in record["events"]),
        duration=0.0,
    )


def recorded() -> dict[str, CurlResult]:
    return {name: from_record(record) for name, record in json.loads(RUNS.read_text()).items()}


async def _record() -> None:
    from lab.session import open_lab

    world = scenario.load(WORLD)
    records = {}
    async with open_lab(world) as runner:
        for row in ROWS:
            records[row.id] = to_record(await runner.run(shlex.split(row.command)))
    RUNS.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    import trio

    from lab.runtime import netns

    netns.enter()
    os.chdir(ROOT)
    trio.run(_record)
    print(f"wrote {RUNS.relative_to(ROOT)}")

"""Record real curl runs of the explanation matrix for the unit tests that run without a namespace.

``python -m tests.record_runs`` (inside a lab namespace: it enters one) runs every row of
:mod:`tests.explain_matrix` with real curl, in its world, and writes ``tests/data/explain-runs.json``: per run the
argv, environment, exit code, stderr, the curl's version and the hosts' events, exactly as
:meth:`lab.model.events.Event.to_json` writes them (log entries left out: the explanation does not read them).
Rows marked ``both`` are also run with curl 8 (``ID@8``; ``make curl8`` first). ``tests/test_verdict_units.py``
rebuilds :class:`lab.model.outcome.CurlResult` objects from it. Re-record after changing a host or curl; after
adding rows, ``python -m tests.record_runs --new`` records only those.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from typing import Any

from lab.model import scenario
from lab.model.events import LogEntry, from_json
from lab.model.outcome import CurlBuild, CurlResult
from lab.paths import ROOT
from lab.protocols import curlv
from lab.protocols.curlversion import CurlVersion
from tests.explain_matrix import ROWS, WORLDS

RUNS = ROOT / "tests" / "data" / "explain-runs.json"


def to_record(result: CurlResult) -> dict[str, Any]:
    return {
        "argv": list(result.argv),
        "env": result.env,
        "exit_code": result.exit_code,
        "stderr": result.stderr,
        "curl": _shown(result.curl.to_json()) if result.curl else None,
        "events": [e.to_json() for e in result.events if not isinstance(e, LogEntry)],
    }


def _shown(build: dict[str, Any]) -> dict[str, Any]:
    """A curl under the project (.curl/8/curl) by its path from the project root, so recordings do not name a clone."""
    path = str(build["path"])
    return {**build, "path": path.removeprefix(f"{ROOT}/")}


def from_record(record: dict[str, Any]) -> CurlResult:
    ran = record.get("curl")
    build = CurlBuild(path=ran["path"], version=CurlVersion(version=ran["version"], tls=ran["tls"])) if ran else None
    return CurlResult(
        argv=tuple(record["argv"]),
        env=dict(record["env"]),
        exit_code=int(record["exit_code"]),
        stdout="",
        stderr=record["stderr"],
        verbose=curlv.parse(record["stderr"]),
        events=tuple(from_json(e) for e in record["events"]),
        duration=0.0,
        curl=build,
    )


def recorded() -> dict[str, CurlResult]:
    return {name: from_record(record) for name, record in json.loads(RUNS.read_text()).items()}


async def _record() -> None:
    from lab.session import open_lab
    from tests.conftest import curls

    builds = curls()
    if len(builds) < 2:
        raise SystemExit("curl 8 is not in .curl/8: run `make curl8` first (rows marked both are recorded with it)")
    records = json.loads(RUNS.read_text()) if ONLY_NEW else {}
    for name, path in WORLDS.items():
        async with open_lab(scenario.load(path)) as runner:
            for row in (r for r in ROWS if r.world == name and r.id not in records):
                records[row.id] = to_record(await runner.run(shlex.split(row.command)))
                if row.both:
                    records[f"{row.id}@8"] = to_record(await runner.run(shlex.split(row.command), curl=builds[1]))
    RUNS.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")


ONLY_NEW = "--new" in sys.argv  # record only the rows not yet in the file (the others keep their recording)

if __name__ == "__main__":
    import trio

    from lab.runtime import netns

    netns.enter()
    os.chdir(ROOT)
    trio.run(_record)
    print(f"wrote {RUNS.relative_to(ROOT)}")

"""``lab compare NAME --curl A --curl B``: replay a scenario with two curls and show, per step, what differs.

Both curls run every step in the same world (one lab per scenario, A then B), so any difference comes from
the curl build, not from the hosts.
"""

from __future__ import annotations

import json
import sys

import trio

from lab.explain import curldiff
from lab.explain.curldiff import Side, StepComparison
from lab.model.outcome import CurlBuild
from lab.model.scenario import Scenario
from lab.session import cancel_on_terminate, open_lab


async def compare_curls(
    loaded: list[Scenario], curls: tuple[CurlBuild, CurlBuild], as_json: bool, report: str | None = None
) -> int:
    from lab.explain import report as reports

    a, b = curls
    name_a, name_b = curldiff.labels(a, b)
    if not as_json:
        first, second = curldiff.described(a, b)
        print(f"comparing {first}\n     with {second}", flush=True)
    comparisons: list[StepComparison] = []
    records: list[reports.StepRecord] = []
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            await nursery.start(cancel_on_terminate, scope)
            for scenario in loaded:
                if not as_json:
                    print(f"\n━━ {scenario.name}: {scenario.title}\n", flush=True)
                async with open_lab(scenario, curl=a) as runner:
                    for step in scenario.steps:
                        sides = []
                        for curl, label in zip(curls, (name_a, name_b), strict=True):
                            result = await runner.run(step.argv, curl=curl)
                            record = reports.StepRecord.of(scenario, step, result, label)
                            sides.append(Side.of(curl, result, record.verdict.decisive, record.problems))
                            records.append(record)
                        compared = StepComparison(scenario=scenario, step=step, a=sides[0], b=sides[1])
                        comparisons.append(compared)
                        if as_json:
                            print(json.dumps(compared.to_json()), flush=True)
                        else:
                            print("\n".join(compared.lines()) + "\n", flush=True)
            nursery.cancel_scope.cancel()
    if scope.cancelled_caught:
        print("lab: terminated; the lab's hosts and namespace are gone", file=sys.stderr)
        return 143
    if report:
        written = reports.write(report, records, comparisons)
        print(f"lab: report written to {written}", file=sys.stderr)
    if not as_json:
        print(curldiff.summary(comparisons))
    return 1 if any(c.a.problems or c.b.problems for c in comparisons) else 0

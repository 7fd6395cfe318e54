"""The differential test of explanations: every command of tests/explain_matrix.py runs with real curl, and
each hop's claim is compared with what curl printed and what the hosts reported (tests/explain_checks.py).

One lab per world serves the whole matrix (a few seconds of curl runs); each row asserts the exact decisive hop,
the decider, the labels of the marked diagram rows, and exactly which printed lines carry ◀ decisive at 80
columns: the decisive hop's line and those diagram rows, no other. Rows whose wording differs between curl 7 and
curl 8 run with both (curl 8 where ``make curl8`` could fetch it; without it those runs are skipped, and say so).
"""

from __future__ import annotations

import io
import shlex
from typing import get_args

import pytest
from rich.console import Console

from lab.explain.decide import HopKey
from lab.explain.narrate import explain_command
from lab.explain.verdict import explain_result
from lab.model import scenario
from lab.model.deciders import DECIDERS
from lab.model.outcome import CurlBuild, CurlResult
from lab.session import open_lab
from tests.conftest import CURL8, curls
from tests.explain_checks import contradictions, marked, must_be_marked
from tests.explain_matrix import ROWS, WORLDS, Row

pytestmark = pytest.mark.netns
CASES = [(row, run) for row in ROWS for run in [row.id] + ([f"{row.id}@8"] if row.both else [])]


@pytest.fixture(scope="module")
def runs() -> dict[str, CurlResult]:
    import trio

    builds = curls()
    eight: CurlBuild | None = builds[1] if len(builds) > 1 else None

    async def run_all() -> dict[str, CurlResult]:
        done: dict[str, CurlResult] = {}
        for name, path in WORLDS.items():
            async with open_lab(scenario.load(path)) as runner:
                for row in (r for r in ROWS if r.world == name):
                    done[row.id] = await runner.run(shlex.split(row.command))
                    if row.both and eight is not None:
                        done[f"{row.id}@8"] = await runner.run(shlex.split(row.command), curl=eight)
        return done

    return trio.run(run_all)


def test_the_matrix_is_wide_enough() -> None:
    """Every decider and every hop a decision can mark has a row; every host behaviour has one."""
    commands = " ".join(row.command for row in ROWS)
    for needle in ("--tls-max 1.2", " -x ", "socks5://", "socks5h://", "https_proxy=", "NO_PROXY", "rogue-client",
                   "expired-client", "noeku-client", "--key certs/rogue-client.key", " -k ", "--cacert",
                   "--connect-to", "--resolve", "https://88.88.88.", "--proxy-resolve", " -L ", "-x https://",
                   "--proxy-insecure", "--proxy-cacert", "--proxy-cert", "http://shop.test/"):  # fmt: skip
        assert needle in commands, needle
    assert {row.decider for row in ROWS} == set(DECIDERS)
    assert {row.hop for row in ROWS} == set(get_args(HopKey)) - {"tcp", "answer"}  # routing marks client resolution


def test_every_host_of_the_behaviours_world_takes_part(runs: dict[str, CurlResult]) -> None:
    """No behaviour is in the world without a row that reaches it (its host accepted a connection)."""
    world = scenario.load(WORLDS["behaviours"])
    behaving = {row.id for row in ROWS if row.world == "behaviours"}
    accepted = {
        e.host for run, r in runs.items() if run.split("@")[0] in behaving for e in r.events if e.kind == "accepted"
    }
    assert set(world.hosts) - accepted == set()


@pytest.mark.parametrize(("row", "run"), CASES, ids=[run for _, run in CASES])
def test_each_hop_agrees_with_curl_and_the_hosts(runs: dict[str, CurlResult], row: Row, run: str) -> None:
    if run not in runs:
        pytest.skip(f"curl 8 is not in {CURL8.parent} (make curl8)")
    world = scenario.load(WORLDS[row.world])
    result = runs[run]
    _, verdict = explain_result(world, result)
    assert (verdict.decisive, verdict.decision.hop) == (row.decider, row.hop), (result.stderr[-600:], verdict.lesson)
    assert contradictions(world, result, verdict) == []
    assert verdict.drift == ()
    out = io.StringIO()
    Console(file=out, width=80, force_terminal=False, color_system=None).print(explain_command(world, result))
    lines = out.getvalue().splitlines()
    assert tuple(m.label for m in verdict.messages if m.decisive) == row.marked
    assert marked(lines) == must_be_marked(lines, verdict, row.hop, 80)
    assert [line.split("  ")[1] for line in lines if line.startswith(" ▶  ")] == [
        next(h.title for h in verdict.hops if h.key == row.hop)
    ]

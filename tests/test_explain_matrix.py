"""The differential test of explanations: every command of tests/explain_matrix.py runs with real curl, and
each hop's claim is compared with what curl printed and what the hosts reported (tests/explain_checks.py).

One lab serves the whole matrix (about a second of curl runs); each row asserts the exact decisive hop, the
decider, the labels of the marked diagram rows, and exactly which printed lines carry ◀ decisive at 80 columns:
the decisive hop's line and those diagram rows, no other.
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
from lab.model.outcome import CurlResult
from lab.session import open_lab
from tests.explain_checks import contradictions, marked, must_be_marked
from tests.explain_matrix import ROWS, WORLD, Row

pytestmark = pytest.mark.netns


@pytest.fixture(scope="module")
def runs() -> dict[str, CurlResult]:
    import trio

    world = scenario.load(WORLD)

    async def run_all() -> dict[str, CurlResult]:
        async with open_lab(world) as runner:
            return {row.id: await runner.run(shlex.split(row.command)) for row in ROWS}

    return trio.run(run_all)


def test_the_matrix_is_wide_enough() -> None:
    """Every decider and every hop a decision can mark has a row (SNI is reserved: no host kind decides by it)."""
    commands = " ".join(row.command for row in ROWS)
    for needle in ("--tls-max 1.2", " -x ", "socks5://", "socks5h://", "https_proxy=", "NO_PROXY", "rogue-client",
                   "expired-client", "noeku-client", "--key certs/rogue-client.key", " -k ", "--cacert",
                   "--connect-to", "--resolve", "https://88.88.88.", "--proxy-resolve"):  # fmt: skip
        assert needle in commands, needle
    assert {row.decider for row in ROWS} == set(DECIDERS) - {"SNI"}
    assert {row.hop for row in ROWS} == set(get_args(HopKey)) - {"tcp", "answer"}  # routing marks client resolution


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_each_hop_agrees_with_curl_and_the_hosts(runs: dict[str, CurlResult], row: Row) -> None:
    world = scenario.load(WORLD)
    result = runs[row.id]
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

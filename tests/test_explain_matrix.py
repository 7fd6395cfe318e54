"""The differential test of explanations: every command of tests/explain_matrix.py runs with real curl, and
each hop's claim is compared with what curl printed and what the hosts reported (tests/explain_checks.py).

One lab serves the whole matrix (about a second of curl runs); each row asserts the exact decisive hop, the
decider, the marked hop line of the narration and the marked row of the diagram, at 80 columns.
"""

from __future__ import annotations

import io
import shlex

import pytest
from rich.console import Console

from lab.explain.narrate import explain_command
from lab.explain.verdict import explain_result
from lab.model import scenario
from lab.model.outcome import CurlResult
from lab.session import open_lab
from tests.explain_checks import contradictions
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
    commands = " ".join(row.command for row in ROWS)
    assert len(ROWS) >= 30
    for needle in ("--tls-max 1.2", " -x ", "socks5://", "socks5h://", "https_proxy=", "NO_PROXY", "rogue-client",
                   "expired-client", "noeku-client", "--key certs/rogue-client.key", " -k ", "--cacert",
                   "--connect-to", "--resolve", "https://88.88.88.", "--proxy-resolve"):  # fmt: skip
        assert needle in commands, needle
    assert {row.decider for row in ROWS} >= {
        "command line", "client DNS", "--resolve", "--connect-to", "proxy", "proxy DNS", "cert check",
        "client-cert check",
    }  # fmt: skip


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
    hop = next(h for h in verdict.hops if h.decisive)
    marked = [line for line in lines if line.endswith("◀ decisive")]
    title_at = next(i for i, line in enumerate(lines) if line.startswith(f" ▶  {hop.title}"))
    assert any(lines.index(m) >= title_at for m in marked), "the decisive hop's line is not marked"
    assert any(row.arrow in m.label for m in verdict.messages if m.decisive), [m.label for m in verdict.messages]
    assert sum(1 for line in lines if line.startswith(" ▶  ")) == 1

"""The catalog: scenarios/README.md lists exactly the scenarios there are, seed-story tells the whole chat.
(test_explain replays every scenario with the default curl and with curl 8.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.apps import catalog
from lab.model import scenario
from lab.model.outcome import CurlBuild, compare
from lab.session import open_lab


def test_readme_index_matches_the_scenario_files() -> None:
    written = catalog.current(catalog.README.read_text(encoding="utf-8"))
    assert written == catalog.table(), "scenarios/README.md is stale: run `python -m lab.apps.catalog --write`"


def test_every_scenario_is_indexed_by_name() -> None:
    written = catalog.current(catalog.README.read_text(encoding="utf-8"))
    for path in scenario.catalog():
        assert f"| `{path.stem}` |" in written


@pytest.mark.parametrize(
    ("runs", "key"),
    [
        (["curl -sS https://a", "curl -sv https://b"], 2),  # -v inside a cluster of flags
        (["curl https://a", "env https_proxy=http://p:1 curl -vvv https://b"], 2),
        (["curl https://a", "curl --verbose https://b"], 2),
        (["curl https://a", "curl -v --no-verbose https://b", "curl -Sv https://c"], 3),  # turned off again
        (["curl -H x-v:1 https://a", "curl -d -v https://b"], 1),  # a value that merely looks like -v
    ],
)
def test_key_step_is_the_first_verbose_run(tmp_path: Path, runs: list[str], key: int) -> None:
    path = tmp_path / "case.toml"
    steps = "".join(f"[[steps]]\nsay = 'x'\nrun = {json.dumps(run)}\n" for run in runs)
    path.write_text(f'topology = "seed"\ntitle = "t"\nstory = "s"\n{steps}', encoding="utf-8")
    found = catalog.key_step(scenario.load(path))
    assert (found.number if found else None) == key


# The support chat as it went: curl's exit code and who answered, turn by turn.
CHAT_EXITS = [60, 35, 56, 56, 0, 0, 0, 2]
CHAT_REACHED = ["none", "none", "none", "none", "glb", "old", "glb", "none"]


def test_seed_story_steps_each_teach_and_expect_the_chat() -> None:
    story = scenario.load("seed-story")
    assert [s for s in story.steps if not s.say] == [], "every step says what it tries"
    assert [s.expect.exit for s in story.steps] == CHAT_EXITS
    assert [s.expect.reached for s in story.steps] == CHAT_REACHED


@pytest.mark.netns
async def test_seed_story_replays_as_the_chat_went() -> None:
    """The chat, in order, with real curl: 60, 35, the client-cert failure twice, glb, old via proxy, glb, 2."""
    story = scenario.load("seed-story")
    async with open_lab(story) as runner:
        results = [await runner.run(step.argv) for step in story.steps]
    assert [r.exit_code for r in results] == CHAT_EXITS
    assert [r.reached or "none" for r in results] == CHAT_REACHED
    for step, result in zip(story.steps, results, strict=True):
        assert compare(step.expect, result) == [], f"step {step.number}: {step.run}"


def test_curl8_is_there_for_the_catalog(curl8: CurlBuild) -> None:
    """Says (as a skip, with the fetch's reason) when the catalog ran without curl 8 (see test_explain)."""
    assert curl8.version.major_minor >= (8, 0)

"""Bad input through the CLI: empty scenarios and topologies, every error with file:line, did-you-mean,
decided_by checked by `lab check`, `lab new` keeping the catalog true, and a closed pipe."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from lab.apps import catalog, scaffold
from lab.model import scenario, topology
from lab.paths import ROOT, SCENARIO_DIR


def _lab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab", *args], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )


def _check(tmp_path: Path, text: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """`lab check` on a file holding ``text``: (the run, the file's name)."""
    file = tmp_path / "checked.toml"
    file.write_text(text)
    return _lab("check", str(file)), file.name


def test_a_scenario_without_steps_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text('topology = "seed"\n')
    why = (
        f"{empty}: no steps: a scenario needs at least one [[steps]] table with 'run' (a world without steps is a "
        "topology, and belongs in scenarios/topologies/)"
    )
    for command, prefix in (("check", ""), ("run", "lab: ")):
        done = _lab(command, str(empty))
        assert (done.returncode, done.stdout, done.stderr) == (2, "", f"{prefix}{why}\n"), command


def test_a_topology_is_not_a_scenario_but_says_who_uses_it() -> None:
    users = [
        p.stem for p in sorted(SCENARIO_DIR.glob("*.toml")) if tomllib.loads(p.read_text()).get("topology") == "seed"
    ]
    assert "proxy-resolve" in users
    assert topology.users_of("seed") == users
    ran = _lab("run", "seed")
    assert (ran.returncode, ran.stdout) == (2, "")
    assert ran.stderr == (
        "lab: scenarios/topologies/seed.toml: seed is a topology (a world without steps), not a scenario; scenarios "
        f"that use it: {', '.join(users)}. To type commands in it: lab up seed\n"
    )
    checked = _lab("check", "seed")
    assert (checked.returncode, checked.stderr) == (0, "")
    assert checked.stdout == f"scenarios/topologies/seed.toml: ok, a topology (5 hosts) used by: {', '.join(users)}\n"


def test_lab_check_reports_every_error_with_its_line(tmp_path: Path) -> None:
    done, _ = _check(
        tmp_path,
        'topology = "seed"\nfoo = 1\n\n[[step]]\nrun = "curl https://mydomain"\n\n[[steps]]\nrun = "curl -v x"\n'
        'bar = 2\n[steps.expect]\nexit = "x"\nreached = "nobody"\ndecided_by = "the DNS"\n',
    )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert [line.split(": ", 1)[0].rsplit(":", 1)[1] for line in lines] == ["2", "4", "9", "11", "12", "13"]
    assert "unknown key 'step'" in lines[1]
    assert "'exit' must be curl's exit code (an integer), or a list of them, not 'x'" in lines[3]
    assert "unknown decisive hop 'the DNS' (expected one of: command line, client DNS" in lines[5]


def test_a_lesson_naming_another_decider_is_an_error(tmp_path: Path) -> None:
    done, name = _check(
        tmp_path,
        'topology = "seed"\n[[steps]]\nrun = "curl https://mydomain"\nlesson = """\nProxy DNS decided, surely.\n"""\n'
        '[steps.expect]\ndecided_by = "client DNS"\n',
    )
    assert done.returncode == 2
    assert f"{name}:4: the lesson says 'Proxy DNS decided', but decided_by is 'client DNS'" in done.stderr


def test_a_misspelt_scenario_name_gets_a_suggestion() -> None:
    for command in ("run", "check", "up", "exec"):
        done = _lab(command, "proxy-resolv", *(["--", "curl", "x"] if command == "exec" else []))
        assert done.returncode == 2, command
        assert "did you mean proxy-resolve" in done.stderr, command


def test_lab_new_keeps_the_catalog_index_true(tmp_path: Path) -> None:
    copy = tmp_path / "scenarios"
    shutil.copytree(SCENARIO_DIR, copy, ignore=shutil.ignore_patterns("topologies"))
    path = scaffold.create("a-new-customer", copy)
    index = (copy / "README.md").read_text()
    assert catalog.current(index) == catalog.table(sorted(copy.glob("*.toml")))
    assert "| `a-new-customer` |" in index
    made = scenario.load(path)
    assert all(step.expect.decided_by for step in made.steps)


@pytest.mark.parametrize("command", [["list"], pytest.param(["run", "proxy-resolve"], marks=pytest.mark.netns)])
def test_a_reader_that_stops_early_gets_no_traceback(command: list[str]) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "lab", *command], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as lab:
        assert lab.stdout is not None
        assert lab.stderr is not None
        lab.stdout.close()  # like `lab list | head -0`
        assert "Traceback" not in lab.stderr.read()
        assert lab.wait(timeout=30) == 141  # what a shell reports for a writer stopped by SIGPIPE

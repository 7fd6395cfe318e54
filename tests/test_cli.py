"""The CLI's contract for errors: one line on stderr, the documented exit code, no traceback."""

from __future__ import annotations

import pytest

from lab.apps import cli
from lab.errors import NamespaceUnavailable
from lab.paths import SCENARIO_DIR
from lab.runtime import netns
from tests.conftest import run_lab


def test_without_namespaces_the_lab_says_why_and_exits_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse() -> None:
        raise NamespaceUnavailable(f"unshare(network, mount) failed (Operation not permitted): {netns.ALTERNATIVE}")

    monkeypatch.setattr(netns, "enter", refuse)
    assert cli.main(["exec", "seed", "--", "curl", "-sS", "https://mydomain"]) == 3
    assert capsys.readouterr() == (
        "",
        f"lab: unshare(network, mount) failed (Operation not permitted): {netns.ALTERNATIVE}\n",
    )


KNOWN = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.toml")))


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (
            ["exec", "seed", "--", "wget", "https://mydomain"],
            2,
            "lab: only curl runs in the lab, not 'wget' (expected: curl …, optionally after env VAR=VALUE …)",
        ),
        (
            ["exec", "nope", "--", "curl", "x"],
            2,
            f"lab: nope: no such scenario (known: {KNOWN}; or give a path to a .toml file)",
        ),
        (["run", "nope"], 2, f"lab: nope: no such scenario (known: {KNOWN}; or give a path to a .toml file)"),
        (
            ["check", "nope.toml"],
            2,
            "nope.toml: cannot read: No such file or directory",
        ),  # a file's error, as every file's
        (["exec", "seed", "--curl", "/nope", "--", "curl", "x"], 2, "lab: --curl: /nope: no such file"),
        (["run", "public-dns", "--curl", "/etc"], 2, "lab: --curl: /etc: a directory, not a curl binary"),
        (["compare", "public-dns", "--curl", "curl", "--curl", "/nope"], 2, "lab: --curl: /nope: no such file"),
        (["up", "seed", "--curl", ".curl/7/curl"], 2, "lab: --curl: .curl/7/curl: no such file"),
    ],
)
def test_bad_input_is_one_line(argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == code
    assert capsys.readouterr() == ("", message + "\n")


def test_help_teaches_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as leaving:
        cli.main(["--help"])
    assert leaving.value.code == 0
    out = capsys.readouterr().out
    assert "lab run proxy-resolve" in out
    assert "lab exec seed --json -- curl" in out
    assert (
        "exit codes: 0 ok, 1 an expectation failed, 2 bad input, 3 no network namespaces here, 130 interrupted" in out
    )


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_each_command_help_says_what_it_is_for(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`lab COMMAND --help` describes the command beyond its one-line summary; those that take a scenario or a
    file show how they are used."""
    with pytest.raises(SystemExit) as leaving:
        cli.main([command, "--help"])
    assert leaving.value.code == 0
    out = capsys.readouterr().out
    description = out.split("\n\n")[1]
    assert not description.startswith(("positional arguments", "options")), out
    if command != "list":
        assert f"\nexamples:\n  lab {command} " in out


def test_serve_takes_its_scenario_from_the_option_or_lab_scenario() -> None:
    """A pod gives the scenario as LAB_SCENARIO (its manifest cannot expand it into the command line)."""
    done = run_lab("serve", env={"LAB_SCENARIO": ""})
    assert done.returncode == 2
    assert done.stderr.strip().endswith("--scenario NAME (or set LAB_SCENARIO)")
    done = run_lab("serve", env={"LAB_SCENARIO": "no-such-scenario"})  # now it is looked up
    assert (done.returncode, done.stderr.count("\n")) == (2, 1)
    assert done.stderr.startswith("lab: no-such-scenario: no such scenario")

"""The CLI's contract for errors: one line on stderr, the documented exit code, no traceback."""

from __future__ import annotations

import pytest

from lab.apps import cli
from lab.errors import NamespaceUnavailable
from lab.runtime import netns


def test_without_namespaces_the_lab_says_why_and_exits_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse() -> None:
        raise NamespaceUnavailable(f"unshare(network, mount) failed (Operation not permitted): {netns.ALTERNATIVE}")

    monkeypatch.setattr(netns, "enter", refuse)
    assert cli.main(["exec", "seed", "--", "curl", "-sS", "https://mydomain"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "run as root, or enable unprivileged user namespaces" in err


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["exec", "seed", "--", "wget", "https://mydomain"], 2, "only curl runs in the lab, not 'wget'"),
        (["exec", "nope", "--", "curl", "x"], 2, "no such scenario"),
        (["run", "nope"], 2, "no such scenario"),
        (["check", "nope.toml"], 2, "nope.toml: cannot read"),
        (["exec", "seed", "--curl", "/nope", "--", "curl", "x"], 2, "lab: --curl: /nope: no such file"),
        (["run", "public-dns", "--curl", "/etc"], 2, "lab: --curl: /etc: a directory, not a curl binary"),
        (["compare", "public-dns", "--curl", "curl", "--curl", "/nope"], 2, "lab: --curl: /nope: no such file"),
        (["up", "seed", "--curl", ".curl/7/curl"], 2, "no such file"),
    ],
)
def test_bad_input_is_one_line(argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert err.count("\n") == 1


def test_help_teaches_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "lab run proxy-resolve" in out
    assert "lab exec seed --json -- curl" in out

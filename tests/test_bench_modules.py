"""`make bench` runs modules no other test imports: each must at least import, so a rename in lab/ that
breaks a benchmark fails here, not in the next person's bench run."""

from __future__ import annotations

import importlib

import pytest

from lab.paths import ROOT

MODULES = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if p.stem not in ("__init__", "__main__"))


def test_the_benchmarks_are_all_found() -> None:
    assert {"capacity", "learner", "serve", "soak", "startup"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_each_benchmark_imports(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    assert callable(getattr(module, "main", None)) or module.__doc__, f"bench.{name} has no main and no doc"


def test_each_mutant_still_finds_its_snippet() -> None:
    """`make mutation` plants each bug by replacing one exact snippet: a refactor that changes the snippet would
    leave the mutant unplanted and the score silently wrong."""
    from bench.mutants import MUTANTS

    missing = [
        f"{m.id}: {m.file} has its snippet {(ROOT / m.file).read_text().count(m.original)} times, not once"
        for m in MUTANTS
        if (ROOT / m.file).read_text().count(m.original) != 1
    ]
    assert missing == []

"""Benchmarks for the lab (``make bench`` runs ``python -m bench``); results go to ``bench/results/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(stem: str, record: dict[str, Any], markdown: str) -> None:
    """``bench/results/STEM.json`` and ``STEM.md``, and the markdown on standard output."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(record, indent=1))
    (RESULTS / f"{stem}.md").write_text(markdown)
    print(markdown)

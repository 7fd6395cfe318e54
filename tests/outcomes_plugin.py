"""A pytest plugin for tests/test_skips.py: writes, as JSON, each test's outcome, its skip reason, and whether it
asked for a namespace (the ``netns`` marker or the ``lab`` fixture). Loaded with ``-p tests.outcomes_plugin``;
the file goes where ``$LAB_OUTCOMES`` says."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

_tests: dict[str, dict[str, Any]] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        needs = "netns" in item.keywords or "lab" in getattr(item, "fixturenames", ())
        _tests[item.nodeid] = {"netns": needs, "browser": "browser" in item.keywords, "outcome": None, "reason": ""}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    test = _tests.setdefault(report.nodeid, {"netns": None, "browser": None, "outcome": None, "reason": ""})
    if report.failed:
        test["outcome"] = "failed"
    elif report.skipped and test["outcome"] != "failed":
        test["outcome"] = "skipped"
        longrepr = report.longrepr
        test["reason"] = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr).removeprefix("Skipped: ")
    elif report.when == "call" and test["outcome"] is None:
        test["outcome"] = "passed"


def pytest_sessionfinish() -> None:
    Path(os.environ["LAB_OUTCOMES"]).write_text(json.dumps(_tests, indent=1, sort_keys=True))

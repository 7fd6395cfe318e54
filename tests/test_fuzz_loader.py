"""Hostile scenario files: whatever a file holds, loading it gives a model or one ScenarioError, never a traceback.

Mutations start from the real catalog (so they reach deep into every host kind's settings): a value anywhere
replaced by any TOML value, keys renamed to odd (non-ASCII, quoted) names, bytes flipped. Every error must
name a line. ``LAB_FUZZ_EXAMPLES`` raises the count (``make fuzz`` runs thousands and records the figures).
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.errors import ScenarioError
from lab.model import scenario
from lab.paths import TOPOLOGY_DIR
from tests.test_fuzz_protocols import COUNTS

EXAMPLES = int(os.environ.get("LAB_FUZZ_EXAMPLES", "120"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOURCES = {p.stem: p for p in [*scenario.catalog(), *sorted(TOPOLOGY_DIR.glob("*.toml"))]}  # topologies: every host
CATALOG = {name: tomllib.loads(path.read_text()) for name, path in SOURCES.items()}

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=12)
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    names,
    st.sampled_from(["glb", "backend", "reset", "http-proxy", "socks5", "::1", "fe80::1%eth0", "1.2.3.4:0", ""]),
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3), max_leaves=8
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += _paths(value, (*prefix, i))
    return found


def _replace(data: Any, path: tuple[Any, ...], value: Any, rename: str | None) -> None:
    *parents, last = path
    for key in parents:
        data = data[key]
    if rename is not None and isinstance(data, dict):
        data[rename] = data.pop(last)
    else:
        data[last] = value


def _load_text(text: str | bytes) -> scenario.Scenario | ScenarioError:
    COUNTS["scenario files"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.toml"
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        try:
            return scenario.load(path)
        except ScenarioError as exc:
            return exc


def _assert_errors_name_lines(outcome: scenario.Scenario | ScenarioError) -> None:
    if isinstance(outcome, ScenarioError):
        assert all(e.line is not None for e in outcome.all), str(outcome)
        assert "Traceback" not in str(outcome)


@FUZZ
@given(
    name=st.sampled_from(sorted(CATALOG)),
    choice=st.integers(min_value=0),
    value=values,
    rename=st.none() | names,
)
def test_any_value_anywhere_gives_a_model_or_file_line_errors(
    name: str, choice: int, value: Any, rename: str | None
) -> None:
    data = tomllib.loads(tomli_w.dumps(CATALOG[name]))  # a deep copy
    paths = _paths(data)
    _replace(data, paths[choice % len(paths)], value, rename)
    _assert_errors_name_lines(_load_text(tomli_w.dumps(data)))


@FUZZ
@given(
    name=st.sampled_from(sorted(CATALOG)),
    edits=st.lists(st.tuples(st.integers(min_value=0), st.binary(max_size=3)), min_size=1, max_size=4),
)
def test_flipped_bytes_give_a_model_or_one_line_per_error(name: str, edits: list[tuple[int, bytes]]) -> None:
    raw = bytearray(SOURCES[name].read_bytes())
    for position, data in edits:
        at = position % (len(raw) + 1)
        raw[at : at + len(data)] = data
    outcome = _load_text(bytes(raw))
    if isinstance(outcome, ScenarioError):
        assert all("\n" not in e.message for e in outcome.all)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        (b'title = "\xff\xfe"\n', "not UTF-8 text (byte 0xff); save the file as UTF-8"),
        ('hosts = "x"\n', "hosts (one [hosts.NAME] table per host) must be a table, not 'x'"),
        ("steps = 5\n", "steps must be [[steps]] tables"),
        ('[hosts."é x"]\nkind = "nope"\naddress = "1.2.3.4:1"\n', "unknown host kind 'nope'"),
        ('topology = "seed"\n[hosts.glb]\nurl_map = 5\n', "url_map must be a list of entries"),
        ('topology = "seed"\n[hosts.glb]\nurl_map = [{ backend = ["old"] }]\n', "'backend' must be a backend host"),
        ('topology = "seed"\n[hosts.old]\ncert.ips = ["not-an-ip"]\n', "'not-an-ip' is not an IP address"),
        ('topology = "seed"\n[hosts.old]\ncert.names = [""]\n', "cert.names: '' is not a DNS name"),
        ('[hosts.a]\nkind = "reset"\naddress = "[fe80::1%eth0]:443"\n', "has a zone (%eth0)"),
        (
            '[hosts.a]\nkind = "reset"\naddress = "[::1]:443"\n[hosts.b]\nkind = "reset"\naddress = "[::0001]:443"\n',
            "address [::1]:443 is already used by host 'a'",
        ),
    ],
)
def test_known_hostile_files(text: str | bytes, message: str) -> None:
    outcome = _load_text(text)
    assert isinstance(outcome, ScenarioError)
    assert message in str(outcome)
    _assert_errors_name_lines(outcome) if "nested" not in message else None


def test_all_errors_of_a_file_at_once() -> None:
    outcome = _load_text(
        'title = "x"\ntopology = "seed"\n[hosts.glb]\nfailure_style = "loud"\ntls.min = "1.1"\n'
        '[[steps]]\nrun = "wget x"\n[[steps]]\nrun = "curl x"\nexpect.exit = "0"\n'
    )
    assert isinstance(outcome, ScenarioError)
    assert [e.line for e in outcome.all] == [4, 5, 7, 10]

"""``lab import``: draft a scenario from a pasted ``curl -v`` transcript, then replay it to check it.

Theory of operation. Pure steps, no sockets and no files, then one replay (the CLI reads and writes):

0. :func:`._paste.lines` undoes what pasting did (line ends, indentation, quoting, colours, progress
   meters, the ``-vv``/``-vvv``/``--trace-ascii`` forms of newer curls).
1. :func:`split` (``_split.py``) finds the curl commands - after any prompt, by path, continued over lines,
   inline in prose, after ``export``/``VAR=`` lines - and gives each the ``-v`` lines after it (a
   :class:`Session`); output with no command becomes a session whose command is rebuilt (``_reconstruct.py``).
2. :func:`observe` (``_observe.py``) reads a session: the facts of its output (``_facts.py``), the command as
   curl reads it (:mod:`lab.protocols.curlargs`), where curl meant to go (:mod:`lab.explain.curlplan`), and
   the situation - the failure in the lab's terms, in any curl's and TLS library's words (``_classify.py``).
3. :func:`draft` (``_draft.py``) builds the world (``_world.py``, ``_place.py``, ``_behave.py``): a host per
   address curl reached, behaving as the transcript shows; the client's hosts file; each proxy's DNS; and a
   step per command that expects what *today's* curl prints in that situation (``_today.py``), with the
   customer's command adapted only where the lab needs it (``_command.py``) and a TODO for everything the
   transcript did not show.
4. ``--check`` (the default, ``_check.py``): replay the draft once with the real curl, report which steps
   reproduce the transcript's outcome and why the others do not, and write each step's lesson from the lab's
   own verdict on the replay.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from pathlib import Path

from lab.apps.importer._draft import HANG_LIMIT, Draft, DraftHost, DraftStep, TranscriptError, draft
from lab.apps.importer._observe import Observation, observe, parse_subject
from lab.apps.importer._split import Mention, Session, Transcript, split
from lab.errors import LabError, NamespaceUnavailable
from lab.model import scenario as scenarios
from lab.protocols import curlversion

__all__ = [
    "HANG_LIMIT",
    "Draft",
    "DraftHost",
    "DraftStep",
    "Mention",
    "Observation",
    "Session",
    "Transcript",
    "TranscriptError",
    "curl_notes",
    "draft",
    "import_transcript",
    "observe",
    "parse_subject",
    "split",
    "write_draft",
]


def import_transcript(text: str, source: str) -> Draft:
    """``lab import``: transcript text in, draft out. ``source`` is the file name for messages."""
    if "\x00" in text:
        raise TranscriptError(
            source, None, "this is a binary file, not a transcript: paste curl -v output into a .txt file"
        )
    return draft(split(text), source)


def _load(drafted: Draft, name: str) -> scenarios.Scenario:
    """The draft as the lab loads it (a draft that does not load is a bug here, reported like any scenario error)."""
    with tempfile.TemporaryDirectory(prefix="lab-import-") as tmp:
        path = Path(tmp) / name
        path.write_text(drafted.render(), encoding="utf-8")
        return scenarios.load(path)


def _checked(drafted: Draft, loaded: scenarios.Scenario) -> tuple[Draft, str]:
    """Replay the draft once in the lab; (the draft with the lab's lessons, a report for the terminal)."""
    from lab.runtime import netns

    try:
        netns.enter()
    except NamespaceUnavailable as exc:
        return drafted, f"not checked (no replay here): {exc}"
    import trio

    from lab.apps.importer._check import check, with_checks
    from lab.paths import ROOT

    here = os.getcwd()
    os.chdir(ROOT)  # the lab's certificate paths (certs/client.crt) are relative to the project
    try:
        checks = trio.run(check, loaded, drafted)
    finally:
        os.chdir(here)
    lines = [f"  step {c.number} (transcript line {c.line}): {c.summary()}" for c in checks]
    good = sum(c.reproduced for c in checks)
    head = f"checked: {good} of {len(checks)} steps reproduce the transcript's outcome with today's curl"
    return with_checks(drafted, checks), "\n".join([head, *lines])


def write_draft(transcript: str, output: str | None, *, check: bool = True) -> int:
    """``lab import TRANSCRIPT [-o FILE] [--no-check]``: read, draft, load, replay, then print or write it."""
    source = Path(transcript)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise TranscriptError(transcript, None, f"cannot read: {exc.strerror}") from None
    target = Path(output).absolute() if output else None
    if target is not None and target.exists():
        raise TranscriptError(str(output), None, "already exists; choose another -o FILE or remove it first")
    if target is not None and target.suffix != ".toml":
        raise TranscriptError(str(output), None, "the draft is a scenario: give -o a .toml file name")
    text_in = data.decode("utf-8", "replace")
    drafted = import_transcript(text_in, transcript)
    drafted = dataclasses.replace(drafted, notes=(*drafted.notes, *curl_notes(text_in)))
    loaded = _load(drafted, target.name if target else "draft.toml")
    report = ""
    if check and loaded.steps:
        drafted, report = _checked(drafted, loaded)
        loaded = _load(drafted, target.name if target else "draft.toml")
    summary = (
        f"{_count(len(loaded.hosts), 'host')}, {_count(len(loaded.steps), 'step')} from "
        f"{_count(len(drafted.steps), 'curl command')}"
        + (f" ({len(drafted.mentions)} mentioned without output, left as comments)" if drafted.mentions else "")
    )
    if target is None:
        sys.stdout.write(drafted.render())
        print(f"lab: drafted {summary}; save it with -o FILE.toml", file=sys.stderr)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(drafted.render(), encoding="utf-8")
        print(f"wrote {output}: {summary}; review it, then: lab run {output}", file=sys.stderr)
    if report:
        print(report, file=sys.stderr)
    return 0


def curl_notes(text: str) -> list[str]:
    """The transcript's curl and TLS library, and where the lab's curl (``$LAB_CURL`` or PATH's) would differ."""
    from lab.explain.curlchanges import differences
    from lab.runtime import curlbin

    theirs = curlversion.from_transcript(text)
    tls = f"{theirs.tls} ({theirs.tls_evidence})" if theirs.tls else "TLS library not shown"
    notes = [f"the customer's curl: {theirs.describe() or 'version not shown'}; {tls}"]
    try:
        ours = curlbin.choose().version
    except LabError as exc:
        return [*notes, f"the lab's curl: {exc}"]
    found = differences(theirs, ours)
    notes.append(f"the lab runs {ours}" + (", which differs:" if found else ""))
    return notes + [f"  - {n}" for n in found]


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"

"""``lab import``: draft a scenario from a pasted ``curl -v`` transcript.

Theory of operation. Three pure steps, no sockets and no files (the CLI reads and writes):

1. :func:`split` (``_split.py``) finds the curl commands in a transcript - support chats mix prose (in any
   language), markdown fences and terminal output - and gives each command the run of ``curl -v`` lines
   that follows it (a :class:`Session`). A command with no output after it is a *mention*: suggested in
   the chat, never run, so there is nothing to reproduce.
2. :func:`observe` (``_observe.py``) reads one session with :func:`lab.protocols.curlv.parse` (the same
   reader that reads the lab's own curl) and its command with :mod:`lab.protocols.curlargs` into an
   :class:`Observation`: where curl connected and whether that address came from DNS,
   ``--resolve``/``--connect-to`` or a proxy; what the TLS handshake showed (certificate subject, SAN
   match, issuer, version, ALPN, "Request CERT (13)"); and how it ended (``curl: (N)``, an answer, or a
   request that never got one).
3. :func:`draft` (``_draft.py``) maps the observations onto a world: every address curl reached becomes a
   host whose kind is what the handshake proves (asked for a client certificate -> ``glb``; closed before
   a ServerHello -> ``reset``; an ordinary TLS server -> ``backend``; the ``-x`` address -> a proxy), a
   name that DNS resolved becomes the client's hosts entry, and each session becomes a step whose
   expectation is the outcome the customer saw. :meth:`Draft.render` writes it as commented TOML.

A request that hung (the chat's ``-k`` and ``--resolve`` commands sent their request and were stopped by
hand) is replayed with ``-m`` and expected to time out (exit 28) against a load balancer that drops a
rejected connection silently - which is what the customer saw.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

from lab.apps.importer._draft import HANG_LIMIT, Draft, DraftHost, DraftStep, TranscriptError, draft
from lab.apps.importer._observe import Observation, observe, parse_subject
from lab.apps.importer._split import Mention, Session, Transcript, split
from lab.errors import LabError
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


# -- the shell: the one function of the importer that touches files ----------------------------------------


def write_draft(transcript: str, output: str | None) -> int:
    """``lab import TRANSCRIPT [-o FILE]``: read, draft, check the draft loads, then print or write it."""
    source = Path(transcript)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise TranscriptError(transcript, None, f"cannot read: {exc.strerror}") from None
    text_in = data.decode("utf-8", "replace")
    drafted = import_transcript(text_in, transcript)
    drafted = dataclasses.replace(drafted, notes=(*drafted.notes, *curl_notes(text_in)))
    text = drafted.render()
    target = Path(output) if output else None
    if target is not None and target.exists():
        raise TranscriptError(str(target), None, "already exists; choose another -o FILE or remove it first")
    if target is not None and target.suffix != ".toml":
        raise TranscriptError(str(target), None, "the draft is a scenario: give -o a .toml file name")
    with tempfile.TemporaryDirectory(prefix="lab-import-") as tmp:
        check = Path(tmp) / (target.name if target else "draft.toml")
        check.write_text(text, encoding="utf-8")
        loaded = scenarios.load(check)  # a draft that does not load is a bug here, reported like any scenario error
    summary = (
        f"{_count(len(loaded.hosts), 'host')}, {_count(len(loaded.steps), 'step')} from "
        f"{_count(len(drafted.steps), 'curl command')} with output"
        + (f" ({len(drafted.mentions)} mentioned without output, left as comments)" if drafted.mentions else "")
    )
    if target is None:
        sys.stdout.write(text)
        print(f"lab: drafted {summary}; save it with -o FILE.toml", file=sys.stderr)
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}: {summary}; review it, then: lab run {target}", file=sys.stderr)
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

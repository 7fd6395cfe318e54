"""Step 1 of ``lab import``: find the curl commands in a transcript and the ``curl -v`` output after each. Pure."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from lab.protocols import curlv

_MAX_GAP = 25  # non-curl lines (response bodies, pasted noise) tolerated inside one session's output
_COMMAND = re.compile(r"^\s*(?:\S*[$%#]\s+)?(curl\s.*?)\s*$")  # optionally after a shell prompt
_VERBOSE = re.compile(r"^(?:\*(?:\s|$)|[<>](?:\s|$)|[{}] \[|curl: \(\d+\) )")
_FENCE = re.compile(r"^\s*(?:```|~~~)")
_METER = re.compile(r"^\s*(?:% Total|Dload\s+Upload|\d+\s+[\d.]+[kMGT]?\s+\d+\s)")  # curl's progress meter


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A curl command and the ``-v`` output pasted right after it."""

    line: int  # 1-based line of the command in the transcript
    command: str
    argv: tuple[str, ...]
    output: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Mention:
    """A curl command with no output after it (a suggestion in the chat, not something that ran)."""

    line: int
    command: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript:
    sessions: tuple[Session, ...]
    mentions: tuple[Mention, ...]
    orphan_line: int | None = None  # first curl -v line that followed no command


def _command_at(raw: str) -> tuple[str, tuple[str, ...]] | None:
    """The curl command on this line, or None for prose that merely starts with "curl"."""
    match = _COMMAND.match(raw)
    if not match:
        return None
    text = match.group(1).rstrip("`").rstrip()
    try:
        argv = tuple(shlex.split(text, comments=True))
    except ValueError:
        return None
    if not any(a.startswith("-") or "://" in a for a in argv[1:]):
        return None  # "curl failed to verify the legitimacy of the server ..." is curl's prose, not a command
    return text, argv


def split(text: str) -> Transcript:
    """Commands and the output that belongs to each. Pure."""
    lines = text.splitlines()
    sessions: list[Session] = []
    pending: list[tuple[int, str, tuple[str, ...]]] = []  # commands with no output yet
    orphan: int | None = None
    i = 0
    while i < len(lines):
        found = _command_at(lines[i])
        if found is None:
            if orphan is None and curlv.connected(curlv.clean_line(lines[i])) is not None:
                orphan = i + 1
            i += 1
            continue
        text, argv = found
        while text.endswith("\\") and i + 1 < len(lines):  # a command continued over several lines
            i += 1
            text = text[:-1].rstrip() + " " + lines[i].strip()
            argv = tuple(shlex.split(text, comments=True)) if _splits(text) else argv
        start = i + 1
        output, end = _output_after(lines, i + 1)
        if output:
            sessions.append(Session(line=start, command=text, argv=argv, output=output))
            i = end
        else:
            pending.append((start, text, argv))
            i += 1
    ran = {s.command for s in sessions}
    mentions: list[Mention] = []
    for line, text, _ in pending:
        if text not in ran and text not in {m.command for m in mentions}:
            mentions.append(Mention(line=line, command=text))
    return Transcript(sessions=tuple(sessions), mentions=tuple(mentions), orphan_line=orphan)


def _splits(text: str) -> bool:
    try:
        shlex.split(text, comments=True)
    except ValueError:
        return False
    return True


def _output_after(lines: list[str], start: int) -> tuple[tuple[str, ...], int]:
    """The curl -v lines from ``start`` on, up to the next command, fence or long stretch of prose."""
    output: list[str] = []
    end = start
    gap = 0
    for j in range(start, len(lines)):
        line = curlv.clean_line(lines[j])
        if _command_at(lines[j]) is not None or _FENCE.match(line):
            break
        if _VERBOSE.match(line):
            output.append(line)
            end, gap = j + 1, 0
            if line.startswith("curl: ("):
                break  # curl's last word
        elif line.strip() and not _METER.match(line):
            gap += 1
            if gap > _MAX_GAP or not output:
                break
    return tuple(output), end

"""Step 0 of ``lab import``: undo what pasting did to curl's output, line by line. Pure.

People paste from terminals, chats and tickets: Windows line ends, markdown indentation and quoting, ANSI
colours, progress meters written over by ``\\r``, and the trace forms of newer curls (``-vv`` puts a
timestamp in front of every line; ``-vvv``/``--trace-ascii`` print ``== Info:`` lines and header dumps).
:func:`lines` turns every line back into the plain ``curl -v`` form (``* ``, ``> ``, ``< ``) the rest of the
importer reads, and keeps each line's number in the paste for messages and comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lab.protocols import curlv

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_STAMP = r"(?:\d{2}:\d{2}:\d{2}\.\d+\s+)?(?:\[\d+-[\dx]+\]\s+)?"
_INFO = re.compile(rf"^{_STAMP}== Info: ?(.*)$")  # --trace-ascii / curl 8 -vvv
_DUMP_START = re.compile(rf"^{_STAMP}(=>|<=) (Send|Recv) (header|data|SSL data)\b")
_DUMP_LINE = re.compile(r"^[0-9a-f]{4}: ?(.*)$")
_STAMPED = re.compile(r"^\d{2}:\d{2}:\d{2}\.\d+\s+(?:\[\d+-[\dx]+\]\s+)?([*<>{}].*)$")  # curl 8 -vv
_QUOTED = re.compile(r"^>\s?(?=\*\s|<\s|>\s|curl: |[$#%]\s*curl\s)")  # a markdown blockquote of curl output


@dataclass(frozen=True, slots=True)
class Line:
    """One pasted line: its number (1-based), and its text in plain ``curl -v`` form."""

    number: int
    text: str


def lines(text: str) -> list[Line]:
    """Every line of a paste in ``curl -v`` form; trace hex dumps of bodies and TLS records are left out."""
    out: list[Line] = []
    dump: str | None = None  # inside a trace dump: "> " / "< " for headers, "" for data to skip
    for number, raw in enumerate(text.splitlines(), start=1):
        line = curlv.clean_line(_ANSI.sub("", raw)).lstrip()
        line = _QUOTED.sub("", line)
        if dump is not None:
            dumped = _DUMP_LINE.match(line)
            if dumped:
                if dump and dumped.group(1).strip():
                    out.append(Line(number, dump + dumped.group(1).rstrip()))
                continue
            dump = None
        started = _DUMP_START.match(line)
        if started:
            direction, _, what = started.groups()
            dump = ("> " if direction == "=>" else "< ") if what == "header" else ""
            continue
        info = _INFO.match(line)
        if info:
            line = "* " + info.group(1) if info.group(1) else "*"
        else:
            stamped = _STAMPED.match(line)
            if stamped:
                line = stamped.group(1)
        out.append(Line(number, line))
    return out

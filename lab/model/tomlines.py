"""Line numbers for TOML keys, so validation errors can say ``file:line``.

``tomllib`` gives values, not positions. This scans the text once and records, for every key path it
can see (``("steps", 2, "expect", "exit")``), the line it sits on. It understands table headers, arrays
of tables and dotted keys; keys inside inline tables or multi-line values fall back to the line of the
enclosing key, which is what an error message needs.
"""

from __future__ import annotations

import re

KeyPath = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _split_key(text: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", text)
    return [p.strip("\"'") for p in parts]


class LineIndex:
    def __init__(self, text: str) -> None:
        self._lines: dict[KeyPath, int] = {}
        counts: dict[KeyPath, int] = {}
        table: KeyPath = ()
        in_multiline: str | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            if in_multiline:
                if raw.count(in_multiline) % 2 == 1:
                    in_multiline = None
                continue
            header = _HEADER.match(raw)
            if header and not raw.lstrip().startswith("#"):
                keys = tuple(_split_key(header.group(2)))
                if header.group(1) == "[[":
                    index = counts.get(keys, 0)
                    counts[keys] = index + 1
                    table = (*keys, index)
                    self._lines.setdefault(keys, number)  # the array itself: its first [[header]]
                else:
                    table = self._resolve_arrays(keys, counts)
                self._record(table, number)
                continue
            key = _KEY.match(raw)
            if key:
                self._record((*table, *_split_key(key.group(1))), number)
                for quote in ('"""', "'''"):
                    if raw.count(quote) == 1:
                        in_multiline = quote

    def _record(self, path: KeyPath, number: int) -> None:
        """``path`` and every table enclosing it start here at the latest (``[a.b.c]`` also opens ``a.b``)."""
        for end in range(1, len(path) + 1):
            self._lines.setdefault(path[:end], number)

    @staticmethod
    def _resolve_arrays(keys: tuple[str, ...], counts: dict[KeyPath, int]) -> KeyPath:
        """``[steps.expect]`` after the third ``[[steps]]`` means ``("steps", 2, "expect")``."""
        path: list[str | int] = []
        for key in keys:
            path.append(key)
            prefix = tuple(k for k in path if isinstance(k, str))
            if prefix in counts and len(prefix) < len(keys):
                path.append(counts[prefix] - 1)
        return tuple(path)

    def line(self, path: KeyPath) -> int:
        """The line of ``path``, or of its nearest enclosing key that has one (the file's first line at worst)."""
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return 1

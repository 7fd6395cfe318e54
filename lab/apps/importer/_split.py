"""Step 1 of ``lab import``: find the curl commands in a paste and the ``curl -v`` output after each. Pure.

People paste commands after any prompt (``$``, ``#``, ``%``, ``[root@host ~]#``, ``PS C:\\>``), by path
(``/usr/local/bin/curl``, ``./curl``, ``curl.exe``), behind ``sudo`` or ``VAR=value``, continued over lines
(``\\``, PowerShell's backtick, cmd's ``^``), with a trailing ``# comment``, inline in a sentence between
backticks, several in one paste, and after ``export https_proxy=...`` or ``HOST=...`` lines. Each command
gets the run of ``curl -v`` lines after it (a :class:`Session`); ``-v`` output with no command before it
becomes a session without one (the draft reconstructs the command); a command with no output is a
:class:`Mention` - unless the paste has nothing else, then it is drafted without an expected outcome.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from lab.apps.importer._paste import Line, lines

_MAX_GAP = 25  # non-curl lines (response bodies, pasted noise) tolerated inside one session's output
_CURL = re.compile(r"(?<![\w.$-])((?:[\w.~:-]*[/\\])*(?i:curl)(?:\.exe|\.EXE)?)(?=\s|$)")
_HELPERS = re.compile(r"(?:\b(?:sudo|time|command|exec|nohup|env)|\\|[A-Za-z_]\w*=(?:'[^']*'|\"[^\"]*\"|\S*))\s*$")
_PROMPT_END = ("$", "#", "%", ">", "`", "\u276f", "\u00bb", ":")  # also zsh themes' arrows
_VERBOSE = re.compile(r"^(?:\*(?:\s|$)|[<>](?:\s|$)|[{}] \[|curl: |Warning: |\s*% Total)")
_FENCE = re.compile(r"^(?:```|~~~)")
_METER = re.compile(r"^\s*(?:% Total|Dload\s+Upload|\d+\s+[\d.]+[kMGT]?\s+\d+\s)")  # curl's progress meter
_TRANSFER_END = re.compile(r"^\* (?:Connection #\d+ to host .* left intact|[Cc]losing connection)")
_ASSIGN = re.compile(r"^(?:export\s+|set\s+|\$env:)?([A-Za-z_]\w*)\s*=\s*(.*)$")
_VARIABLE = re.compile(r"\$\{?([A-Za-z_]\w*)\}?")
ENV_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A curl command (or none, when the paste has only output) and the ``-v`` output pasted after it."""

    line: int  # 1-based line of the command in the paste (of the first output line when there is none)
    command: str  # as typed, continuations joined ("" when the paste has no command line)
    argv: tuple[str, ...]  # curl's words, shell variables that the paste sets filled in
    output: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()  # proxy variables set for it (VAR=value before it, export ...)
    unset: tuple[str, ...] = ()  # shell variables the command uses and the paste never sets
    prompt: str = ""

    @property
    def has_command(self) -> bool:
        return bool(self.argv)


@dataclass(frozen=True, slots=True, kw_only=True)
class Mention:
    """A curl command with no output after it (a suggestion in the chat, not something that ran)."""

    line: int
    command: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript:
    sessions: tuple[Session, ...]
    mentions: tuple[Mention, ...]
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Found:
    """A command found on a line: the text after the prompt, and what came before curl."""

    text: str
    prefix_env: list[tuple[str, str]]
    inline: bool


def _command_at(text: str) -> _Found | None:
    """The curl command on this line, or None for prose that merely mentions curl."""
    for match in _CURL.finditer(text):
        before = text[: match.start()]
        inline = before.rstrip().endswith("`")
        env: list[tuple[str, str]] = []
        rest = before.rstrip()
        while helper := _HELPERS.search(rest):
            assigned = _ASSIGN.match(helper.group(0).strip())
            if assigned and "=" in helper.group(0):
                env.insert(0, (assigned.group(1), _unquote(assigned.group(2))))
            rest = rest[: helper.start()].rstrip()
        if rest and not (rest.endswith(_PROMPT_END) or rest.startswith(("\u279c", "PS "))):
            continue
        command = text[match.start() :]
        if inline:
            command = command.split("`", 1)[0]
        if not _looks_like_arguments(command):
            continue
        return _Found(text=command.rstrip(), prefix_env=env, inline=inline)
    return None


def _unquote(value: str) -> str:
    try:
        words = shlex.split(value)
    except ValueError:
        return value
    return words[0] if len(words) == 1 else value


def _looks_like_arguments(command: str) -> bool:
    """``curl -v https://x`` is a command; "curl failed to verify the legitimacy..." is curl's own prose."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        words = command.split()
    return any(w.startswith("-") or "://" in w for w in words[1:])


def _continued(text: str, following: list[Line]) -> tuple[str, int]:
    """Join continuation lines (bash ``\\``, PowerShell backtick, cmd ``^``); returns (text, lines used)."""
    used = 0
    while text.endswith(("\\", "`", "^")) and used < len(following):
        nxt = following[used].text
        used += 1
        nxt = re.sub(r"^>\s?", "", nxt)  # bash's continuation prompt
        text = text[:-1].rstrip() + " " + nxt.strip()
    joined, more = text, used
    while _open_quote(joined) and more < len(following) and more < used + _MAX_GAP:  # -d '{...}' over lines
        joined += "\n" + following[more].text
        more += 1
    if not _open_quote(joined):  # a quote that never closes was a typo: keep the one line
        return joined, more
    return text, used


def _open_quote(text: str) -> bool:
    try:
        shlex.split(text, comments=True)
    except ValueError:
        return True
    return False


def _command_only(text: str) -> str:
    """The curl command without what the shell does around it: ``| grep``, ``2>&1``, ``> out``, ``; echo``."""
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "|;&" or (char == ">" and (i == 0 or text[i - 1] in " \t0123456789")):
            if char == "&" and text[i - 1 : i] == ">":
                i += 1
                continue
            if char == ">":  # a redirection: drop it and its target, keep going
                rest = re.match(r">>?&?\s*[^\s;|&]*", text[i:])
                out = out[:-1] if out and out[-1].isdigit() else out
                i += len(rest.group(0)) if rest else 1
                continue
            break
        out.append(char)
        i += 1
    return "".join(out).rstrip()


def _words(text: str, variables: dict[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """shlex words with the paste's shell variables filled in; also the variables it could not fill."""
    unset: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return variables[name]
        unset.append(name)
        return match.group(0)

    filled = _VARIABLE.sub(fill, _command_only(text))
    try:
        words = shlex.split(filled, comments=True, posix=True)
    except ValueError:  # an unbalanced quote (often in a comment or a redacted part): split on blanks
        words = filled.split("#", 1)[0].split()
    return tuple(words), tuple(dict.fromkeys(unset))


def _assignment(text: str, variables: dict[str, str], exported: dict[str, str]) -> bool:
    """``HOST=x``, ``export https_proxy=...``, ``set X=Y``, ``$env:X = "Y"`` after a prompt: remember it."""
    body = re.sub(r"^.*?[$#%>]\s*(?=(?:export\s+|set\s+|\$env:)?[A-Za-z_]\w*\s*=)", "", text, count=1)
    try:
        parts = shlex.split(body) if not body.startswith("$env:") else [body]
    except ValueError:
        return False
    if not parts:
        return False
    is_export = parts[0] in ("export", "set")
    parts = parts[1:] if is_export else parts
    found = [_ASSIGN.match(p) for p in parts]
    if not parts or not all(found):
        return False
    for assigned in found:
        assert assigned is not None
        name, value = assigned.group(1), _unquote(assigned.group(2))
        variables[name] = value
        if is_export or body.startswith("$env:") or name in ENV_VARIABLES:
            exported[name] = value
    return True


def split(text: str) -> Transcript:
    """Commands and the output that belongs to each. Pure."""
    pasted = lines(text)
    sessions: list[Session] = []
    pending: list[Mention] = []
    variables: dict[str, str] = {}
    exported: dict[str, str] = {}
    i = 0
    while i < len(pasted):
        found = _command_at(pasted[i].text)
        if found is None:
            if not _assignment(pasted[i].text, variables, exported) and _starts_output(pasted[i].text):
                output, end = _output_after(pasted, i, orphan=True)
                sessions.append(Session(line=pasted[i].number, command="", argv=(), output=output))
                i = max(end, i + 1)
                continue
            i += 1
            continue
        command, used = _continued(found.text, pasted[i + 1 :])
        start = pasted[i].number
        argv, unset = _words(command, variables)
        env = dict(exported) | dict(found.prefix_env)
        output, end = _output_after(pasted, i + 1 + used)
        if output:
            sessions.append(
                Session(
                    line=start,
                    command=command,
                    argv=argv,
                    output=output,
                    env=tuple((k, v) for k, v in env.items() if k in ENV_VARIABLES),
                    unset=unset,
                )
            )
            i = end
        else:
            pending.append(Mention(line=start, command=command))
            i += 1 + used
    return _finish(sessions, pending, variables)


def _quoted(session: Session) -> bool:
    """Output without a command that is only a line or two quoted in prose ("note this line: * ..."),
    not a run: no exit line, no connection."""
    if session.argv or len(session.output) > 2:
        return False
    return not any(re.match(r"^(?:curl: |\*\s+(?:Trying|Connected|Host .* was resolved))", o) for o in session.output)


def _finish(sessions: list[Session], pending: list[Mention], variables: dict[str, str]) -> Transcript:
    if any(not _quoted(s) for s in sessions):
        sessions = [s for s in sessions if not _quoted(s)]
    ran = {s.command for s in sessions}
    mentions = list({m.command: m for m in pending if m.command not in ran}.values())
    if not sessions and mentions:  # only commands: draft them, without an outcome to expect
        first = mentions[0]
        argv, unset = _words(first.command, variables)
        return Transcript(
            sessions=(Session(line=first.line, command=first.command, argv=argv, output=(), unset=unset),),
            mentions=tuple(mentions[1:]),
            variables=variables,
        )
    return Transcript(sessions=tuple(sessions), mentions=tuple(mentions), variables=variables)


def _starts_output(text: str) -> bool:
    """A line that only ``curl -v`` prints: it starts a session even without a command before it."""
    return bool(re.match(r"^(?:\*\s|\* ?$|[<>] |curl: \(\d+\))", text))


def _output_after(pasted: list[Line], start: int, *, orphan: bool = False) -> tuple[tuple[str, ...], int]:
    """The curl -v lines from ``start`` on, up to the next command, fence or long stretch of prose.

    Output with no command before it (``orphan``) also ends where one transfer ended and another starts."""
    output: list[str] = []
    end = start
    gap = 0
    ended = False
    for j in range(start, len(pasted)):
        line = pasted[j].text
        if _command_at(line) is not None or _FENCE.match(line):
            break
        if orphan and ended and re.match(r"^\*\s+(?:Trying|Host .* was resolved|Uses proxy env)", line):
            break
        if _VERBOSE.match(line):
            output.append(line)
            end, gap = j + 1, 0
            ended = ended or bool(_TRANSFER_END.match(line))
            if line.startswith("curl: ("):
                break  # curl's last word
        elif line.strip() and not _METER.match(line):
            gap += 1
            if gap > _MAX_GAP or not output:
                break
    return tuple(output), end

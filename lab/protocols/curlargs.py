"""curl's command-line language: what a curl argv means, read the way curl 7.88.1 reads it. Pure.

Every module that needs to know what a curl command says asks here - the routing emulator
(:mod:`lab.explain.curlplan`), ``lab import``, the scenario catalog, the verdict's "without it" commands -
so the lab has one reading of ``-sSkx URL`` and one list of curl's options.

Theory of operation. curl's parser (``parse_args`` and ``getparameter`` in ``src/tool_getparam.c``) walks the
words once; the rules below are its rules, and ``tests/test_curlargs.py`` checks each against the real curl:

- ``--NAME`` is a long option, matched case-insensitively, exactly or by an unambiguous prefix (``--insec``,
  ``--PROXY``); a prefix of two or more names "is ambiguous" (``--pro``). ``--NAME=VALUE`` is not curl syntax:
  curl reports that word as an unknown option. An option that takes an argument takes the next word.
- ``--no-NAME`` turns a boolean option off. NAME must be a whole boolean name: ``--no-insec`` is unknown,
  ``--no-resolve`` "used '--no-' for option that isn't a boolean".
- ``-abc`` is a cluster of one-letter options. The first letter that takes an argument takes the rest of the
  word (``-xhttp://p:1``, ``-sSkxhttp://p:1``) or, when it ends the word, the next word (``-sSkx http://p:1``).
- ``--`` ends the options: every later word is a URL. ``-`` alone is an unknown option. Every other word
  is a URL, in order with the ``--url`` values.
- An error quotes the whole word as written: ``option -sk9: is unknown``.

Releases differ (:class:`Dialect`, from curl's git history, tested against 7.88.1 and 8.14.1): since 8.6.0
long names must be exact and match case (no ``--insec``, no ``--PROXY``); since 8.9.0 ``--no-resolve`` "cannot be
reversed with a --no- prefix"; a missing URL is ``no URL specified!`` before 8.0.0, ``(2) no URL specified!``
in 8.0 and 8.1, and ``(2) no URL specified`` since 8.2.0.

Not modelled: ``-K``/``--config`` files and ``~/.curlrc``, the options of a second operation after
``--next``, curl's internal one-letter groups (``-$``, ``-*``: reported here as unknown), and the syntax of
values (numbers, dates). The tables are curl 7.88.1's; a newer curl knows more options - read a customer's
command with ``lenient=True``, which records what it cannot read instead of refusing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["arg", "bool", "none"]

# curl 7.88.1's option table (``aliases[]`` in src/tool_getparam.c), by what each option accepts:
# an argument; nothing, and ``--no-NAME`` turns it off (a boolean); nothing, and no ``--no-`` form.
_WITH_ARG = """
    abstract-unix-socket alt-svc aws-sigv4 cacert capath cert cert-type ciphers config connect-timeout
    connect-to continue-at cookie cookie-jar create-file-mode crlfile curves data data-ascii data-binary
    data-raw data-urlencode delegation dns-interface dns-ipv4-addr dns-ipv6-addr dns-servers doh-url dump-header
    egd-file engine etag-compare etag-save expect100-timeout form form-string ftp-account
    ftp-alternative-to-user ftp-method ftp-port ftp-ssl-ccc-mode happy-eyeballs-timeout-ms header hostpubmd5
    hostpubsha256 hsts interface json keepalive-time key key-type krb krb4 libcurl limit-rate local-port
    login-options mail-auth mail-from mail-rcpt max-filesize max-redirs max-time netrc-file noproxy
    oauth2-bearer output output-dir parallel-max pass pinnedpubkey preproxy proto proto-default proto-redir
    proxy proxy-cacert proxy-capath proxy-cert proxy-cert-type proxy-ciphers proxy-crlfile proxy-header
    proxy-key proxy-key-type proxy-pass proxy-pinnedpubkey proxy-service-name proxy-tls13-ciphers
    proxy-tlsauthtype proxy-tlspassword proxy-tlsuser proxy-user proxy1.0 pubkey quote random-file range rate
    referer request request-target resolve retry retry-delay retry-max-time sasl-authzid service-name socks4
    socks4a socks5 socks5-gssapi-service socks5-hostname speed-limit speed-time stderr telnet-option
    tftp-blksize time-cond tls-max tls13-ciphers tlsauthtype tlspassword tlsuser trace trace-ascii
    unix-socket upload-file url url-query user user-agent write-out"""
_BOOLEAN = """
    alpn anyauth append basic buffer cert-status clobber compressed compressed-ssh create-dirs crlf digest
    disable disable-eprt disable-epsv disallow-username-in-url doh-cert-status doh-insecure eprt epsv fail
    fail-early fail-with-body false-start form-escape ftp-create-dirs ftp-pasv ftp-pret ftp-skip-pasv-ip
    ftp-ssl ftp-ssl-ccc ftp-ssl-control ftp-ssl-reqd get globoff haproxy-protocol head help http0.9
    ignore-content-length include insecure junk-session-cookies keepalive list-only location
    location-trusted mail-rcpt-allowfails manual metalink negotiate netrc netrc-optional npn ntlm ntlm-wb
    parallel parallel-immediate path-as-is post301 post302 post303 progress-bar progress-meter proxy-anyauth
    proxy-basic proxy-digest proxy-insecure proxy-negotiate proxy-ntlm proxy-ssl-allow-beast
    proxy-ssl-auto-client-cert proxytunnel raw remote-header-name remote-name remote-name-all remote-time
    remove-on-error retry-all-errors retry-connrefused sasl-ir sessionid show-error silent socks5-basic socks5-gssapi
    socks5-gssapi-nec ssl ssl-allow-beast ssl-auto-client-cert ssl-no-revoke ssl-reqd ssl-revoke-best-effort
    styled-output suppress-connect-headers tcp-fastopen tcp-nodelay test-event tftp-no-options tr-encoding
    trace-time use-ascii verbose version xattr"""
_NO_ARG = """
    http1.0 http1.1 http2 http2-prior-knowledge http3 http3-only ipv4 ipv6 next proxy-tlsv1 sslv2 sslv3 tlsv1
    tlsv1.0 tlsv1.1 tlsv1.2 tlsv1.3"""
OPTIONS: dict[str, Kind] = {
    **dict.fromkeys(_WITH_ARG.split(), "arg"),
    **dict.fromkeys(_BOOLEAN.split(), "bool"),
    **dict.fromkeys(_NO_ARG.split(), "none"),
}
SHORT: dict[str, str] = {
    "a": "append", "N": "buffer", "E": "cert", "K": "config", "C": "continue-at", "b": "cookie",
    "c": "cookie-jar", "d": "data", "q": "disable", "D": "dump-header", "f": "fail", "F": "form",
    "P": "ftp-port", "G": "get", "g": "globoff", "I": "head", "H": "header", "h": "help", "0": "http1.0",
    "i": "include", "k": "insecure", "4": "ipv4", "6": "ipv6", "j": "junk-session-cookies", "l": "list-only",
    "L": "location", "M": "manual", "m": "max-time", "n": "netrc", ":": "next", "o": "output", "Z": "parallel",
    "#": "progress-bar", "x": "proxy", "U": "proxy-user", "p": "proxytunnel", "Q": "quote", "r": "range",
    "e": "referer", "J": "remote-header-name", "O": "remote-name", "R": "remote-time", "X": "request",
    "S": "show-error", "s": "silent", "Y": "speed-limit", "y": "speed-time", "2": "sslv2", "3": "sslv3",
    "t": "telnet-option", "z": "time-cond", "1": "tlsv1", "T": "upload-file", "B": "use-ascii", "u": "user",
    "A": "user-agent", "v": "verbose", "V": "version", "w": "write-out",
}  # fmt: skip
_SOCKS = {"socks4": "socks4", "socks4a": "socks4a", "socks5": "socks5", "socks5-hostname": "socks5h"}


class CurlUsageError(ValueError):
    """curl would refuse this command line before connecting (exit 2); ``str()`` is curl's own wording."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Given:
    """One option as the command line gives it, and where: enough to drop or rewrite it in any spelling."""

    name: str  # curl's long name: "proxy" for -x, --proxy and --prox
    spelling: str  # the option as written: "-x", "--prox", "--no-verbose"
    value: str | None = None  # its argument; None for an option that takes none
    on: bool = True  # False for --no-NAME
    word: int  # index (in ``Options.args``) of the word that holds the option
    letter: int = 0  # position of its letter inside a ``-abc`` cluster; 0 for a long option
    value_word: int | None = None  # index of the next word when that word is the value


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """A curl command line as curl reads it: every option given, the URLs, and the reads several modules share.

    Ask :meth:`values`/:meth:`flag`/:meth:`uses` about any option by its long name (``"max-time"``,
    ``"--max-time"`` or ``"-m"`` all work); make changed commands with :meth:`without` and :meth:`with_value`.
    """

    program: str = "curl"
    args: tuple[str, ...] = ()  # the words after the program name, as given
    given: tuple[Given, ...] = ()
    urls: tuple[str, ...] = ()  # positional words and --url values, in order
    errors: tuple[str, ...] = ()  # what curl would refuse (only with ``lenient=True``; else it raises)

    @property
    def argv(self) -> tuple[str, ...]:
        return (self.program, *self.args)

    def values(self, name: str) -> tuple[str, ...]:
        """Every argument given to option ``name``, in order (``-H`` twice gives two headers)."""
        wanted = canonical(name)
        return tuple(g.value for g in self.given if g.name == wanted and g.value is not None)

    def last(self, name: str) -> str | None:
        """The argument curl acts on when an option is given several times (the last one)."""
        found = self.values(name)
        return found[-1] if found else None

    def flag(self, name: str) -> bool:
        """Whether a boolean option ends up on: ``-k --no-insecure`` is off, ``--no-insecure -k`` is on."""
        wanted = canonical(name)
        state = False
        for g in self.given:
            if g.name == wanted:
                state = g.on
        return state

    def uses(self, name: str) -> bool:
        """curl acts on option ``name``: it has an argument, or (a flag) it ends up on."""
        return self.flag(name) if OPTIONS[canonical(name)] != "arg" else bool(self.values(name))

    def without(self, *names: str) -> tuple[str, ...]:
        """The whole command (program first) without these options and their arguments, in every spelling.

        ``--resolve X``, ``--resol X``, ``-x URL``, ``-xURL``, the ``x`` of ``-sSkx URL`` (``-sSk`` stays) and
        ``--no-verbose`` all go; nothing else changes. Use it for "what would curl do without it"::

            curlplan.plan(plan.options.without("--connect-to"), plan.env, hosts)
        """
        drop = {canonical(n) for n in names}
        words: list[str | None] = list(self.args)
        for g in sorted((g for g in self.given if g.name in drop), key=lambda g: -g.letter):
            if g.value_word is not None:
                words[g.value_word] = None
            if not g.letter:
                words[g.word] = None
                continue
            word = words[g.word] or ""
            # a letter with its value attached takes the rest of the word with it; a flag letter only itself
            rest = "" if g.value is not None and g.value_word is None else word[g.letter + 1 :]
            shorter = word[: g.letter] + rest
            words[g.word] = shorter if shorter != "-" else None
        return (self.program, *(w for w in words if w is not None))

    def with_value(self, name: str, value: str) -> tuple[str, ...]:
        """The whole command with every argument of option ``name`` replaced by ``value``, spelling kept."""
        wanted = canonical(name)
        words = list(self.args)
        for g in self.given:
            if g.name != wanted or g.value is None:
                continue
            if g.value_word is not None:
                words[g.value_word] = value
            else:
                words[g.word] = words[g.word][: g.letter + 1] + value
        return (self.program, *words)

    # -- reads that several modules share --

    @property
    def proxy(self) -> str | None:
        """``-x``/``--proxy``, or a ``--socks*`` option as a proxy URL (``socks5h://host:port``).

        The tool keeps one proxy setting that all of these write (``config->proxy``), so the last one given
        wins, whichever option it was."""
        last = self._last_proxy()
        if last is None:
            return None
        if last.name in _SOCKS:
            return f"{_SOCKS[last.name]}://{last.value}"
        return last.value

    @property
    def proxy_flag(self) -> str:
        """Which option set :attr:`proxy`: ``-x``, ``--proxy``, ``--socks5-hostname``... ("" for none)."""
        last = self._last_proxy()
        if last is None:
            return ""
        return "-x" if last.letter else f"--{last.name}"

    def _last_proxy(self) -> Given | None:
        return next((g for g in reversed(self.given) if g.name == "proxy" or g.name in _SOCKS), None)

    @property
    def resolve(self) -> tuple[str, ...]:
        """The ``--resolve`` entries, in order: curl's DNS cache before it resolves anything."""
        return self.values("resolve")

    @property
    def verbose(self) -> bool:
        """``-v``, ``-sv``, ``-vvv``, ``--verbose`` (and not turned off again by ``--no-verbose``)."""
        return self.flag("verbose")


def canonical(name: str) -> str:
    """curl's long name for ``"proxy"``, ``"--proxy"`` or ``"-x"``; ValueError for a name curl lacks."""
    if len(name) == 2 and name[0] == "-" and name[1] in SHORT:
        return SHORT[name[1]]
    bare = name.removeprefix("--")
    if bare not in OPTIONS:
        raise ValueError(f"curl 7.88 has no option {name!r} (expected a long name like 'connect-to', or '-x')")
    return bare


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one curl release words and reads its command line, where releases differ."""

    version: tuple[int, int, int] = (7, 88, 1)

    @classmethod
    def of(cls, version: str | None) -> Dialect:
        """The dialect of ``"8.14.1"`` (``None``: the 7.88.1 these tables come from)."""
        if not version:
            return cls()
        parts = [int(p) for p in version.split(".")[:3] if p.isdigit()] + [0, 0, 0]
        return cls((parts[0], parts[1], parts[2]))

    @property
    def exact_long_names(self) -> bool:
        """8.6.0 (commit 07dd60c05b, "bsearch cmdline options"): no prefixes, case matters."""
        return self.version >= (8, 6, 0)

    def not_boolean(self, word: str) -> str:
        if self.version >= (8, 9, 0):  # commit c074ba64a8
            return f"option {word}: the given option cannot be reversed with a --no- prefix"
        return f"option {word}: used '--no-' for option that isn't a boolean"

    @property
    def no_url(self) -> str:
        if self.version >= (8, 2, 0):
            return "(2) no URL specified"
        return "(2) no URL specified!" if self.version >= (8, 0, 0) else "no URL specified!"


CURL_7_88 = Dialect()


def parse_options(
    args: Sequence[str], *, program: str = "curl", lenient: bool = False, dialect: Dialect = CURL_7_88
) -> Options:
    """Read the words after the program name the way curl does.

    Raises :class:`CurlUsageError` with curl's message for what curl refuses, unless ``lenient``: then each
    refusal is recorded in :attr:`Options.errors`, the word is skipped, and reading goes on (for commands
    pasted from a newer curl, whose options these tables do not know).
    """
    words = tuple(args)
    given: list[Given] = []
    positional: list[tuple[int, str]] = []
    errors: list[str] = []
    i = 0
    only_urls = False
    while i < len(words):
        word = words[i]
        if only_urls or not word.startswith("-"):
            positional.append((i, word))
            i += 1
            continue
        if word == "--":
            only_urls = True
            i += 1
            continue
        try:
            i = _read_long(words, i, given, dialect) if word.startswith("--") else _read_short(words, i, given)
        except CurlUsageError as exc:
            if not lenient:
                raise
            errors.append(str(exc))
            i += 1
    urls = sorted(positional + [(g.word, g.value) for g in given if g.name == "url" and g.value is not None])
    return Options(
        program=program, args=words, given=tuple(given), urls=tuple(u for _, u in urls), errors=tuple(errors)
    )


def parse_command(argv: Sequence[str], *, lenient: bool = False, dialect: Dialect = CURL_7_88) -> Options:
    """:func:`parse_options` for a whole command: ``argv[0]`` is the program (``curl``)."""
    if not argv:
        raise ValueError("an empty command has no program to read options for")
    return parse_options(argv[1:], program=argv[0], lenient=lenient, dialect=dialect)


def _read_long(words: tuple[str, ...], i: int, given: list[Given], dialect: Dialect) -> int:
    """``--NAME`` (and its argument) at ``words[i]``; returns the index of the next unread word."""
    word = words[i]
    name, on = _long_name(word, dialect)
    if OPTIONS[name] != "arg":
        given.append(Given(name=name, spelling=word, on=on, word=i))
        return i + 1
    if i + 1 >= len(words):
        raise CurlUsageError(f"option {word}: requires parameter")
    given.append(Given(name=name, spelling=word, value=words[i + 1], word=i, value_word=i + 1))
    return i + 2


def _long_name(word: str, dialect: Dialect) -> tuple[str, bool]:
    """(curl's name, on) for ``--NAME``: an exact name or an unambiguous prefix; ``--no-`` + a boolean."""
    text = word[2:] if dialect.exact_long_names else word[2:].lower()
    if text.startswith("no-"):  # curl then wants the exact name: no prefix matching after --no-
        name = text[3:]
        if name not in OPTIONS:
            raise CurlUsageError(f"option {word}: is unknown")
        if OPTIONS[name] != "bool":
            raise CurlUsageError(dialect.not_boolean(word))
        return name, False
    if text in OPTIONS:
        return text, True
    matches = [] if dialect.exact_long_names else [name for name in OPTIONS if name.startswith(text)]
    if len(matches) > 1:
        raise CurlUsageError(f"option {word}: is ambiguous")
    if not matches:
        raise CurlUsageError(f"option {word}: is unknown")
    return matches[0], True


def _read_short(words: tuple[str, ...], i: int, given: list[Given]) -> int:
    """A ``-abc`` cluster at ``words[i]``; returns the index of the next unread word."""
    word = words[i]
    if word == "-":
        raise CurlUsageError("option -: is unknown")
    for at in range(1, len(word)):
        name = SHORT.get(word[at])
        if name is None:
            raise CurlUsageError(f"option {word}: is unknown")
        spelling = "-" + word[at]
        if OPTIONS[name] != "arg":
            given.append(Given(name=name, spelling=spelling, word=i, letter=at))
        elif at + 1 < len(word):  # -xhttp://proxy: the rest of the word is the value
            given.append(Given(name=name, spelling=spelling, value=word[at + 1 :], word=i, letter=at))
            return i + 1
        elif i + 1 < len(words):
            given.append(Given(name=name, spelling=spelling, value=words[i + 1], word=i, letter=at, value_word=i + 1))
            return i + 2
        else:
            raise CurlUsageError(f"option {word}: requires parameter")
    return i + 1


# The request methods curl's tool_paramhlp.c SetHTTPrequest keeps apart, with the options that ask for each
_METHODS = (
    ("HEAD (-I, --head)", ("head",)),
    ("POST (-d, --data)", ("data", "data-ascii", "data-binary", "data-raw", "data-urlencode", "json")),
    ("multipart formpost (-F, --form)", ("form", "form-string")),
    ("PUT (-T, --upload-file)", ("upload-file",)),
)


def one_request_method(options: Options) -> None:
    """curl exits 2 when the options ask for two request methods (``-I -d x``); with ``-G`` data goes into the
    URL and asks for no POST."""
    asked = [label for label, names in _METHODS if any(options.uses(n) for n in names)]
    if options.flag("get"):
        asked = [label for label in asked if not label.startswith("POST")]
    if len(asked) > 1:
        raise CurlUsageError(
            f"You can only select one HTTP request method! You asked for both {asked[1]} and {asked[0]}"
        )

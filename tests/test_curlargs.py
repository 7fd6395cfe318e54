"""curl's command-line language (lab.protocols.curlargs), checked against the real curl's own reading.

Each table row is asserted twice: against the expected reading, and against what the real curl did with the
same words - the options it set, as ``curl --libcurl FILE`` writes them (``curl_easy_setopt`` calls), or the
usage error it printed. Transfers go to 127.0.0.1:9, where nothing listens, so curl gives up at once.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tomllib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from lab.protocols import curlargs
from lab.protocols.curlargs import OPTIONS, CurlUsageError, Options, parse_command, parse_options
from lab.protocols.netaddr import is_ip

NOWHERE = "http://127.0.0.1:9/"  # nothing listens: curl fails at once with exit 7
PROXY = "http://127.0.0.1:9"
PIN = "x.test:80:127.0.0.1"


def run_curl(args: Sequence[str], home: Path) -> subprocess.CompletedProcess[str]:
    """The real curl with no ~/.curlrc of anyone's (its options would change the reading)."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "CURL_HOME": str(home), "XDG_CONFIG_HOME": str(home)}
    return subprocess.run(["curl", *args], capture_output=True, text=True, env=env, timeout=20, check=False)


def usage_error(result: subprocess.CompletedProcess[str]) -> str | None:
    """curl's message for a command line it refused (exit 2), without the ``curl: `` prefix."""
    first = result.stderr.splitlines()[0] if result.stderr else ""
    return first.removeprefix("curl: ") if result.returncode == 2 and first.startswith("curl: option") else None


def libcurl(args: Sequence[str], tmp_path: Path) -> list[dict[str, object]]:
    """What the real curl set for each transfer: {CURLOPT name: string, number or list of strings}."""
    source = tmp_path / "libcurl.c"
    result = run_curl(["--libcurl", str(source), *args], tmp_path)
    assert usage_error(result) is None, result.stderr
    lists: dict[str, list[str]] = {}
    transfers: list[dict[str, object]] = [{}]
    for line in source.read_text().splitlines():
        append = re.match(r'\s*(slist\d+) = curl_slist_append\(\1, "(.*)"\);', line)
        setopt = re.match(r"\s*curl_easy_setopt\(hnd, (CURLOPT_\w+), (.*)\);", line)
        if append:
            lists.setdefault(append.group(1), []).append(append.group(2))
        elif setopt:
            value = setopt.group(2)
            transfers[-1][setopt.group(1)] = lists.get(value, value.strip('"'))
        elif "curl_easy_perform" in line:
            transfers.append({})
    return [t for t in transfers if t]


def as_libcurl(options: Options) -> dict[str, object]:
    """The ``curl_easy_setopt`` calls this reading means for the first transfer (the ones the lab cares about)."""
    proxy = options.proxy
    expected: dict[str, object] = {"CURLOPT_URL": options.urls[0]}
    if proxy and options.proxy_flag.startswith("--socks"):
        proxy = proxy.split("://", 1)[1]
        expected["CURLOPT_PROXYTYPE"] = {
            "--socks4": "(long)CURLPROXY_SOCKS4",
            "--socks4a": "(long)CURLPROXY_SOCKS4A",
            "--socks5": "(long)CURLPROXY_SOCKS5",
            "--socks5-hostname": "(long)CURLPROXY_SOCKS5_HOSTNAME",
        }[options.proxy_flag]
    optional = {
        "CURLOPT_PROXY": proxy,
        "CURLOPT_NOPROXY": options.last("noproxy"),
        "CURLOPT_RESOLVE": list(options.resolve) or None,
        "CURLOPT_CONNECT_TO": list(options.values("connect-to")) or None,
        "CURLOPT_HTTPHEADER": list(options.values("header")) or None,
        "CURLOPT_SSLCERT": options.last("cert"),
        "CURLOPT_SSLKEY": options.last("key"),
        "CURLOPT_VERBOSE": "1L" if options.verbose else None,
        "CURLOPT_SSL_VERIFYPEER": "0L" if options.flag("insecure") else None,
    }
    expected.update({k: v for k, v in optional.items() if v is not None})
    return expected


def first_transfer(seen: list[dict[str, object]], keys: set[str]) -> dict[str, object]:
    return {k: v for k, v in seen[0].items() if k in keys}


WATCHED = {
    "CURLOPT_URL", "CURLOPT_PROXY", "CURLOPT_PROXYTYPE", "CURLOPT_NOPROXY", "CURLOPT_RESOLVE", "CURLOPT_CONNECT_TO",
    "CURLOPT_HTTPHEADER", "CURLOPT_SSLCERT", "CURLOPT_SSLKEY", "CURLOPT_VERBOSE", "CURLOPT_SSL_VERIFYPEER",
}  # fmt: skip

# (the words after "curl", what the lab reads)
READINGS = [
    (["-sSkv", NOWHERE], {"insecure": True, "verbose": True, "urls": (NOWHERE,)}),
    ([f"-x{PROXY}", NOWHERE], {"proxy": PROXY, "proxy_flag": "-x"}),
    (["-sSkx", PROXY, NOWHERE], {"proxy": PROXY, "insecure": True}),
    ([f"-sSkx{PROXY}", NOWHERE], {"proxy": PROXY, "insecure": True}),
    (["--proxy", PROXY, "--nopro", "x.test", NOWHERE], {"proxy_flag": "--proxy", "noproxy": ("x.test",)}),  # a prefix
    (["--PROXY", PROXY, "--Insecure", NOWHERE], {"proxy": PROXY, "insecure": True}),  # any case
    (["--insec", NOWHERE], {"insecure": True}),
    (["-k", "--no-insecure", NOWHERE], {"insecure": False}),
    (["--no-insecure", "-k", NOWHERE], {"insecure": True}),
    (["-vvv", "--no-verbose", NOWHERE], {"verbose": False}),
    (["--verbose", NOWHERE], {"verbose": True}),
    (["--socks5", "127.0.0.1:8", "-x", PROXY, NOWHERE], {"proxy": PROXY}),  # one setting: the last one wins
    (["-x", PROXY, "--socks5-hostname", "127.0.0.1:8", NOWHERE], {"proxy": "socks5h://127.0.0.1:8"}),
    (["--resolve", PIN, "--resol", "y.test:80:127.0.0.1", "http://x.test/"], {"resolve": (PIN, "y.test:80:127.0.0.1")}),
    (["--connect-to", "a:1:b:2", "--noproxy", "*", NOWHERE], {"connect-to": ("a:1:b:2",), "noproxy": ("*",)}),
    (
        ["-E", "c.pem", "--key", "k.pem", "-HHost: a", NOWHERE],
        {"cert": ("c.pem",), "key": ("k.pem",), "header": ("Host: a",)},
    ),
    (["--url", "http://127.0.0.1:9/a", NOWHERE], {"urls": ("http://127.0.0.1:9/a", NOWHERE)}),  # in argv order
    (["-v", "--", NOWHERE], {"urls": (NOWHERE,), "verbose": True}),
]


def reading(options: Options, name: str) -> object:
    """``urls``/``proxy``/``proxy_flag`` as read; an option: its arguments, or (a flag) whether it ends up on."""
    if name in ("urls", "proxy", "proxy_flag"):
        return getattr(options, name)
    return options.values(name) if OPTIONS[name] == "arg" else options.flag(name)


@pytest.mark.parametrize(("args", "expected"), READINGS)
def test_reading(args: list[str], expected: dict[str, object]) -> None:
    options = parse_options(args)
    assert {name: reading(options, name) for name in expected} == expected


@pytest.mark.netns
@pytest.mark.parametrize(("args", "expected"), READINGS)
def test_reading_is_what_real_curl_set(args: list[str], expected: dict[str, object], tmp_path: Path) -> None:
    seen = libcurl(args, tmp_path)
    assert first_transfer(seen, WATCHED) == as_libcurl(parse_options(args))
    assert [t["CURLOPT_URL"] for t in seen] == list(parse_options(args).urls)


# (the words after "curl", curl's message)
REFUSALS = [
    (["--proxy-resolve", "a:1:b", NOWHERE], "option --proxy-resolve: is unknown"),
    (["--resolve=" + PIN, NOWHERE], f"option --resolve={PIN}: is unknown"),  # no --name=value in curl
    (["--pro", NOWHERE], "option --pro: is ambiguous"),
    (["--proxy-", NOWHERE], "option --proxy-: is ambiguous"),
    (["--no-insec", NOWHERE], "option --no-insec: is unknown"),  # --no- wants the whole name
    (["--no-resolve", NOWHERE], "option --no-resolve: used '--no-' for option that isn't a boolean"),
    (["--no-http1.1", NOWHERE], "option --no-http1.1: used '--no-' for option that isn't a boolean"),
    (["-sk9", NOWHERE], "option -sk9: is unknown"),  # the whole word, as written
    (["-", NOWHERE], "option -: is unknown"),
    (["-x"], "option -x: requires parameter"),
    ([NOWHERE, "-sx"], "option -sx: requires parameter"),
    ([NOWHERE, "--resolve"], "option --resolve: requires parameter"),
]


@pytest.mark.parametrize(("args", "message"), REFUSALS)
def test_refusal_in_curls_words(args: list[str], message: str, tmp_path: Path) -> None:
    with pytest.raises(CurlUsageError) as refused:
        parse_options(args)
    assert str(refused.value) == message
    assert usage_error(run_curl(args, tmp_path)) == message


def test_lenient_reading_records_refusals_and_goes_on() -> None:
    options = parse_command(
        ["curl", "--ca-native", "-sv", "--proxy-resolve", "a:1:b", "-m", "3", NOWHERE], lenient=True
    )
    assert options.errors == ("option --ca-native: is unknown", "option --proxy-resolve: is unknown")
    assert options.verbose
    assert options.last("max-time") == "3"
    assert options.urls == ("a:1:b", NOWHERE)  # like curl, an unknown option's argument is not known as one


# (the whole command, options to drop, the command without them)
WITHOUT = [
    (["curl", "-v", "--resolve", PIN, "http://x.test/"], ["--resolve"], ["curl", "-v", "http://x.test/"]),
    (["curl", "--resol", PIN, "-v", "--resolve", PIN, NOWHERE], ["resolve"], ["curl", "-v", NOWHERE]),
    (["curl", "-sSkx", PROXY, NOWHERE], ["-x"], ["curl", "-sSk", NOWHERE]),
    (["curl", f"-sSkx{PROXY}", NOWHERE], ["proxy"], ["curl", "-sSk", NOWHERE]),
    (["curl", f"-x{PROXY}", "-k", NOWHERE], ["proxy"], ["curl", "-k", NOWHERE]),
    (["curl", "-sv", "--no-verbose", "--verbose", NOWHERE], ["verbose"], ["curl", "-s", NOWHERE]),
    (["curl", "-v", NOWHERE], ["verbose"], ["curl", NOWHERE]),
    (["curl", "--connect-to", "a:1:b:2", "-vk", NOWHERE], ["connect-to", "insecure"], ["curl", "-v", NOWHERE]),
    (["curl", "-vx", PROXY, "--", NOWHERE], ["-v"], ["curl", "-x", PROXY, "--", NOWHERE]),
]


@pytest.mark.parametrize(("argv", "names", "expected"), WITHOUT)
def test_without_drops_every_spelling(argv: list[str], names: list[str], expected: list[str]) -> None:
    assert parse_command(argv).without(*names) == tuple(expected)


@pytest.mark.netns
@pytest.mark.parametrize(("argv", "names", "expected"), WITHOUT)
def test_without_changes_nothing_else_for_real_curl(
    argv: list[str], names: list[str], expected: list[str], tmp_path: Path
) -> None:
    before = first_transfer(libcurl(argv[1:], tmp_path), WATCHED)
    after = first_transfer(libcurl(list(parse_command(argv).without(*names))[1:], tmp_path), WATCHED)
    dropped = {k for k, v in as_libcurl(parse_command(argv)).items() if v != as_libcurl(parse_command(expected)).get(k)}
    assert dropped  # the option did something, and now it does not
    assert {k: v for k, v in before.items() if k not in dropped} == after


def test_with_value_keeps_the_spelling() -> None:
    argv = ["curl", "-kE", "mine.pem", "--cert", "other.pem", "--key", "k.pem", "-Eattached.pem", NOWHERE]
    replaced = parse_command(argv).with_value("cert", "certs/client.crt")
    assert replaced == (
        "curl", "-kE", "certs/client.crt", "--cert", "certs/client.crt", "--key", "k.pem", "-Ecerts/client.crt", NOWHERE
    )  # fmt: skip


def test_names_are_checked() -> None:
    assert curlargs.canonical("-x") == curlargs.canonical("--proxy") == curlargs.canonical("proxy") == "proxy"
    with pytest.raises(ValueError, match="no option '--conect-to'"):
        parse_options([]).without("--conect-to")


def _kind_by_curl(name: str, home: Path) -> str:
    """How the real curl treats ``--NAME``: "arg" (wants a value), "bool" (takes --no-) or "none"."""
    if "requires parameter" in run_curl([f"--{name}"], home).stderr:
        return "arg"
    refused = run_curl([f"--no-{name}"], home).stderr
    return "none" if "isn't a boolean" in refused else "unknown" if "is unknown" in refused else "bool"


def test_every_option_is_the_kind_curl_says(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        kinds = dict(zip(OPTIONS, pool.map(lambda name: _kind_by_curl(name, tmp_path), OPTIONS), strict=True))
    assert {name: kind for name, kind in kinds.items() if kind != OPTIONS[name]} == {}


def test_the_table_has_every_option_curl_lists(tmp_path: Path) -> None:
    listed = set(re.findall(r"--([a-z0-9.-]+)", run_curl(["--help", "all"], tmp_path).stdout))
    known = set(OPTIONS) | {f"no-{n}" for n, kind in OPTIONS.items() if kind == "bool"}
    assert listed - known == set()


CORPUS = Path(__file__).parent / "data" / "transcripts"


def corpus_runs() -> list[Any]:
    """Every command of the transcript corpus with what really happened when curl 7.88.1 or 8.14.1 ran it."""
    manifest = tomllib.loads((CORPUS / "manifest.toml").read_text(encoding="utf-8"))
    runs = [(t, {**t, **run}) for t in manifest["transcript"] for run in t.get("runs", [t])]
    return [pytest.param(run, id=f"{t['file'][:3]}-{i}") for i, (t, run) in enumerate(runs)]


@pytest.mark.parametrize("run", corpus_runs())
def test_corpus_commands_read_as_curl_read_them(run: dict[str, Any]) -> None:
    """curl refused exactly the commands this reading refuses, with the same words; every other command is
    read with -v on (each is a curl -v paste) and, behind a proxy, the proxy curl really connected to."""
    argv = shlex.split(run["command"], comments=True)
    if run["exit"] == 2:
        with pytest.raises(CurlUsageError) as refused:
            parse_command(argv)
        assert str(refused.value) == run["error"]
        return
    options = parse_command(argv)
    assert options.verbose
    if options.proxy:
        proxy = urlsplit(options.proxy if "://" in options.proxy else f"http://{options.proxy}")
        if is_ip(proxy.hostname or ""):  # a proxy named by its IP: the server that really took the connection
            assert f"{proxy.hostname}:{proxy.port}" in {server["address"] for server in run["servers"]}


@pytest.mark.parametrize(
    ("words", "version", "message"),
    [
        (["--insec", "x"], "7.88.1", None),
        (["--insec", "x"], "8.6.0", "option --insec: is unknown"),
        (["--INSECURE", "x"], "7.88.1", None),
        (["--INSECURE", "x"], "8.14.1", "option --INSECURE: is unknown"),
        (["--no-resolve", "x"], "8.8.0", "option --no-resolve: used '--no-' for option that isn't a boolean"),
        (
            ["--no-resolve", "x"],
            "8.14.1",
            "option --no-resolve: the given option cannot be reversed with a --no- prefix",
        ),
    ],
)
def test_each_release_reads_long_options_its_own_way(words: list[str], version: str, message: str | None) -> None:
    dialect = curlargs.Dialect.of(version)
    if message is None:
        assert curlargs.parse_options(words, dialect=dialect).flag("insecure")
    else:
        with pytest.raises(curlargs.CurlUsageError) as caught:
            curlargs.parse_options(words, dialect=dialect)
        assert str(caught.value) == message


@pytest.mark.parametrize(
    ("version", "message"),
    [("7.88.1", "no URL specified!"), ("8.1.2", "(2) no URL specified!"), ("8.14.1", "(2) no URL specified")],
)
def test_a_missing_url_in_each_release(version: str, message: str) -> None:
    assert curlargs.Dialect.of(version).no_url == message

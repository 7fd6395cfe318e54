"""``lab serve``'s pure parts: tokens, options, the learners' environment, and in-place mode's terminal fence
(the last one for real, in a network namespace made for it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from lab.apps.serve import seats, server, web
from lab.errors import InPlaceRefused
from lab.runtime import inplace

LEARNERS = seats.make_learners(3)


def test_tokens_are_long_random_and_distinct() -> None:
    tokens = [learner.token for learner in LEARNERS]
    assert len(set(tokens)) == 3
    assert all(len(token) >= 43 for token in tokens)  # 32 random bytes, URL-safe base64
    assert "token" not in repr(LEARNERS[0])
    assert LEARNERS[0].token not in repr(LEARNERS[0])


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_token_finds_its_learner(index: int) -> None:
    assert seats.find(LEARNERS, LEARNERS[index].token) is LEARNERS[index]


def test_wrong_empty_or_partial_tokens_find_nobody() -> None:
    token = LEARNERS[1].token
    for wrong in ("", token[:-1], token + "x", token.upper(), "é" * 43, token[:-1] + "\x00"):
        assert seats.find(LEARNERS, wrong) is None, wrong


def test_the_token_is_read_from_the_query_once() -> None:
    assert seats.token_of(b"token=abc&cols=80") == "abc"
    assert seats.token_of(b"cols=80") == ""
    assert seats.token_of(b"token=abc&token=abc") == ""  # given twice: ambiguous, so none
    assert seats.token_of(b"token=a%2Bb") == "a+b"


def test_urls_bracket_ipv6_and_name_the_machine_for_a_wildcard_bind() -> None:
    learner = seats.Learner(1, "T")
    assert seats.url("127.0.0.1", 7681, learner) == "http://127.0.0.1:7681/?token=T"
    assert seats.url("::1", 7681, learner) == "http://[::1]:7681/?token=T"
    assert seats.public_host("0.0.0.0", "trainer-vm") == "trainer-vm"
    assert seats.public_host("10.0.0.5", "trainer-vm") == "10.0.0.5"


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        (seats.Options(scenario="s", learners=0), "--learners 0"),
        (seats.Options(scenario="s", learners=2, in_place=True), "one container or pod per learner"),
        (seats.Options(scenario="s", learners=2, max_labs=3), "--max-labs 3"),
        (seats.Options(scenario="s", idle_timeout=0), "--idle-timeout 0"),
        (seats.Options(scenario="s", bind="localhost"), "give an IP address"),
        (seats.Options(scenario="s", port=70000), "--port 70000"),
    ],
)
def test_options_that_cannot_work_are_refused_in_one_line(options: seats.Options, complaint: str) -> None:
    with pytest.raises(seats.ServeOptionError, match=complaint) as refused:
        seats.check(options)
    assert "\n" not in str(refused.value)
    assert refused.value.exit_code == 2


def test_the_learners_lab_gets_no_secret_of_the_trainers() -> None:
    environ = {
        "PATH": "/usr/bin",
        "AWS_SECRET_ACCESS_KEY": "x",
        "GITHUB_TOKEN": "y",
        "LAB_SERVE_TOKEN": "z" * 20,
        "LAB_CURL": "/opt/curl",
        "LAB_IN_PLACE": "1",
        "COLUMNS": "80",
    }
    env = server.lab_env(seats.Options(scenario="s"), 7681, environ)
    assert env["PATH"] == "/usr/bin"
    assert env["LAB_CURL"] == "/opt/curl"
    assert env["TERM"] == "xterm-256color"
    for secret in ("AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "LAB_SERVE_TOKEN", "COLUMNS"):
        assert secret not in env
    assert server.TERMINAL_ENV not in env
    in_place = server.lab_env(seats.Options(scenario="s", in_place=True, curl="curl8/curl"), 7681, environ)
    assert in_place[server.TERMINAL_ENV] == "7681"
    assert in_place["LAB_CURL"] == os.path.abspath("curl8/curl")


def test_a_token_from_a_secret_is_the_one_learners() -> None:
    given = {"LAB_SERVE_TOKEN": "a-token-from-a-kubernetes-secret"}
    (learner,) = server.learners_for(seats.Options(scenario="s"), given)
    assert learner.token == "a-token-from-a-kubernetes-secret"
    with pytest.raises(seats.ServeOptionError, match="--learners 1"):
        server.learners_for(seats.Options(scenario="s", learners=2), given)
    with pytest.raises(seats.ServeOptionError, match="16 characters"):
        server.learners_for(seats.Options(scenario="s"), {"LAB_SERVE_TOKEN": "short"})


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        (None, b"127.0.0.1:7681", True),  # not a browser: the token alone decides
        (b"http://127.0.0.1:7681", b"127.0.0.1:7681", True),
        (b"http://evil.example", b"127.0.0.1:7681", False),
        (b"http://127.0.0.1:7682", b"127.0.0.1:7681", False),
        (b"http://127.0.0.1:7681", None, False),
    ],
)
def test_only_the_servers_own_page_may_open_a_terminal(origin: bytes | None, host: bytes | None, same: bool) -> None:
    headers = [(name, value) for name, value in ((b"origin", origin), (b"host", host)) if value is not None]
    assert web._same_origin({"headers": headers}) is same


def test_terminal_sizes_from_the_query_default_when_absent_or_garbage() -> None:
    assert web._size({"cols": ["120"], "rows": ["40"]}) == (120, 40)
    assert web._size({"cols": ["-5"], "rows": ["x"]}) == (80, 24)


def test_missing_xterm_files_say_how_to_install_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(web.ASSETS, "xterm.js", (web.NODE_MODULES / "nowhere.js", "text/javascript"))
    with pytest.raises(web.AssetsMissing, match="make web"):
        web.check_assets()


# --- in-place mode: the terminal's port keeps the container's interfaces, nothing else does


def test_route_lines_become_the_words_that_move_them() -> None:
    assert inplace.route_words("default via 10.88.0.1 dev eth0 proto static metric 100 linkdown") == [
        "default", "via", "10.88.0.1", "dev", "eth0", "proto", "static", "metric", "100",
    ]  # fmt: skip
    assert inplace.route_words("2001:db8::/64 dev eth0 proto ra metric 100 expires 297sec pref medium") == [
        "2001:db8::/64", "dev", "eth0", "proto", "ra", "metric", "100", "pref", "medium",
    ]  # fmt: skip
    output = "default via 10.88.0.1 dev eth0\n10.88.0.0/16 dev eth0 scope link\n10.1.0.0/16 dev wg0\n"
    assert inplace.routes_of(output, ["eth0"]) == [
        ["10.88.0.0/16", "dev", "eth0", "scope", "link"],  # the gateway's own route first
        ["default", "via", "10.88.0.1", "dev", "eth0"],
    ]


@pytest.mark.parametrize("value", ["0", "65536", "http", "-1"])
def test_a_bad_terminal_port_is_refused(value: str) -> None:
    with pytest.raises(InPlaceRefused, match=inplace.TERMINAL):
        inplace.terminal_port({inplace.TERMINAL: value})
    assert inplace.terminal_port({}) is None
    assert inplace.terminal_port({inplace.TERMINAL: "7681"}) == 7681


FENCE_PROBE = """
import json, subprocess, sys
from lab.runtime import inplace
def ip(*args):
    return subprocess.run(["ip", *args], capture_output=True, text=True)
for args in (["link", "add", "eth0", "type", "veth", "peer", "name", "peer0"], ["link", "set", "eth0", "up"],
             ["link", "set", "peer0", "up"], ["addr", "add", "10.88.0.5/16", "dev", "eth0"],
             ["route", "add", "default", "via", "10.88.0.1", "dev", "eth0"]):
    assert ip(*args).returncode == 0, ip(*args).stderr
inplace.fence(["eth0"], 7681)
inplace.fence(["eth0"], 7681)  # a second lab in the same pod: nothing left to move, the same rule
print(json.dumps({
    "elsewhere": ip("route", "get", "203.0.113.1").returncode,
    "neighbour": ip("route", "get", "10.88.0.9").returncode,
    "terminal": ip("route", "get", "203.0.113.1", "ipproto", "tcp", "sport", "7681").returncode,
    "terminal udp": ip("route", "get", "203.0.113.1", "ipproto", "udp", "sport", "7681").returncode,
    "link": "UP" in ip("link", "show", "eth0").stdout,
    "rules": ip("rule", "show").stdout.count("sport 7681"),
}))
"""


def test_in_place_keeps_the_interfaces_for_the_terminal_port_only() -> None:
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to make a network namespace for the probe")
    probe = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", FENCE_PROBE], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0 and "unshare failed" in probe.stderr:
        pytest.skip(f"cannot make a network namespace here: {probe.stderr.strip()}")
    assert probe.returncode == 0, probe.stderr
    seen = json.loads(probe.stdout)
    assert seen == {"elsewhere": 2, "neighbour": 2, "terminal": 0, "terminal udp": 2, "link": True, "rules": 1}

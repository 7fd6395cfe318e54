"""The scenario loader: every catalog file loads, and broken files get one-line file:line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lab.errors import ScenarioError
from lab.model import scenario
from lab.model.hostsettings import ProxySettings
from lab.model.tomlines import LineIndex
from lab.paths import ROOT


def test_seed_topology_is_the_documented_world() -> None:
    seed = scenario.load("seed")
    addresses = {name: host.address for name, host in seed.hosts.items()}
    assert addresses == {
        "glb": "88.88.88.88:443",
        "old": "10.1.1.1:443",
        "reset": "198.0.8.245:443",
        "proxy": "10.9.9.9:3128",
        "socks": "10.9.9.9:1080",
    }
    assert seed.client.hosts == {"mydomain": "198.0.8.245"}
    assert (seed.client.address, seed.client.address6) == ("192.168.1.23", "fd00:1ab::23")
    assert seed.hosts["proxy"].settings == ProxySettings(dns=(("mydomain", "10.1.1.1"),))


@pytest.mark.parametrize("path", scenario.catalog(), ids=lambda p: p.stem)
def test_every_catalog_scenario_loads(path: Path) -> None:
    loaded = scenario.load(path)
    assert loaded.steps, f"{path} has no steps"
    assert loaded.title
    assert loaded.story


def test_scenario_overrides_topology_table_by_table(tmp_path: Path) -> None:
    file = tmp_path / "fix.toml"
    file.write_text('title = "t"\ntopology = "seed"\n[hosts.proxy.dns]\nmydomain = "88.88.88.88"\n')
    loaded = scenario.load(file)
    assert loaded.hosts["proxy"].settings == ProxySettings(dns=(("mydomain", "88.88.88.88"),))
    assert loaded.hosts["proxy"].address == "10.9.9.9:3128"  # the rest of the table is kept


BAD = [
    # (file text, expected line, expected message fragment)
    (
        'title = "x"\ntopology = "seed"\n\n[hosts.glb]\nkind = "glbb"\n',
        5,
        "unknown host kind 'glbb' (expected one of: glb, backend, reset, http-proxy, socks5, origin)",
    ),
    ('title = "x"\ntopology = "nope"\n', 2, "unknown topology 'nope' (expected one of: seed)"),
    (
        'title = "x"\n[hosts.a]\nkind = "reset"\naddress = "10.1.1:443"\n',
        4,
        "does not appear to be an IPv4 or IPv6",
    ),
    ('title = "x"\n[hosts.a]\nkind = "reset"\naddress = "10.1.1.1"\n', 4, "must be ip:port"),
    ('title = "x"\n[hosts.a]\nkind = "reset"\naddress = "10.1.1.1:70000"\n', 4, "port 70000 is out of range"),
    (
        'title = "x"\n[hosts.a]\nkind = "reset"\naddress = "10.1.1.1:443"\nmode = "rude"\n',
        5,
        "unknown reset mode 'rude' (expected one of: fin, rst, silent)",
    ),
    (
        'title = "x"\n[hosts.a]\nkind = "reset"\naddress = "10.1.1.1:443"\n'
        '[hosts.b]\nkind = "reset"\naddress = "10.1.1.1:443"\n',
        7,
        "already used by host 'a'",
    ),
    (
        'title = "x"\ntopology = "seed"\n[[steps]]\nrun = "curl -v https://mydomain"\n'
        '[[steps]]\nrun = "wget https://mydomain"\n',
        6,
        "only curl runs in the lab, not 'wget'",
    ),
    (
        'title = "x"\ntopology = "seed"\n[[steps]]\nrun = "curl -v https://mydomain"\n[steps.expect]\nexit = "35"\n',
        6,
        "'exit' must be curl's exit code (an integer), or a list of them, not '35'",
    ),
    (
        'title = "x"\ntopology = "seed"\n[[steps]]\nrun = "curl x"\n[steps.expect]\nexit = [\n  55,\n  "56",\n]\n',
        6,
        "'exit' must be curl's exit code (an integer), or a list of them, not [55, '56']",
    ),
    ('title = "x"\ntopology = "seed"\n[[steps]]\nrun = "curl x"\nexpect.exit = []\n', 5, "or a list of them, not []"),
    ('title = "x"\ntopology = "seed"\n[[steps]]\nrun = "curl x"\nexpect.exit = [55, 300]\n', 5, "(0-255), not 300"),
    (
        'title = "x"\ntopology = "seed"\n[[steps]]\nrun = "curl x"\nexpect.error = ["unexpected eof", 35]\n',
        5,
        "'error' must be a piece of curl's error line (a string), or a list of them, not ['unexpected eof', 35]",
    ),
    ('title = "x"\ntopology = "seed"\n[[steps]]\nrun = "curl x"\nexpect.error = ["a", ""]\n', 5, "must not be empty"),
    (
        'title = "x"\ntopology = "seed"\n[[steps]]\nrun = "curl x"\nexpect.reached = "gbl"\n',
        5,
        "unknown host 'gbl'",
    ),
    ('title = "x"\ntopology = "seed"\n[[steps]]\nrun = "curl x"\nexpct = 1\n', 5, "unknown key 'expct'"),
    ('title = "x"\ntopology = "seed"\n[[steps]]\nsay = "no command"\n', 3, "step has no 'run'"),
    (
        'title = "x"\n[client]\nhosts = { mydomain = "not-an-ip" }\n',
        3,
        "'mydomain' must map to an IP address",
    ),
    ('title = "x"\n[client]\ntrust = "system"\n', 3, "unknown trust store 'system'"),
    ('title = "x"\n[client]\naddress = "laptop"\n', 3, "'laptop' is not an IP address"),
    ('title = "x"\n[client]\naddress = 23\n', 3, "address must be an IP address or a list of them"),
    ('title = "x"\n[client]\naddress = "127.0.0.1"\n', 3, "client address 127.0.0.1 is loopback"),
    (
        'title = "x"\n\n[client]\naddress = ["192.168.1.5", "192.168.1.6"]\n',
        4,
        "the client already has an IPv4 address (192.168.1.5); one per family",
    ),
    (
        'title = "x"\ntopology = "seed"\n[client]\naddress = "10.9.9.9"\n',
        4,
        "10.9.9.9 is host 'proxy''s address: the client needs an address of its own",
    ),
    (
        'title = "x"\n[hosts.a]\nkind = "reset"\naddress = "192.168.1.23:443"\n',
        4,
        "192.168.1.23 is the client's own address: move host 'a', or give the client another one",
    ),
    (
        'title = "x"\ntopology = "seed"\n[hosts.old]\ncert.subject = { CNN = "x" }\n',
        4,
        "unknown subject field 'CNN'",
    ),
    (
        'title = "x"\ntopology = "seed"\n[[steps]]\nrun = "curl \'unclosed"\n',
        4,
        "cannot split the command line",
    ),
    ('title = "x"\nsteps = [\n', 2, "not valid TOML"),
    ('title = "x"\n\n[hosts.a]\nkind = \n', 4, "not valid TOML: Invalid value"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD, ids=[b[2][:40] for b in BAD])
def test_broken_files_name_file_line_and_what_is_expected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, line: int, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.toml").write_text(text)
    with pytest.raises(ScenarioError) as caught:
        scenario.load(tmp_path / "x.toml")
    assert str(caught.value).startswith(f"x.toml:{line}: ")
    assert message in str(caught.value)


def test_lab_check_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "x.toml"
    bad.write_text('title = "x"\ntopology = "seed"\n\n[hosts.glb]\nkind = "glbb"\n')
    done = subprocess.run(
        [sys.executable, "-m", "lab", "check", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "x.toml:5: unknown host kind 'glbb'" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_scenario_name_lists_the_known_ones() -> None:
    with pytest.raises(ScenarioError, match=r"no such scenario .*public-dns"):
        scenario.find("does-not-exist")


def test_line_index_understands_arrays_of_tables_and_dotted_keys() -> None:
    index = LineIndex(
        'a = 1\n[[steps]]\nrun = "x"\n[[steps]]\nrun = "y"\n[steps.expect]\nexit = 2\n[hosts.glb]\ncert.names = []\n'
    )
    assert index.line(("steps", 1, "run")) == 5
    assert index.line(("steps", 1, "expect", "exit")) == 7
    assert index.line(("hosts", "glb", "cert", "names")) == 9
    assert index.line(("hosts", "glb", "cert", "names", 0)) == 9

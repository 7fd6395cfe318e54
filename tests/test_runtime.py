"""The lab runtime with the real curl: namespace, hosts file, trust store, reset host, old service."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from lab.paths import ROOT
from lab.runtime.timeline import Timeline
from tests.conftest import LabFactory

pytestmark = pytest.mark.netns


async def test_public_dns_reaches_the_dead_address(lab: LabFactory) -> None:
    async with lab("seed") as runner:
        result = await runner.run(["curl", "-v", "https://mydomain"])
    assert result.exit_code == 35
    assert result.reached is None
    assert result.verbose.trying == ("198.0.8.245:443",)
    kinds = [(e.host, e.kind) for e in result.events]
    assert ("reset", "accepted") in kinds
    failed = next(e for e in result.events if e.kind == "tls-failed")
    assert failed.sni == "mydomain"
    assert kinds[-1] == ("reset", "closed")


@pytest.mark.parametrize("tls_max", ["1.2", "1.3"])
async def test_old_service_echoes_what_it_saw(lab: LabFactory, tls_max: str) -> None:
    async with lab("seed") as runner:
        result = await runner.run(
            ["curl", "-sS", "--tls-max", tls_max, "--resolve", "mydomain:443:10.1.1.1", "https://mydomain/x"]
        )
    assert result.exit_code == 0, result.stderr
    assert result.reached == "old"
    assert "served-by: old" in result.stdout
    assert "sni: mydomain" in result.stdout
    assert f"tls: TLSv{tls_max}" in result.stdout
    assert "request: GET /x HTTP/2" in result.stdout
    ok = next(e for e in result.events if e.kind == "tls-ok")
    assert ok.alpn == "h2"


async def test_http1_path_and_ip_literal_verifies_chain_but_not_name(lab: LabFactory) -> None:
    async with lab("seed") as runner:
        http1 = await runner.run(["curl", "-sS", "--http1.1", "--resolve", "mydomain:443:10.1.1.1", "https://mydomain"])
        by_ip = await runner.run(["curl", "-sS", "https://10.1.1.1"])
    assert http1.exit_code == 0
    assert "request: GET / HTTP/1.1" in http1.stdout
    # The trust store is the lab root: the chain verifies, only the name fails (exit 60), as in the seed.
    assert by_ip.exit_code == 60
    assert "10.1.1.1" in (by_ip.error or "")


async def test_host_environment_does_not_leak(lab: LabFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "http://10.9.9.9:3128")
    async with lab("seed") as runner:
        result = await runner.run(["curl", "-sS", "--resolve", "mydomain:443:10.1.1.1", "https://mydomain"])
    assert result.tunnel is None
    assert result.reached == "old"


def test_exec_json_contract() -> None:
    """`lab exec seed --json -- curl -sS https://mydomain` in a fresh process: exit 35, reached null."""
    done = subprocess.run(
        [sys.executable, "-m", "lab", "exec", "seed", "--json", "--", "curl", "-sS", "https://mydomain"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 35
    assert record["exit_code"] == 35
    assert record["reached"] is None
    assert record["tunnel"] is None
    assert record["error"].startswith("curl: (35)")
    assert {"host": "reset", "kind": "accepted"}.items() <= record["events"][0].items()


@pytest.mark.parametrize("version", ["--http1.1", "--http2"])
async def test_keep_alive_and_request_bodies(lab: LabFactory, version: str) -> None:
    async with lab("seed") as runner:
        result = await runner.run(
            [
                "curl",
                "-sS",
                version,
                "--resolve",
                "mydomain:443:10.1.1.1",
                "-d",
                "hello",
                "https://mydomain/a",
                "https://mydomain/b",
            ]
        )
    assert result.exit_code == 0, result.stderr
    requests = [e for e in result.events if e.kind == "request"]
    assert [e.target for e in requests] == ["/a", "/b"]
    assert len({e.conn for e in requests}) == 1  # one connection, two requests
    assert all(e.method == "POST" for e in requests)


def test_exceptions_nobody_caught_become_events_while_a_lab_is_open() -> None:
    from lab.runtime.faults import reported

    def fail() -> None:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    class Broken:
        def __del__(self) -> None:
            raise ValueError("in a finaliser")

    timeline = Timeline()
    before = threading.excepthook
    with reported(timeline):
        thread = threading.Thread(target=fail, name="lab-proxy-7")
        thread.start()
        thread.join()
        Broken()  # "Exception ignored in ...": reported through sys.unraisablehook
    assert threading.excepthook is before
    summaries = [e.summary for e in timeline.since(0) if e.kind == "error" and e.host == "lab"]
    assert summaries == [
        "lab-proxy-7 failed and was stopped: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
        "an error was ignored: in a finaliser",
    ]

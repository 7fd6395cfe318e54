"""Nothing from the machine running the lab reaches the curl it runs: no ~/.curlrc, no proxy or CA variables.

The planted-bug check for this file: make the runner pass the real HOME (or os.environ) to curl, and the
first test sees the proxy named in the fake ~/.curlrc answer instead of the load balancer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import LabFactory

pytestmark = pytest.mark.netns

PINNED = ["--resolve", "mydomain:443:88.88.88.88", "--cert", "certs/client.crt", "--key", "certs/client.key"]


def _hostile_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine whose user configured curl every way curl reads configuration."""
    curlrc = 'proxy = "http://10.9.9.9:3128"\nresolve = "mydomain:443:10.1.1.1"\n'
    for folder in ("home", "curl-home", "xdg"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / ".curlrc").write_text(curlrc)
    (tmp_path / "xdg" / "curlrc").write_text(curlrc)
    (tmp_path / "empty-ca.pem").write_text("")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CURL_HOME", str(tmp_path / "curl-home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://10.9.9.9:3128")
    for name in ("CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "empty-ca.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "keys.log"))


async def test_the_users_curl_configuration_never_reaches_the_lab(
    lab: LabFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hostile_machine(tmp_path, monkeypatch)
    async with lab("seed") as runner:
        result = await runner.run(["curl", "-sS", *PINNED, "https://mydomain"])
    assert (result.exit_code, result.reached, result.tunnel) == (0, "glb", None), result.stderr
    keys = tmp_path / "keys.log"  # the lab's own Python TLS contexts open it; only curl would write to it here
    assert not keys.exists() or all(line.startswith("#") for line in keys.read_text().splitlines())


async def test_a_step_can_still_set_its_own_environment(
    lab: LabFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hostile_machine(tmp_path, monkeypatch)
    async with lab("seed") as runner:
        result = await runner.run(
            ["env", "https_proxy=http://10.9.9.9:3128", "curl", "-sS", *PINNED, "https://mydomain"]
        )
    assert (result.reached, result.tunnel) == ("old", "mydomain:443"), result.stderr

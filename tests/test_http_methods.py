"""HEAD, POST with a body, ``Expect: 100-continue`` and a large response on every HTTP host, over HTTP/2 and
HTTP/1.1, with the real curl: the load balancer's own answers, the load balancer forwarding to a backend, a
backend, the old service, and the old service through the proxy's tunnel and proxy.py's own forwarding."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.model.events import RequestReceived
from lab.model.outcome import CurlResult
from lab.runtime.runner import Runner
from tests.conftest import LabFactory
from tests.worlds import BEHIND, seed_variant

pytestmark = pytest.mark.netns

CERT = ["--cert", "certs/client.crt", "--key", "certs/client.key"]
# route name -> (curl arguments, URL, the host that receives the request and answers it)
ROUTES = {
    "glb": (["--resolve", "mydomain:443:88.88.88.88", *CERT], "https://mydomain/own", "glb"),
    "glb-to-backend": (["--resolve", "mydomain:443:88.88.88.88", *CERT], "https://mydomain/api/x", "api"),
    "backend": (["--resolve", "mydomain:443:10.2.2.2"], "https://mydomain/x", "api"),
    "old": (["--resolve", "mydomain:443:10.1.1.1"], "https://mydomain/x", "old"),
    "proxy-tunnel": (["-x", "http://10.9.9.9:3128"], "https://mydomain/x", "old"),
    "proxy-forward": (["-x", "http://10.9.9.9:3128"], "http://plain/x", "plain"),
}
CASES = [
    pytest.param(route, version, id=f"{route}-{version.strip('-')}")
    for route in ROUTES
    for version in ("--http2", "--http1.1")
    if not (route == "proxy-forward" and version == "--http2")  # plain http:// through a proxy is HTTP/1.1
]
BIG = 3_000_000  # bytes: far over HTTP/2's initial 64 KiB flow-control window, both ways


def headers(result: CurlResult) -> dict[str, str]:
    """The final response's header fields (lower-case names) from ``curl -sS -I`` or ``-D -``."""
    blocks = [b for b in result.stdout.replace("\r\n", "\n").split("\n\n") if b.strip()]
    lines = blocks[-1].splitlines()[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


def requests_at(result: CurlResult, host: str) -> list[RequestReceived]:
    return [e for e in result.events if isinstance(e, RequestReceived) and e.host == host]


async def run(runner: Runner, route: str, version: str, *args: str, path: str = "") -> CurlResult:
    curl_args, url, _ = ROUTES[route]
    result = await runner.run(["curl", "-sS", version, *curl_args, *args, url + path])
    assert result.exit_code == 0, result.stderr
    return result


@pytest.mark.parametrize(("route", "version"), CASES)
async def test_head_announces_the_length_and_sends_no_body(
    lab: LabFactory, tmp_path: Path, route: str, version: str
) -> None:
    async with lab(seed_variant(tmp_path, BEHIND)) as runner:
        head = await run(runner, route, version, "-I", path=f"?bytes={BIG}")
        small = await run(runner, route, version, "-I")
        get = await run(runner, route, version)
    assert headers(head)["content-length"] == str(BIG)
    assert head.stdout.endswith("\r\n\r\n")  # the header block and nothing after it
    # The length of what the same host sends to a GET (whose echo says GET where HEAD's would say HEAD).
    assert int(headers(small)["content-length"]) == len(get.stdout.replace("request: GET", "request: HEAD"))
    assert [e.method for e in requests_at(head, ROUTES[route][2])] == ["HEAD"]


@pytest.mark.parametrize(("route", "version"), CASES)
async def test_post_bodies_with_and_without_expect_100_continue(
    lab: LabFactory, tmp_path: Path, route: str, version: str
) -> None:
    body = tmp_path / "body.bin"
    body.write_bytes(bytes(range(256)) * (BIG // 256))
    async with lab(seed_variant(tmp_path, BEHIND)) as runner:
        small = await run(runner, route, version, "-d", "hello=world")
        big = await run(runner, route, version, "--data-binary", f"@{body}")
        expecting = await run(
            runner, route, version, "-v", "--expect100-timeout", "5", "-H", "Expect: 100-continue", "-d", "x=1"
        )
    receiver = ROUTES[route][2]
    assert [(e.method, e.body_size) for e in requests_at(small, receiver)] == [("POST", 11)]
    if receiver != "glb":  # a backend also says so in its answer
        assert "body: 11 bytes" in small.stdout
    assert [e.body_size for e in requests_at(big, receiver)] == [body.stat().st_size]
    assert [e.body_size for e in requests_at(expecting, receiver)] == [3]
    assert "Done waiting for 100-continue" not in expecting.stderr  # the host said "go on", curl did not time out
    go_on = "< HTTP/1.1 100 Continue" if version == "--http1.1" else "< HTTP/2 100"  # HTTP/2 has no reason phrase
    assert go_on in expecting.stderr


@pytest.mark.parametrize(("route", "version"), CASES)
async def test_large_responses_arrive_whole(lab: LabFactory, tmp_path: Path, route: str, version: str) -> None:
    async with lab(seed_variant(tmp_path, BEHIND)) as runner:
        result = await run(runner, route, version, "-o", "/dev/null", "-w", "%{size_download}", path=f"?bytes={BIG}")
    assert result.stdout == str(BIG)

"""``lab serve`` end to end: a real browser types the real curl into a learner's lab; tokens, caps, the idle
timeout, a second tab, and the server's death are checked over the same WebSocket the page uses."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pytest
import trio

from tests.browser import CHROMIUM, SKIP_REASON, Tab, chromium
from tests.serving import Server, handshake_status, http_status, prompt, serving, terminal

pytestmark = pytest.mark.netns
PROMPT = prompt("proxy-resolve")

# The terminal's screen as text (wrapped lines joined), once `pattern` occurs `count` times on it.
SCREEN_WHEN = """new Promise((resolve) => {
  const pattern = new RegExp(%s, "gm"), count = %d;
  const screen = () => {
    const buffer = labTerminal.buffer.active, lines = [];
    for (let i = 0; i < buffer.length; i++) {
      const line = buffer.getLine(i), text = line.translateToString(true);
      if (line.isWrapped && lines.length) lines[lines.length - 1] += text; else lines.push(text);
    }
    return lines.join("\\n");
  };
  let watch = null;
  const check = () => {
    const text = screen();
    if ((text.match(pattern) || []).length < count) return false;
    if (watch) watch.dispose();
    resolve(text);
    return true;
  };
  if (!check()) watch = labTerminal.onWriteParsed(check);
})"""
PROMPTS = r"^\(lab:proxy-resolve\) \S*[#$] "  # every prompt on the screen, answered or not


async def screen_when(tab: Tab, pattern: str, count: int = 1, within: float = 30) -> str:
    with trio.move_on_after(within):
        text: str = await tab.evaluate(SCREEN_WHEN % (json.dumps(pattern), count))
        return text
    screen = await tab.evaluate(SCREEN_WHEN % (json.dumps(""), 0))
    raise AssertionError(f"{pattern!r} not {count} times on the screen in {within} s:\n{screen}")


async def page_loaded(tab: Tab) -> None:
    """The page's terminal exists (retried while the navigation replaces the blank page)."""
    with trio.fail_after(30):
        while True:
            try:
                if await tab.evaluate("new Promise(r => { const t = () => window.labTerminal ? r(true) : "
                                      "setTimeout(t, 20); t(); })"):  # fmt: skip
                    return
            except AssertionError as exc:  # "Execution context was destroyed": the new page is coming
                if "context" not in str(exc).lower():
                    raise


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").iterdir():
            children = (task / "children").read_text().split()
            found += [int(c) for c in children]
            todo += [int(c) for c in children]
    return found


async def gone(pids: list[int], within: float = 20) -> None:
    """Wait until every process in ``pids`` has ended (pidfds: no polling)."""
    with trio.fail_after(within):
        for pid in pids:
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                continue
            try:
                await trio.lowlevel.wait_readable(fd)
            finally:
                os.close(fd)


@pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)
async def test_a_browser_runs_the_real_curl_in_its_own_lab(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"  # every lab's temporary files: empty again once lab serve has stopped
    temp.mkdir()
    async with (
        serving(temp, "--learners", "2", "--scenario", "proxy-resolve", "--idle-timeout", "60") as server,
        chromium(tmp_path / "profile") as browser,
    ):
        tab = await browser.open(server.urls[0])
        await page_loaded(tab)
        await screen_when(tab, PROMPTS)
        await tab.type("curl -v https://mydomain\n")
        screen = await screen_when(tab, PROMPTS, 2)  # the next prompt: curl ran, the lab explained it
        assert re.search(r"^\*\s+Trying 198\.0\.8\.245:443", screen, re.MULTILINE)
        assert re.search(r"^curl: \(35\) OpenSSL SSL_connect: SSL_ERROR_SYSCALL", screen, re.MULTILINE)
        assert "Client DNS decided" in screen
        assert "◀ decisive" in screen

        # A smaller window: the terminal's new size reaches the learner's shell.
        await tab.evaluate("void (window.resized = new Promise(r => { const w = labTerminal.onResize("
                           "s => { w.dispose(); r([s.cols, s.rows]); }); }))")  # fmt: skip
        await tab.resize(640, 360)
        columns, rows = await tab.evaluate("resized")
        await tab.type("stty size\n")
        await screen_when(tab, rf"^{rows} {columns}$")
        await screen_when(tab, PROMPTS, 3)

        # Learner 1 changes their hosts file; learner 2's lab does not see it.
        await tab.type("echo '203.0.113.9 only-in-lab-one' >> /etc/hosts\n")
        await screen_when(tab, PROMPTS, 4)
        async with terminal(server.terminal_url(2)) as other:
            await other.expect(PROMPT)
            await other.type("grep -c only-in-lab-one /etc/hosts")
            assert re.search(r"^0$", await other.expect(PROMPT), re.MULTILINE)
        assert "only-in-lab-one" not in await trio.Path("/etc/hosts").read_text()

        # Closing the tab and coming back within the idle timeout: the same screen, the same shell.
        await tab.close()
        tab = await browser.open(server.urls[0])
        await page_loaded(tab)
        await screen_when(tab, r"^curl: \(35\)")
        columns, rows = await tab.evaluate("[labTerminal.cols, labTerminal.rows]")
        await tab.type("stty size; grep -c only-in-lab-one /etc/hosts\n")  # the shell took the new tab's size
        await screen_when(tab, rf"^{rows} {columns}$")
        await screen_when(tab, r"^1$")
        assert len([line for line in server.log if "lab started" in line]) == 2

        labs = descendants(server.process.pid)
        server.process.send_signal(signal.SIGTERM)
        with trio.fail_after(20):
            assert await server.process.wait() == 0
        await gone(labs)
    assert "every learner's lab is gone" in server.log[-1]
    assert list(temp.iterdir()) == []


async def test_tokens_the_lab_cap_a_second_tab_the_idle_timeout_and_the_server_dying(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    args = ("--learners", "2", "--scenario", "proxy-resolve", "--max-labs", "1", "--idle-timeout", "2")
    async with serving(temp, *args) as server:
        page, token = server.urls[0].split("?token=")
        wrong = token[:-1] + ("B" if token.endswith("A") else "A")
        for status_of in (page, f"{page}?token=", f"{page}?token={wrong}", f"{page}?token={token}&token={token}"):
            assert await trio.to_thread.run_sync(http_status, status_of) == 403
        assert await trio.to_thread.run_sync(http_status, server.urls[0]) == 200
        assert await handshake_status(server.terminal_url(1).replace(token, wrong)) == 403
        assert await handshake_status(server.terminal_url(1).replace(f"token={token}", "")) == 403
        assert await handshake_status(server.terminal_url(1), "http://elsewhere.example") == 403
        assert not [line for line in server.log if "lab started" in line]  # no refused visit started a lab

        await _cap_and_second_tab(server)
        await server.logged(r"learner 1: lab ended \(no browser for 2 s")

        async with terminal(server.terminal_url(2)) as second:  # the cap is free again
            await second.expect(PROMPT)
            labs = descendants(server.process.pid)
            server.process.kill()  # no chance to clean up: the labs must end by themselves
            await gone(labs)
    assert list(temp.iterdir()) == []


async def _cap_and_second_tab(server: Server) -> None:
    async with terminal(server.terminal_url(1)) as first:
        await first.expect(PROMPT)
        async with terminal(server.terminal_url(2)) as second:
            await second.expect(r"all 1 labs on this machine are in use")
            assert await second.closed() == 1013  # try again later
        async with terminal(server.terminal_url(1)) as again:
            await again.expect(PROMPT)  # the screen so far
            await first.expect(r"opened in another tab")
            assert await first.closed() == 1000
            await again.type("echo $((6 * 7))")
            await again.expect(r"^42$")

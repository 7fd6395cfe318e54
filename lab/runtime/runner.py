"""Run one real curl command inside the lab's world and collect what happened, on both sides.

``curl`` in a command is the lab's chosen curl (:mod:`lab.runtime.curlbin`); a step may name another
binary by path. The command runs with a clean environment (the machine's own ``https_proxy`` and
``~/.curlrc`` must not leak in), from the project root so ``certs/client.crt`` works, and with a time
limit. After curl exits, the runner waits (briefly) for the hosts to close their side, so the events of a
step are complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field

import trio

from lab.model.command import split_command
from lab.model.outcome import CurlBuild, CurlResult
from lab.paths import ROOT
from lab.protocols import curlv
from lab.runtime import curlbin, netns
from lab.runtime.curlbin import BASE_PATH
from lab.runtime.world import World

DEFAULT_TIMEOUT = 20.0


@dataclass(slots=True)
class Runner:
    world: World
    curl: CurlBuild
    timeout: float = DEFAULT_TIMEOUT
    home: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="lab-home-", dir=netns.scratch()))

    def environment(self, extra: dict[str, str]) -> dict[str, str]:
        return {"PATH": BASE_PATH, "HOME": self.home, "LANG": "C.UTF-8", "TERM": "dumb", **extra}

    def shell_environment(self, extra: dict[str, str]) -> dict[str, str]:
        """For ``lab up``'s shell: the chosen curl is the ``curl`` first on PATH (a symlink in the lab's home)."""
        bin_dir = os.path.join(self.home, "bin")
        os.makedirs(bin_dir, exist_ok=True)
        link = os.path.join(bin_dir, "curl")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(link)
        os.symlink(self.curl.path, link)
        return self.environment({"PATH": f"{bin_dir}:{BASE_PATH}", **extra})

    async def _build(self, program: str, chosen: CurlBuild | None) -> CurlBuild:
        if program == "curl":
            return chosen or self.curl
        return await trio.to_thread.run_sync(curlbin.probe, curlbin.locate(program, "the command", BASE_PATH))

    async def run(self, argv: tuple[str, ...] | list[str], *, curl: CurlBuild | None = None) -> CurlResult:
        """Run one command; ``curl`` overrides the lab's chosen curl for this run (``lab compare``)."""
        env, args = split_command(argv)
        build = await self._build(args[0], curl)
        timeline = self.world.timeline
        start_index = timeline.mark()  # this step's events stay until they are read
        try:
            return await self._run(args, env, build, start_index)
        finally:
            timeline.release(start_index)

    async def _run(self, args: list[str], env: dict[str, str], build: CurlBuild, start_index: int) -> CurlResult:
        timeline = self.world.timeline
        started = time.monotonic()
        timed_out = False
        with trio.move_on_after(self.timeout) as scope:
            done = await trio.run_process(
                [build.path, *args[1:]],
                env=self.environment(env),
                cwd=str(ROOT),
                capture_stdout=True,
                capture_stderr=True,
                check=False,
                stdin=b"",
            )
        if scope.cancelled_caught:
            timed_out = True
            exit_code, stdout, stderr = (
                28,
                b"",
                f"curl: (28) the lab stopped curl after {self.timeout:g} s\n".encode(),
            )
        else:
            exit_code, stdout, stderr = done.returncode, done.stdout, done.stderr
        duration = time.monotonic() - started
        await trio.to_thread.run_sync(timeline.wait_idle, 2.0)
        text = stderr.decode("utf-8", "replace")
        return CurlResult(
            argv=tuple(args),
            env=env,
            exit_code=exit_code,
            stdout=stdout.decode("utf-8", "replace"),
            stderr=text,
            verbose=curlv.parse(text),
            events=tuple(timeline.since(start_index)),
            duration=duration,
            timed_out=timed_out,
            curl=build,
        )

    def cleanup(self) -> None:
        """The throwaway HOME is the lab's: nothing in it outlives the lab (not even what curl wrote there)."""
        shutil.rmtree(self.home, ignore_errors=True)

"""The three ways to use a running lab: replay a scenario's steps, run one command, or open a shell."""

from __future__ import annotations

import json
import signal
import sys

import trio

from . import glblog
from .events import Event, Timeline
from .narrate import event_line, render_step
from .runner import compare
from .scenario import ROOT, Scenario
from .session import cancel_on_terminate, open_lab


async def replay(loaded: list[Scenario], as_json: bool) -> int:
    failures = 0
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            await nursery.start(cancel_on_terminate, scope)
            for scenario in loaded:
                if not as_json:
                    print(f"\n━━ {scenario.name}: {scenario.title}\n")
                    if scenario.story:
                        print(scenario.story + "\n")
                async with open_lab(scenario) as runner:
                    for step in scenario.steps:
                        result = await runner.run(step.argv)
                        problems = compare(step.expect, result)
                        failures += bool(problems)
                        if as_json:
                            record = {
                                "scenario": scenario.name,
                                "step": step.number,
                                "command": step.run,
                                **result.to_json(),
                                "ok": not problems,
                                "problems": [str(p) for p in problems],
                            }
                            print(json.dumps(record), flush=True)
                        else:
                            print(render_step(scenario, step, result, problems), flush=True)
                    if any(h.kind == "glb" for h in scenario.hosts.values()):  # for `lab logs NAME`
                        glblog.save(scenario.name, runner.world.timeline.since(0))
            nursery.cancel_scope.cancel()
    if scope.cancelled_caught:
        print("lab: terminated; the lab's hosts and namespace are gone", file=sys.stderr)
        return 143
    if not as_json:
        total = sum(len(s.steps) for s in loaded)
        print(f"{total - failures}/{total} steps behaved as expected")
    return 1 if failures else 0


async def exec_one(scenario: Scenario, cmd: list[str], as_json: bool) -> int:
    async with open_lab(scenario) as runner:
        result = await runner.run(cmd)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if as_json:
        if result.stdout and not result.stdout.endswith("\n"):
            sys.stdout.write("\n")
        print(json.dumps(result.to_json()), flush=True)
    return result.exit_code


async def _hang_up(process: trio.Process) -> None:
    """An interactive bash ignores SIGTERM; SIGHUP is what ends it when its terminal goes away."""
    process.send_signal(signal.SIGHUP)
    with trio.move_on_after(2):
        await process.wait()
    process.kill()


async def shell(scenario: Scenario) -> int:
    """``lab up``: the world keeps serving while the learner types curl commands in a shell inside it."""
    timeline = Timeline()
    first: list[float] = []

    def show(event: Event) -> None:
        if event.kind != "listening":
            if not first:
                first.append(event.t)
            print(event_line(event, first[0]), file=sys.stderr, flush=True)

    timeline.subscribe(show)
    returncode = 0
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            await nursery.start(cancel_on_terminate, scope)
            async with open_lab(scenario, timeline=timeline) as runner:
                hosts = ", ".join(f"{h.name} {h.address}" for h in scenario.hosts.values())
                print(
                    f"lab: {scenario.name} is up ({hosts}).\nlab: type curl commands; events print as they "
                    "happen; exit (or Ctrl-D) ends the lab.",
                    file=sys.stderr,
                    flush=True,
                )
                env = runner.environment({"PS1": f"(lab:{scenario.name}) \\w\\$ "})
                done = await trio.run_process(
                    ["bash", "--norc", "--noprofile", "-i"],
                    env=env,
                    cwd=str(ROOT),
                    check=False,
                    stdin=None,
                    deliver_cancel=_hang_up,
                )
                returncode = done.returncode
            nursery.cancel_scope.cancel()
    if scope.cancelled_caught:
        print("lab: terminated; the lab's hosts and namespace are gone", file=sys.stderr)
        return 143
    return returncode

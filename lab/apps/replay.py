"""The three ways to use a running lab: replay a scenario's steps, run one command, or open a shell."""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
from pathlib import Path

import trio
from rich.console import Console

from lab.apps import logs
from lab.explain.narrate import explain_command, heading, render
from lab.explain.verdict import explain_result
from lab.model.outcome import CurlBuild
from lab.model.scenario import Scenario
from lab.paths import ROOT
from lab.runtime import netns
from lab.runtime.timeline import Timeline
from lab.session import cancel_on_terminate, open_lab


def _console(stderr: bool = False) -> Console:
    """Colour on a terminal; plain text (no escape codes, $COLUMNS or 120 columns) into a pipe or a file."""
    if (sys.stderr if stderr else sys.stdout).isatty():
        return Console(highlight=False, stderr=stderr)
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) >= 40 else 120
    return Console(highlight=False, width=width, stderr=stderr)


async def replay(
    loaded: list[Scenario], as_json: bool, quiz: bool = False, report: str | None = None, curl: CurlBuild | None = None
) -> int:
    from lab.apps.workshop import Quiz
    from lab.explain import report as reports

    failures = 0
    console = _console()
    asker = Quiz(console) if quiz else None
    records: list[reports.StepRecord] = []
    if curl is not None and not as_json:
        console.print(f"replaying with {curl}", style="dim", markup=False)
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            await nursery.start(cancel_on_terminate, scope)
            for scenario in loaded:
                if not as_json:
                    console.print(heading(scenario))
                async with open_lab(scenario, curl=curl) as runner:
                    everything = runner.world.timeline.mark(0)  # for `lab logs NAME`, saved at the end
                    for step in scenario.steps:
                        guess = await asker.ask(scenario, step) if asker else None
                        result = await runner.run(step.argv)
                        explained = reports.StepRecord.of(scenario, step, result)
                        plan, verdict, problems = explained.plan, explained.verdict, explained.problems
                        failures += bool(problems)
                        if report:
                            records.append(explained)
                        if as_json:
                            record = {
                                "scenario": scenario.name,
                                "step": step.number,
                                "command": step.run,
                                **result.to_json(),
                                "ok": not problems,
                                "problems": [str(p) for p in problems],
                                "explain": verdict.to_json(),
                            }
                            print(json.dumps(record), flush=True)
                        else:
                            console.print(render(scenario, step, result, plan, verdict, problems))
                            if asker and guess:
                                console.print(asker.grade(guess, result), style="bold magenta", markup=False)
                            sys.stdout.flush()
                    if any(h.kind == "glb" for h in scenario.hosts.values()):  # for `lab logs NAME`
                        logs.save(scenario.name, runner.world.timeline.since(everything))
            nursery.cancel_scope.cancel()
    if scope.cancelled_caught:
        print("lab: terminated; the lab's hosts and namespace are gone", file=sys.stderr)
        return 143
    if report:
        written = reports.write(report, records)
        print(f"lab: report written to {written}", file=sys.stderr)
    if not as_json:
        total = sum(len(s.steps) for s in loaded)
        print(f"{total - failures}/{total} steps behaved as expected")
        if asker:
            print(asker.summary())
    return 1 if failures else 0


async def exec_one(
    scenario: Scenario, cmd: list[str], as_json: bool, curl: CurlBuild | None = None, explain: bool = False
) -> int:
    """curl's own output and exit code, as if run at the customer; ``explain`` adds what ``lab up`` says after it
    (on stderr, so stdout stays curl's)."""
    async with open_lab(scenario, curl=curl) as runner:
        result = await runner.run(cmd)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if explain:
        sys.stdout.flush()
        _console(stderr=True).print(explain_command(scenario, result))
    if as_json:
        if result.stdout and not result.stdout.endswith("\n"):
            sys.stdout.write("\n")
        _, verdict = explain_result(scenario, result)  # the same explanation `lab run --json` carries
        print(json.dumps({**result.to_json(), "explain": verdict.to_json()}), flush=True)
    return result.exit_code


async def _hang_up(process: trio.Process) -> None:
    """An interactive bash ignores SIGTERM; SIGHUP is what ends it when its terminal goes away."""
    process.send_signal(signal.SIGHUP)
    with trio.move_on_after(2):
        await process.wait()
    process.kill()


async def shell(scenario: Scenario, curl: CurlBuild | None = None) -> int:
    """``lab up``: the world keeps serving while the learner types curl commands in a shell inside it.

    Leaving the shell (``exit``, Ctrl-D) ends the lab with 0 whatever the last command returned: a failing
    curl is part of the lesson, not an error of the lab. The shell's home, history and the curl function's
    files live in one temporary directory that is removed when the lab ends. The chosen curl is the first
    ``curl`` on the shell's PATH.
    """
    from lab.apps.workshop import RCFILE, EventPrinter, serve_explanations

    timeline = Timeline()
    printer = EventPrinter()
    timeline.subscribe(printer.show)
    with trio.CancelScope() as scope, tempfile.TemporaryDirectory(prefix="lab-shell-", dir=netns.scratch()) as home:
        async with trio.open_nursery() as nursery:
            await nursery.start(cancel_on_terminate, scope)
            async with open_lab(scenario, timeline=timeline, curl=curl) as runner:
                hosts = ", ".join(f"{h.name} {h.address}" for h in scenario.hosts.values())
                print(
                    f"lab: {scenario.name} is up ({hosts}).\nlab: curl here is {runner.curl}.\n"
                    "lab: type curl commands; events print as they "
                    "happen, and after each curl the lab explains it; exit (or Ctrl-D) ends the lab.",
                    file=sys.stderr,
                    flush=True,
                )
                port = await nursery.start(serve_explanations, scenario, timeline, _console(), printer)
                rcfile = Path(home) / ".lab-bashrc"  # the curl function that asks the lab to explain
                rcfile.write_text(RCFILE)
                prompt = f"(lab:{scenario.name}) \\w\\$ "
                extra = {"PS1": prompt, "LAB_PS1": prompt, "LAB_EXPLAIN_PORT": str(port), "LAB_TMP": home}
                extra["TERM"] = os.environ.get("TERM", "dumb")  # the learner's terminal: line editing that wraps
                history = str(Path(home) / ".bash_history")  # in the lab's tmpfs: gone with the lab
                env = runner.shell_environment({**extra, "HOME": home, "TMPDIR": home, "HISTFILE": history})
                await trio.run_process(
                    ["bash", "--noprofile", "--rcfile", str(rcfile), "-i"],
                    env=env,
                    cwd=str(ROOT),
                    check=False,
                    stdin=None,
                    deliver_cancel=_hang_up,
                )
            nursery.cancel_scope.cancel()
    if scope.cancelled_caught:
        print("lab: terminated; the lab's hosts and namespace are gone", file=sys.stderr)
        return 143
    return 0

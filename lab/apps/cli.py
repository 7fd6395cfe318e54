"""``lab``: replay routing scenarios with the real curl, inside an isolated copy of the customer's network.

Every subcommand that starts hosts first moves the process into its own network + mount namespace
(:mod:`lab.runtime.netns`), before trio starts threads. Commands that start no hosts (``list``, ``check``,
``new``, ``import --no-check``, ``logs``) import neither trio nor a TLS stack; ``import`` replays its draft
once, in the lab's namespace. Errors a user can fix are one line and a
non-zero exit.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from lab.apps import cliargs
from lab.errors import LabError
from lab.model import scenario as scenarios
from lab.model import topology
from lab.paths import ROOT
from lab.runtime import curlbin


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lab",
        description="Replay curl routing scenarios (DNS, --resolve, --connect-to, proxies, mTLS) with the "
        "real curl against hosts on their real addresses, and explain where each request went and why.",
        epilog=cliargs.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Ctrl-C must stop the lab even when started from a shell that ignores SIGINT for background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in argv:  # everything after -- is the command, even words that look like lab options
        split = argv.index("--")
        argv, command = argv[:split], argv[split + 1 :]
    args = parser.parse_args(argv)
    if command:
        args.cmd = command
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _dispatch(parser, args)
    except BaseException as exc:  # trio wraps errors from tasks in exception groups: look inside
        leaf = _leaf(exc)
        if isinstance(leaf, LabError):
            print(f"lab: {leaf}", file=sys.stderr)
            return leaf.exit_code
        if isinstance(leaf, BrokenPipeError | SystemExit):  # `lab run NAME | head`: the reader had enough
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (rich exits on a broken pipe)
            broken = isinstance(leaf, BrokenPipeError) or isinstance(leaf.__context__, BrokenPipeError)
            return 141 if broken else leaf.code if isinstance(leaf, SystemExit) and isinstance(leaf.code, int) else 1
        if isinstance(leaf, KeyboardInterrupt):
            print("lab: interrupted; the lab's hosts and namespace are gone", file=sys.stderr)
            return 130
        raise


def _leaf(exc: BaseException) -> BaseException:
    """The one error inside (nested) exception groups, or the group itself if it holds several kinds."""
    while isinstance(exc, BaseExceptionGroup):
        kinds = {type(e) for e in exc.exceptions}
        if len(kinds) != 1:
            return exc
        exc = exc.exceptions[0]
    return exc


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    _, run = COMMANDS[args.command]
    return run(parser, args)


def _list(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    for path in scenarios.catalog():
        loaded = scenarios.load(path)
        print(f"{loaded.name:<26} {loaded.title}")
    return 0


def _check_files(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    failed = 0
    for name in args.files:
        try:
            print(_check(name))
        except LabError as exc:
            print(str(exc), file=sys.stderr)
            failed = exc.exit_code
    return failed


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``lab run`` and ``lab compare``: the same scenarios, replayed with one curl or compared with two."""
    if args.all == bool(args.name):
        parser.error("give a scenario NAME or --all (not both)")
    paths = scenarios.catalog() if args.all else [scenarios.find(args.name)]
    loaded_all = [scenarios.load(p) for p in paths]
    for path, loaded in zip(paths, loaded_all, strict=True):
        topology.require_steps(path, loaded)
    specs = args.curl or []
    if args.command == "compare" or len(specs) > 1:
        if not 1 <= len(specs) <= 2 or (args.command == "run" and args.quiz):
            parser.error("compare two curls: --curl A --curl B (once: the default curl and A); no --quiz")
        from lab.apps.compare import compare_curls

        pair = (curlbin.choose(specs[0] if len(specs) == 2 else None), curlbin.choose(specs[-1]))
        return _in_lab(compare_curls, loaded_all, pair, args.json, args.report)
    if args.quiz and args.json:
        parser.error("--quiz asks questions in text; it cannot be combined with --json")
    from lab.apps.replay import replay

    return _in_lab(replay, loaded_all, args.json, args.quiz, args.report, curlbin.choose(*specs))


def _exec(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    cmd = list(args.cmd)
    from lab.model.command import split_command

    split_command(cmd)
    loaded = scenarios.load(args.name)
    from lab.apps.replay import exec_one

    return _in_lab(exec_one, loaded, cmd, args.json, curlbin.choose(args.curl), args.explain)


def _logs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from lab.apps.logs import show

    return show(args.name, args.filter, fmt="json" if args.json else args.format, order=args.order, limit=args.limit)


def _up(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    loaded = scenarios.load(args.name)
    from lab.apps.replay import shell

    return _in_lab(shell, loaded, curlbin.choose(args.curl))


def _serve(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from lab.apps.serve.seats import Options
    from lab.apps.serve.server import run as serve
    from lab.runtime.inplace import requested

    scenario = args.scenario or os.environ.get("LAB_SCENARIO", "")
    if not scenario:
        parser.error("serve: give the scenario every learner gets: --scenario NAME (or set LAB_SCENARIO)")
    options = Options(
        scenario=scenario,
        learners=args.learners,
        bind=args.bind,
        port=args.port,
        max_labs=args.max_labs,
        idle_timeout=args.idle_timeout,
        in_place=requested(os.environ),
        curl=args.curl,
    )
    return serve(options)


def _new(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from lab.apps.scaffold import create

    path = create(args.name)
    shown = path.relative_to(ROOT)
    print(f"wrote {shown} and its row in scenarios/README.md; next: lab check {shown} && lab run {args.name}")
    return 0


def _import(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from lab.apps.importer import write_draft

    return write_draft(args.transcript, args.output, check=args.check)


Run = Callable[[argparse.ArgumentParser, argparse.Namespace], int]
# Each command: how its options are declared, and what it does. The order is the order of `lab --help`.
COMMANDS: dict[str, tuple[Callable[[Any], None], Run]] = {
    "list": (cliargs.add_list, _list),
    "check": (cliargs.add_check, _check_files),
    "run": (cliargs.add_run, _run),
    "compare": (cliargs.add_compare, _run),
    "exec": (cliargs.add_exec, _exec),
    "logs": (cliargs.add_logs, _logs),
    "up": (cliargs.add_up, _up),
    "serve": (cliargs.add_serve, _serve),
    "new": (cliargs.add_new, _new),
    "import": (cliargs.add_import, _import),
}


def _check(name: str) -> str:
    """``lab check``'s line for one file: ok with what it holds, or a ScenarioError listing every problem."""
    path = scenarios.find(name)
    loaded = scenarios.load(path)
    if topology.is_topology(path):
        users = ", ".join(topology.users_of(loaded.name)) or "none yet"
        return f"{loaded.path}: ok, a topology ({len(loaded.hosts)} hosts) used by: {users}"
    topology.require_steps(path, loaded)
    return f"{loaded.path}: ok ({len(loaded.hosts)} hosts, {len(loaded.steps)} steps)"


def _in_lab(main: Callable[..., Awaitable[int]], *args: Any) -> int:
    """Enter the lab's namespace (while the process is still single-threaded), then run ``main`` on trio."""
    from lab.runtime import netns

    netns.enter()
    os.chdir(Path(ROOT))
    import trio

    result: int = trio.run(main, *args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())

"""``lab serve``: start the web server, print one URL per learner, end every learner's lab on the way out."""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path

import trio

from lab.apps.serve import seats
from lab.apps.serve.web import Hub, TerminalApp, check_assets

TOKEN_ENV = "LAB_SERVE_TOKEN"  # learner 1's token, e.g. from a Kubernetes Secret (else a random one)
TERMINAL_ENV = "LAB_IN_PLACE_TERMINAL"  # read by lab.runtime.inplace: keep this TCP port's way out
# What a learner's lab inherits from the trainer's environment: enough to run, nothing the trainer keeps
# there (credentials, tokens) - the learner's shell can print its whole environment.
PASSED = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "container", "KUBERNETES_SERVICE_HOST")


def lab_env(options: seats.Options, port: int, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment of every learner's ``lab up``."""
    env = {k: v for k, v in environ.items() if k in PASSED or (k.startswith("LAB_") and k != TOKEN_ENV)}
    env.update(TERM="xterm-256color", COLORTERM="truecolor")
    env.setdefault("LANG", "C.UTF-8")
    if options.curl:
        env["LAB_CURL"] = os.path.abspath(options.curl) if os.sep in options.curl else options.curl
    if options.in_place:
        env[TERMINAL_ENV] = str(port)
    return env


def learners_for(options: seats.Options, environ: Mapping[str, str] = os.environ) -> tuple[seats.Learner, ...]:
    given = environ.get(TOKEN_ENV, "").strip()
    if not given:
        return seats.make_learners(options.learners)
    if options.learners != 1 or len(given) < 16:
        raise seats.ServeOptionError(
            f"{TOKEN_ENV} sets the one learner's token: use it with --learners 1, and at least 16 characters "
            "(e.g. from: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return (seats.Learner(1, given),)


async def serve(options: seats.Options, learners: tuple[seats.Learner, ...]) -> int:
    """Serve until Ctrl-C, SIGTERM or SIGHUP; then end every learner's lab (hung up, then killed) and return 0."""
    from hypercorn.config import Config
    from hypercorn.trio import serve as hypercorn_serve

    config = Config()
    config.bind = [f"[{options.bind}]:{options.port}" if ":" in options.bind else f"{options.bind}:{options.port}"]
    config.accesslog = None
    config.loglevel = "WARNING"
    config.include_server_header = False
    config.websocket_max_message_size = 64 * 1024  # keystrokes and pastes, not files
    config.graceful_timeout = 1.0
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async with trio.open_nursery() as nursery:
            hub = Hub(learners, ["up", options.scenario], {}, options.idle_timeout, options.lab_cap, nursery)
            app = TerminalApp(hub)
            try:
                binds = await nursery.start(partial(hypercorn_serve, app, config))  # type: ignore[arg-type]
            except OSError as exc:
                raise seats.ServeOptionError(f"cannot listen on {config.bind[0]}: {exc.strerror}") from None
            port = int(binds[0].rsplit(":", 1)[1])
            hub.lab_env = lab_env(options, port)
            _announce(options, learners, port)
            async for signum in signals:
                hub.log(f"{signal.Signals(signum).name}: ending every learner's lab")
                break
            nursery.cancel_scope.cancel()
    print("lab serve: stopped; every learner's lab is gone", file=sys.stderr, flush=True)
    return 0


def _announce(options: seats.Options, learners: tuple[seats.Learner, ...], port: int) -> None:
    host = seats.public_host(options.bind, socket.gethostname())
    where = "this machine only" if options.bind.startswith("127.") or options.bind == "::1" else "the network"
    print(
        f"lab serve: {len(learners)} browser terminal(s) for {Path(options.scenario).stem} on port {port} ({where}); "
        f"one lab per learner, at most {options.lab_cap} at once, ended {options.idle_timeout:g} s after its "
        "browser leaves. Hand out one URL per learner (it is their only key); Ctrl-C ends every lab.",
        file=sys.stderr,
        flush=True,
    )
    for learner in learners:
        print(seats.url(host, port, learner), flush=True)


def run(options: seats.Options) -> int:
    """Check everything that can be checked before listening (one line and exit 2 if not), then serve."""
    from lab.model import scenario as scenarios

    seats.check(options)
    check_assets()
    path = scenarios.find(options.scenario)
    scenarios.load(path)  # a broken scenario: its file:line errors now, not in every learner's terminal
    learners = learners_for(options)
    result: int = trio.run(serve, replace(options, scenario=str(path)), learners)
    return result

"""What a scenario step or ``lab exec`` may run: ``curl …``, optionally after ``env VAR=VALUE …``. Pure."""

from __future__ import annotations

import os
import re

from lab.errors import CommandError

ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def split_command(argv: tuple[str, ...] | list[str]) -> tuple[dict[str, str], list[str]]:
    """Split ``env VAR=VALUE… curl …`` into (environment, curl argv); refuse anything else."""
    args = list(argv)
    env: dict[str, str] = {}
    if args and args[0] == "env":
        args.pop(0)
    while args and ENV_ASSIGNMENT.match(args[0]):
        name, _, value = args.pop(0).partition("=")
        env[name] = value
    if not args:
        raise CommandError("no command given (expected: curl …, optionally after env VAR=VALUE …)")
    if os.path.basename(args[0]) != "curl":
        raise CommandError(
            f"only curl runs in the lab, not {args[0]!r} (expected: curl …, optionally after env VAR=VALUE …)"
        )
    return env, args

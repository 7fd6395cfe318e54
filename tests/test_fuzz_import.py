"""``lab import`` on transcripts made here: random commands run with real curl -v in the matrix's worlds, pasted
as a customer would (``$ command`` and curl's output), imported, and replayed: the draft must expect the exit code
the real run ended with (several where curl races, and it knows it), and ``lab import --check`` must find the
step reproduced.

The generators are tests/test_fuzz_explain.py's. Seeded: a failure names its world, seed and command;
``LAB_FUZZ_SEED=N LAB_FUZZ_COMMANDS=1`` replays one. ``LAB_FUZZ_COMMANDS`` sets how many per world (``make fuzz``
runs thousands). A command curl refuses without saying so under -v (two request methods print only a warning,
and no exit code) cannot be told from the paste and is left out.
"""

from __future__ import annotations

import random
import shlex

import pytest

from lab.apps import importer
from lab.apps.importer._check import check
from lab.model import scenario
from lab.session import open_lab
from tests.explain_matrix import WORLDS
from tests.test_fuzz_explain import COMMANDS, GENERATORS, SEED

pytestmark = pytest.mark.netns


def paste(env: dict[str, str], argv: list[str], stderr: str, stdout: str) -> str:
    """What a customer pastes: an export line for the environment, the command after a prompt, curl's output."""
    exported = f"$ export {' '.join(f'{k}={shlex.quote(v)}' for k, v in env.items())}\n" if env else ""
    return f"{exported}$ {shlex.join(argv)}\n{stderr}{stdout}"


@pytest.mark.parametrize("name", sorted(GENERATORS))
async def test_transcripts_of_random_commands_import_and_replay_as_they_ran(name: str) -> None:
    world = scenario.load(WORLDS[name])
    pastes = []
    async with open_lab(world) as runner:
        for n in range(SEED, SEED + COMMANDS):
            env, argv = GENERATORS[name](random.Random(n))
            argv = [a for a in argv if a != "-sS"]
            argv.insert(1, "-v")
            result = await runner.run(["env", *(f"{k}={v}" for k, v in env.items()), *argv] if env else argv)
            if result.exit_code == 2 and "curl: (2)" not in result.stderr:
                continue  # nothing in the paste says curl refused it
            pastes.append((n, paste(env, argv, result.stderr, result.stdout), result.exit_code))
    failures = []
    for n, text, exit_code in pastes:
        drafted = importer.import_transcript(text, f"seed-{n}.txt")
        checks = await check(importer._load(drafted, f"seed-{n}.toml"), drafted)
        unreproduced = [c.summary() for c in checks if not c.reproduced]
        last = drafted.expectations[-1]
        # the draft must count the real exit among the ones it expects (several: a race it knows of), and the
        # replay must be one of them too
        if exit_code not in last.exits or checks[-1].exit_code not in last.exits or unreproduced:
            said = "; ".join(unreproduced) or f"expected {last.exits}, replayed with exit {checks[-1].exit_code}"
            failures.append(f"seed {n} (curl exited {exit_code}): {text.splitlines()[0]}\n    {said}")
    assert failures == [], f"{len(failures)} of {len(pastes)} transcripts did not replay:\n" + "\n".join(failures)

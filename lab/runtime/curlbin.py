"""Choose the curl binary the lab runs: ``--curl PATH``, else ``$LAB_CURL``, else ``curl`` on ``PATH``.

A support engineer reproduces a customer who ran another curl (exit codes and error lines depend on the
build), so the binary is a choice, checked once up front: it must exist, be executable and answer
``--version`` like curl. ``make curl8`` leaves such a binary in ``.curl/8/curl``.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

from lab.errors import LabError
from lab.model.outcome import CurlBuild
from lab.protocols import curlversion

ENV_VAR = "LAB_CURL"
PROBE_TIMEOUT = 10.0
# What curl sees as PATH (the lab's commands run with a clean environment).
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class CurlChoiceError(LabError):
    """The chosen curl cannot be used; the message names the path and where the choice came from."""

    exit_code = 2


def choose(spec: str | None = None, environ: dict[str, str] | None = None) -> CurlBuild:
    """The curl to run: ``spec`` (from ``--curl``), else ``$LAB_CURL``, else ``curl`` on ``PATH``."""
    env = os.environ if environ is None else environ
    origin = "--curl"
    if not spec:
        spec, origin = env.get(ENV_VAR, ""), f"${ENV_VAR}"
    if not spec:
        spec, origin = "curl", "the default curl"
    return probe(locate(spec, origin, env.get("PATH") or BASE_PATH), origin)


def locate(spec: str, origin: str, search_path: str) -> str:
    """An absolute path for ``spec``: a path as given (made absolute), or a bare name looked up on the PATH."""
    if os.sep not in spec:
        found = shutil.which(spec, path=search_path)
        if found is None:
            raise CurlChoiceError(f"{origin}: no {spec!r} on PATH; give the curl binary's path")
        return os.path.abspath(found)
    path = os.path.abspath(os.path.expanduser(spec))
    if os.path.isdir(path):
        raise CurlChoiceError(f"{origin}: {spec}: a directory, not a curl binary")
    if not os.path.isfile(path):
        hint = " (run `make curl8` first)" if path.endswith(os.path.join(".curl", "8", "curl")) else ""
        raise CurlChoiceError(f"{origin}: {spec}: no such file{hint}")
    if not os.access(path, os.X_OK):
        raise CurlChoiceError(f"{origin}: {spec}: not executable (chmod +x it, or give another curl)")
    return path


@functools.lru_cache(maxsize=16)
def probe(path: str, origin: str = "--curl") -> CurlBuild:
    """Run ``PATH --version`` once (cached per path) and read which curl it is."""
    try:
        done = subprocess.run(
            [path, "-q", "--version"],  # -q first: no ~/.curlrc
            env={"PATH": BASE_PATH, "LANG": "C.UTF-8"},
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CurlChoiceError(f"{origin}: {path} --version did not answer in {PROBE_TIMEOUT:g} s") from None
    except OSError as exc:
        raise CurlChoiceError(f"{origin}: {path}: cannot run it ({exc.strerror})") from None
    text = done.stdout.decode("utf-8", "replace")
    try:
        version = curlversion.parse(text)
    except curlversion.NotCurlVersion as exc:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        extra = f" (it said: {said[0][:100]})" if said and done.returncode else ""
        raise CurlChoiceError(f"{origin}: {path} is not a working curl: {exc}{extra}") from None
    return CurlBuild(path=path, version=version)

"""``lab new NAME``: a commented starter scenario that ``lab check`` accepts as it is.

The template shows every field once, with the seed's world underneath, so a trainer edits a working file
instead of writing one from an empty page. It never overwrites: an existing scenario is someone's work.
"""

from __future__ import annotations

import re
from pathlib import Path

from lab.errors import LabError
from lab.model.hostsettings import HOST_KINDS
from lab.paths import SCENARIO_DIR

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class ScaffoldError(LabError):
    """The scenario cannot be created (bad name, or the file exists)."""

    exit_code = 2


TEMPLATE = '''\
# {name}: a scenario for the routing lab. Every field is described in docs/scenarios.md.
# Check it with `lab check scenarios/{name}.toml`, replay it with `lab run {name}`.

# One line: what the scenario teaches (shown by `lab list` and in scenarios/README.md).
title = "{name}: what this scenario teaches, in one line"

# The world: the support chat's network (scenarios/topologies/seed.toml). Its hosts are
#   glb 88.88.88.88:443 (mTLS load balancer), old 10.1.1.1:443 (stale service),
#   reset 198.0.8.245:443 (dead public-DNS address), proxy 10.9.9.9:3128 (HTTP proxy with its own DNS),
#   socks 10.9.9.9:1080 (SOCKS5 proxy) - and the client's hosts file says mydomain = 198.0.8.245.
topology = "seed"

# Told before the first step: the situation, in the customer's words if you have them.
story = """
Describe the situation the learner is in, and what they are about to try.
"""

# Override any table of the topology, key by key. For example, point the client's DNS somewhere else:
# [client]
# hosts = {{ mydomain = "88.88.88.88" }}
#
# or add a host of your own (kinds: {kinds}):
# [hosts.new-service]
# kind = "backend"
# address = "10.3.3.3:443"
# cert.names = ["mydomain"]

[[steps]]
# What the learner is told before the command runs.
say = "Pin the name to the load balancer and present the client certificate."
# The command: curl only, optionally after env VAR=VALUE. Add -m 5 where it could hang.
run = "curl -v -m 5 --resolve mydomain:443:88.88.88.88 --cert certs/client.crt --key certs/client.key https://mydomain"
# Afterwards: which hop decided where the request went, and the fix.
lesson = """
--resolve decided the address; the client certificate satisfied the load balancer's mTLS policy.
"""
# What must happen; `lab run` reports every difference. All keys are optional.
[steps.expect]
decided_by = "--resolve"  # the decisive hop: client DNS, --resolve, --connect-to, proxy, proxy DNS,
                          # TLS version, cert check, client-cert check or command line (docs/scenarios.md)
exit = 0          # curl's exit code
reached = "glb"   # the host that answered HTTP, or "none"
tunnel = "none"   # what a proxy was asked for ("mydomain:443"), or "none"
# error = "..."   # a piece of curl's error line
'''


def template(name: str) -> str:
    return TEMPLATE.format(name=name, kinds=", ".join(HOST_KINDS))


def create(name: str, directory: Path = SCENARIO_DIR) -> Path:
    """Write ``directory/NAME.toml`` from the template; refuses bad names and existing files."""
    if not NAME.match(name):
        raise ScaffoldError(
            f"scenario name {name!r} must be lowercase letters, digits and dashes, like customer-proxy-dns"
        )
    path = directory / f"{name}.toml"
    if path.exists():
        raise ScaffoldError(f"{_shown(path)} already exists; edit it, or choose another name (lab new OTHER-NAME)")
    path.write_text(template(name), encoding="utf-8")
    from lab.apps import catalog

    catalog.refresh(directory)  # scenarios/README.md indexes every scenario; keep it true
    return path


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)

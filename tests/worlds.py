"""Seed variants that several test files use: written to ``tmp_path``, passed to the ``lab`` fixture by path."""

from __future__ import annotations

from pathlib import Path

# A backend behind the load balancer's URL map (``/api/*``, also reachable directly) and a plain-HTTP backend
# the proxy can forward absolute-URI requests to.
BEHIND = """
[hosts.glb]
url_map = [{ path = "/api/*", backend = "api" }]
[hosts.api]
kind = "backend"
address = "10.2.2.2:443"
cert.names = ["mydomain"]
[hosts.plain]
kind = "backend"
address = "10.2.2.3:80"
tls = false
[hosts.proxy]
dns = { mydomain = "10.1.1.1", plain = "10.2.2.3" }
"""


def seed_variant(tmp_path: Path, text: str, name: str = "variant") -> str:
    """The seed topology with ``text`` (TOML tables) on top, as a scenario file; returns its path."""
    path = tmp_path / f"{name}.toml"
    path.write_text('topology = "seed"\n' + text)
    return str(path)

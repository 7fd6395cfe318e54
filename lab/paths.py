"""Where the lab keeps things on disk, relative to the project checkout (the bottom layer: no imports)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "scenarios"
TOPOLOGY_DIR = SCENARIO_DIR / "topologies"
CERT_DIR = ROOT / "certs"
REPORT_DIR = ROOT / "reports"

"""The architecture holds by itself: no import cycles, and checking a scenario loads no TLS stack or trio."""

from __future__ import annotations

import subprocess
import sys

import grimp

from lab.paths import ROOT


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph("lab")
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=imported, imported=module):
                cycles.append(graph.find_shortest_chain(importer=imported, imported=module))
    assert cycles == []


def test_lab_check_imports_no_tls_stack_and_no_trio() -> None:
    code = (
        "import sys\n"
        "from lab.apps import cli\n"
        "assert cli.main(['check', 'scenarios/client-cert-problems.toml', 'scenarios/proxy-resolve.toml']) == 0\n"
        "heavy = sorted(m for m in ('OpenSSL', 'ssl', 'cryptography', 'trio', 'proxy', 'h2') if m in sys.modules)\n"
        "print('heavy: ' + ', '.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.splitlines()[-1] == "heavy: "

#!/bin/sh
# sudo deploy/apparmor/install.sh: let this checkout's lab make its namespace on Ubuntu 24.04 without root.
#
# AppArmor attaches a profile to a program's real path. A venv's python is a symlink to the system's
# python3.x, and a profile for that would let every Python program on the machine make user namespaces;
# so the lab's venv gets its own copy of the interpreter, and the profile names that copy only.
set -eu
cd "$(dirname "$0")/../.."
root=$(pwd -P)
if [ "$(id -u)" != 0 ]; then
    echo "install.sh: run it with sudo (it writes /etc/apparmor.d/routing-lab)" >&2
    exit 2
fi
if ! command -v apparmor_parser >/dev/null; then
    echo "install.sh: AppArmor is not installed here, so it restricts nothing: the lab needs no profile" >&2
    exit 2
fi
if [ ! -e .venv/bin/python3 ]; then
    echo "install.sh: no .venv yet: run 'make scenario' once first (as yourself, not root)" >&2
    exit 2
fi
python=$root/.venv/bin/python3
if [ -L "$python" ]; then
    real=$(readlink -f "$python")
    owner=$(stat -c %u:%g .venv)
    cp --remove-destination "$real" "$python"
    chown "$owner" "$python"
fi
sed "s|@LAB_PYTHON@|$python|" deploy/apparmor/routing-lab.in > /etc/apparmor.d/routing-lab
apparmor_parser -r /etc/apparmor.d/routing-lab
echo "loaded /etc/apparmor.d/routing-lab for $python: 'make scenario' now works without root"

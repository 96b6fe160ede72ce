#!/usr/bin/env bash
# A workaround for this machine's network, kept apart from the gates: ansible-test bootstraps pip into each
# sanity virtualenv with a get-pip script from its own download site, which is not a package registry and
# cannot be reached here. The same bootstrap is made from PyPI's pip wheel (pip runs from a wheel on sys.path):
# a script in ansible-test's cache that installs what it is asked.
#
#   scripts/ansible-test-home.sh DIR    prints DIR/home, a HOME for ansible-test with that script in its cache
#
# Run ansible-test with HOME set to it, so its cache and virtualenvs stay in DIR (scripts/gates.sh: .cache/gates).
# Needs .venv (make venv). On a machine that reaches ansible-test's own site, none of this is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$(realpath -m "$1")
home=$dir/home wheels=$dir/wheels
BIN=$PWD/.venv/bin
ansible_test=$("$BIN/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')
pip_version=$(sed -n "s/^ *pip='\([0-9.]*\)',\$/\1/p" "$ansible_test/_internal/python_requirements.py")
[ -n "$pip_version" ] || { echo "$0: cannot tell which pip ansible-test bootstraps" >&2; exit 1; }
script=$home/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname "$script")" "$wheels"
if [ ! -f "$wheels/pip-$pip_version-py3-none-any.whl" ]; then
  "$BIN/pip" download --disable-pip-version-check --quiet --no-deps --only-binary=:all: -d "$wheels" "pip==$pip_version" >&2
fi
cat > "$script" <<PY
"""ansible-test's pip bootstrap, made by scripts/ansible-test-home.sh from PyPI's pip $pip_version wheel."""
import runpy
import sys

sys.path.insert(0, "$wheels/pip-$pip_version-py3-none-any.whl")
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.argv = ["pip", "install", "--upgrade", "--force-reinstall", *args]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
PY
echo "$home"

#!/usr/bin/env bash
# The gates no single standard tool runs as this collection needs, each ending in one line: gate, ok or FAIL,
# seconds, what it found.
#
#   sanity        ansible-test sanity on a copy of the checkout at .../ansible_collections/wsproxy/nginx
#   changelog     antsibull-changelog lint, and a release built from the fragments in a temporary copy
#   ee            ansible-builder create on execution-environment.yml; its galaxy requirements installed
#                 from the build context as the image build would
#
# ansible-lint, ruff and yamllint run in make lint; the collection's build, install and a converge from the
# installed copy run for every ansible-core line in the compatibility matrix (noxfile.py, make compat).
#
# scripts/gates.sh [GATE ...]   runs the named gates (default: all). Exit status 1 if any gate failed.
# Full output of each gate: .cache/gates/<gate>.log. Needs .venv (make venv) and shellcheck
# (scripts/ensure-clients.sh) for sanity's shellcheck test.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
ROOT=$PWD

ALL_GATES=(sanity changelog ee)
ANSIBLE_BUILDER_VERSION=3.2.0   # the ee gate's own virtualenv, apart from .venv's tool chain
BIN=$ROOT/.venv/bin
LOGS=$ROOT/.cache/gates

gates=("$@")
[ ${#gates[@]} -gt 0 ] || gates=("${ALL_GATES[@]}")
for gate in "${gates[@]}"; do
  [[ " ${ALL_GATES[*]} " == *" $gate "* ]] || { echo "gates: unknown gate '$gate' (gates: ${ALL_GATES[*]})" >&2; exit 2; }
done
[ -x "$BIN/ansible-test" ] || { echo "gates: no tool chain in .venv: run make venv first" >&2; exit 2; }
git rev-parse --git-dir >/dev/null 2>&1 || { echo "gates: needs a git checkout (copies are made from git ls-files)" >&2; exit 2; }

mkdir -p "$LOGS"
WORK=$(mktemp -d /tmp/wsproxy-gates.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

export PATH="$BIN:$PATH" ANSIBLE_FORCE_COLOR=0 NO_COLOR=1 PY_COLORS=0
CORE_PIN=$(grep -E '^ansible-core==' requirements.txt)
VERSION=$("$BIN/python" -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')
TARBALL_NAME=wsproxy-nginx-$VERSION.tar.gz

# A copy of the checkout, tracked files plus new ones not yet added (never ignored ones, never the
# collections/ symlink back to the root), at DEST/ansible_collections/wsproxy/nginx.
copy_tree() {
  local dest=$1/ansible_collections/wsproxy/nginx
  mkdir -p "$dest"
  git ls-files -z --cached --others --exclude-standard | grep -z -v -E '^collections/' \
    | tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$dest"
  echo "$dest"
}

# ---------------------------------------------------------------------------------------------- the gates
# Each gate writes its tools' output to stderr (its log) and its summary, one line, to stdout; exit 0 = ok.

gate_sanity() {
  local dest home pip_cache python rc=0 total failed
  command -v shellcheck >/dev/null || { echo "shellcheck is missing (scripts/ensure-clients.sh): its test would be skipped"; return 1; }
  pip_cache=${PIP_CACHE_DIR:-$HOME/.cache/pip}
  # In place (--local, no containers), with .venv's Python: the per-version tests (compile, import) run for
  # that one version instead of every version ansible-test knows.
  python=$("$BIN/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  # This machine cannot reach the site ansible-test bootstraps pip from: a separate script works around it.
  home=$(scripts/ansible-test-home.sh "$LOGS")
  dest=$(copy_tree "$WORK/sanity")
  (cd "$dest" && HOME=$home PIP_CACHE_DIR=$pip_cache ansible-test sanity --python "$python" --local --color no >&2) || rc=$?
  total=$(grep -c '^Running sanity test' "$LOGS/sanity.log" || true)
  if [ "$rc" -eq 0 ]; then
    echo "ansible-test sanity --python $python: all $total tests passed"
  else
    failed=$(sed -n '/^FATAL: The .* sanity test(s) listed below/,$p' "$LOGS/sanity.log" | tail -n +2 | tr '\n' ' ')
    echo "ansible-test sanity --python $python: $(wc -w <<< "$failed") of $total tests failed: ${failed% }"
  fi
  return "$rc"
}

gate_changelog() {
  local dest fragments rc=0 out
  out=$(antsibull-changelog lint 2>&1) || rc=$?
  echo "$out" >&2
  [ "$rc" -eq 0 ] || { echo "antsibull-changelog lint: $(grep -c . <<< "$out" || true) problems"; return 1; }
  antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml >&2
  # release consumes the fragments (keep_fragments: false): only ever in a copy.
  dest=$(copy_tree "$WORK/changelog")
  (cd "$dest" && ANSIBLE_COLLECTIONS_PATH="$WORK/changelog" antsibull-changelog release --version "$VERSION" >&2)
  [ -s "$dest/CHANGELOG.rst" ] || { echo "antsibull-changelog release wrote no CHANGELOG.rst"; return 1; }
  cat "$dest/CHANGELOG.rst" >&2
  fragments=$("$BIN/python" -c \
    'import sys, yaml; print(len(yaml.safe_load(open(sys.argv[1]))["releases"][sys.argv[2]]["fragments"]))' \
    "$dest/changelogs/changelog.yaml" "$VERSION")
  echo "lint clean; release $VERSION from $fragments fragments -> CHANGELOG.rst ($(wc -l < "$dest/CHANGELOG.rst") lines), in a copy"
}

gate_ee() {
  local builder=$LOGS/ansible-builder-$ANSIBLE_BUILDER_VERSION src context listed
  if [ ! -x "$builder/bin/ansible-builder" ]; then
    rm -rf "$builder"
    python3 -m venv "$builder"
    "$builder/bin/pip" install --disable-pip-version-check --quiet "ansible-builder==$ANSIBLE_BUILDER_VERSION" >&2
  fi
  # The EE installs the tarball named in ee/requirements.yml: it must be this version's, with requirements.txt's core.
  listed=$("$BIN/python" -c \
    'import yaml; print(" ".join(c["name"] for c in yaml.safe_load(open("ee/requirements.yml"))["collections"]))')
  [[ " $listed " == *" ee/$TARBALL_NAME "* ]] \
    || { echo "ee/requirements.yml installs '$listed', not ee/$TARBALL_NAME (galaxy.yml says $VERSION)"; return 1; }
  grep -qF "package_pip: $CORE_PIN" execution-environment.yml \
    || { echo "execution-environment.yml does not pin $CORE_PIN (requirements.txt)"; return 1; }
  src=$(copy_tree "$WORK/ee-src")
  ansible-galaxy collection build "$src" --output-path "$src/ee" >&2
  context=$WORK/ee-context
  (cd "$src" && "$builder/bin/ansible-builder" create -f execution-environment.yml -c "$context" \
    --output-filename Containerfile -v 3 >&2)
  for f in Containerfile _build/requirements.yml "_build/ee/$TARBALL_NAME"; do
    [ -f "$context/$f" ] || { echo "ansible-builder create left no $f in the build context"; return 1; }
  done
  grep -qF "$CORE_PIN" "$context/Containerfile" || { echo "the Containerfile does not install $CORE_PIN"; return 1; }
  # What the image's galaxy stage runs in /build (the context's _build): the requirements must install.
  (cd "$context/_build" && ANSIBLE_COLLECTIONS_PATH=$WORK/ee-collections \
    ansible-galaxy collection install --force -r requirements.yml -p "$WORK/ee-collections" >&2)
  [ -f "$WORK/ee-collections/ansible_collections/wsproxy/nginx/MANIFEST.json" ] \
    || { echo "the EE's galaxy requirements did not install wsproxy.nginx"; return 1; }
  echo "ansible-builder $ANSIBLE_BUILDER_VERSION create: Containerfile with $CORE_PIN; its requirements install $TARBALL_NAME"
}

# ---------------------------------------------------------------------------------------------- the runner
# One gate after the other; each writes its tools' output to its log and its summary line to stdout.
start=$(date +%s)
echo "gates: ${gates[*]} (logs in .cache/gates/)"
failed=()
for gate in "${gates[@]}"; do
  began=$(date +%s)
  # Not in an && or || list, which would switch set -e off inside the gate.
  set +e
  (set -euo pipefail; "gate_${gate//-/_}") > "$WORK/$gate.summary" 2> "$LOGS/$gate.log"
  rc=$?
  set -e
  summary=$(tail -n1 "$WORK/$gate.summary")
  # A gate stopped by a failing command has no summary of its own: show the last line it logged.
  [ -n "$summary" ] || summary="exit $rc: $(grep -v '^\s*$' "$LOGS/$gate.log" | tail -n1 | cut -c1-160 || true)"
  if [ "$rc" -eq 0 ]; then
    printf '%-10s ok    %4ss  %s\n' "$gate" "$(($(date +%s) - began))" "$summary"
  else
    failed+=("$gate")
    printf '%-10s FAIL  %4ss  %s (.cache/gates/%s.log)\n' "$gate" "$(($(date +%s) - began))" "$summary" "$gate"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "gates: ${#failed[@]} of ${#gates[@]} failed (${failed[*]}) in $(($(date +%s) - start)) s"
  exit 1
fi
echo "gates: all ${#gates[@]} passed in $(($(date +%s) - start)) s"

#!/usr/bin/env bash
# The one test command: installs what the tests need into virtual environments, then runs them.
#
#   bash tests/run.sh [pytest args...]
#
# Which ComfyUI the host and browser tiers run against, in this order:
#   1. one you have: COMFYUI_PATH, the custom_nodes folder this pack sits in, or ~/comfy/ComfyUI;
#   2. otherwise every release archive in ../shared/comfyui/ beside the project
#      (HEADHUNTER_COMFYUI_ARCHIVES overrides that folder): each is unpacked into the cache and the
#      whole suite runs once per release, each in its own environment built from that release's
#      requirements.txt; the run fails if any release fails;
#   3. otherwise none: the host tiers are skipped (pytest says why) and only the host-free tier runs.
# Environments live in ~/.cache/headhunter-tests (HEADHUNTER_CACHE) and are rebuilt only when their
# requirements change. HEADHUNTER_TEST_VENV names an environment of your own instead: it is used as
# it is and never deleted. The head-grid JavaScript runs first with node --test where node exists;
# the browser test needs Chromium, installed with apt-get where possible
# (HEADHUNTER_INSTALL_CHROMIUM=0 to not try).
set -euo pipefail
pack=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
cache=${HEADHUNTER_CACHE:-$HOME/.cache/headhunter-tests}
archives=${HEADHUNTER_COMFYUI_ARCHIVES:-$pack/../shared/comfyui}
marker=.headhunter-test-venv  # only folders holding this file were made here, and only they are ever deleted
# ComfyUI imports torchvision and (v0.28.1, and transformers' CLIPModel) torchaudio: a matched set.
host_torch=${HEADHUNTER_TORCH:-"torch==2.11.0 torchvision==0.26.0 torchaudio==2.11.0"}
free_torch=${HEADHUNTER_TORCH:-"torch==2.13.0"}
mkdir -p "$cache"

# uv trusts what pip is told to trust (a TLS-inspecting proxy's CA) and the system's store.
if [ -z "${SSL_CERT_FILE:-}" ]; then
  pip_cert=$("$python" -m pip config get global.cert 2>/dev/null || true)
  [ -z "$pip_cert" ] || export SSL_CERT_FILE=$pip_cert
fi
export UV_SYSTEM_CERTS=${UV_SYSTEM_CERTS:-1}
# uv installs the multi-GB torch set in seconds and hard-links it into every environment from one
# cache; pip is the fallback where uv cannot be had.
uv=""
if "$python" -m venv "$cache/uv-tool" >/dev/null 2>&1 || [ -x "$cache/uv-tool/bin/python" ]; then
  [ -x "$cache/uv-tool/bin/uv" ] || "$cache/uv-tool/bin/python" -m pip install -q uv >/dev/null 2>&1 || true
  [ -x "$cache/uv-tool/bin/uv" ] && uv="$cache/uv-tool/bin/uv"
fi

# make_env DIR "STAMP" ARGS...: (re)build DIR with `pip install ARGS` unless its stamp matches.
make_env() {
  local venv=$1 stamp=$2
  shift 2
  if [ -n "${HEADHUNTER_TEST_VENV:-}" ]; then
    return 0  # the user's own environment: used as it is
  fi
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/$marker" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  if [ -e "$venv" ] && [ ! -f "$venv/$marker" ]; then
    echo "ERROR: $venv exists and was not made by tests/run.sh; not touching it." >&2
    return 1
  fi
  echo "Installing test requirements into $venv ..."
  rm -rf "$venv"
  if [ -z "$uv" ] || ! { "$uv" venv -q -p "$python" "$venv" && : > "$venv/$marker" \
                          && VIRTUAL_ENV=$venv "$uv" pip install -q "$@"; }; then
    [ -z "$uv" ] || echo "NOTE: uv could not install; falling back to pip."
    rm -rf "$venv"
    "$python" -m venv "$venv"
    : > "$venv/$marker"
    # pip's status is the pipeline's (pipefail); only its notes about unusable local indexes go.
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" 2>&1 \
      | { grep -v "^WARNING: Location '.*' is ignored" || true; }
  fi
  echo "$stamp" > "$venv/$marker"
}

# The ComfyUI trees to test against: "label<TAB>path" lines.
hosts=()
found=$("$python" "$pack/tests/support/hh_pack.py")
if [ -n "$found" ]; then
  hosts+=("host	$found")
elif compgen -G "$archives/comfyui-v*.tar.gz" >/dev/null; then
  for archive in "$archives"/comfyui-v*.tar.gz; do
    version=$(basename "$archive" .tar.gz)
    version=${version#comfyui-}
    tree="$cache/comfyui-$version"
    stamp="$(stat -c '%s %Y' "$archive")"
    if [ "$(cat "$tree/$marker" 2>/dev/null)" != "$stamp" ]; then
      [ ! -e "$tree" ] || [ -f "$tree/$marker" ] || { echo "ERROR: $tree was not made here" >&2; exit 1; }
      echo "Unpacking ComfyUI $version from $archive ..."
      rm -rf "$tree"
      mkdir -p "$tree"
      : > "$tree/$marker"
      tar xzf "$archive" -C "$tree"
      echo "$stamp" > "$tree/$marker"
    fi
    hosts+=("$version	$tree/ComfyUI")
  done
fi

if [ -n "${HEADHUNTER_INSTALL_CHROMIUM:-}" ] && [ "$HEADHUNTER_INSTALL_CHROMIUM" = 0 ]; then
  :
elif [ ${#hosts[@]} -gt 0 ] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  as_root=""
  [ "$(id -u)" = 0 ] || as_root="sudo -n"
  if command -v apt-get >/dev/null && { [ -z "$as_root" ] || sudo -n true 2>/dev/null; }; then
    echo "Installing Debian's chromium for the browser test (apt-get)..."
    log=$(mktemp)
    if ! { $as_root apt-get install -y -q chromium || { $as_root apt-get update -q && $as_root apt-get install -y -q chromium; }; } >"$log" 2>&1; then
      echo "NOTE: could not install chromium (log: $log); the browser test will be skipped."
    fi
  else
    echo "NOTE: no chromium and no apt-get to install it with (as root); the browser test will be skipped."
  fi
fi

# Tiny test models gain nothing from more torch threads, and on a shared CPU OpenMP's spinning
# threads made the host tier several times slower (118 s -> 15 s measured on 2 busy cores).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

failed=()
if command -v node >/dev/null; then
  echo "Head-grid JavaScript (node --test web/tests/):"
  (cd "$pack" && node --test --test-reporter=dot web/tests/) || failed+=("head-grid JavaScript")
else
  echo "NOTE: node (Node.js) not found: the head-grid JavaScript tests in web/tests/ are skipped."
fi

tests_stamp=$(cat "$pack/tests/requirements.txt")
# run_suite LABEL VENV [COMFYUI]: pytest over the whole suite (host tiers only with a ComfyUI).
run_suite() {
  local label=$1 venv=$2 comfy=${3:-} status=0
  local py=${HEADHUNTER_TEST_VENV:-$venv}/bin/python
  echo
  echo "=== pytest: $label ==="
  (cd "$pack/tests" && COMFYUI_PATH=$comfy "$py" -m pytest "${pytest_args[@]}") || status=$?
  # 5 = no tests collected: a run that tested nothing must not look green.
  [ $status -eq 0 ] || failed+=("pytest ($label, exit $status)")
}
pytest_args=("$@")

if [ ${#hosts[@]} -eq 0 ]; then
  make_env "$cache/venv-free" "$free_torch $tests_stamp" $free_torch -r "$pack/tests/requirements.txt"
  run_suite "host-free tier, no ComfyUI found" "$cache/venv-free"
else
  for entry in "${hosts[@]}"; do
    label=${entry%%	*}
    tree=${entry#*	}
    extra=$(grep -vE '^\s*(#|$)|^(torch|torchvision|torchaudio)\b' "$tree/requirements.txt" | tr '\n' ' ')
    venv="$cache/venv-comfyui-$label"
    # shellcheck disable=SC2086
    make_env "$venv" "$host_torch $extra $tests_stamp" $host_torch $extra -r "$pack/tests/requirements.txt"
    run_suite "ComfyUI $label at $tree" "$venv" "$tree"
  done
fi

echo
if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "All test runs passed (${#hosts[@]} ComfyUI release(s))."

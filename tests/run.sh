#!/usr/bin/env bash
# The one test command: installs what the tests need into a virtual environment, then runs them.
#
#   bash tests/run.sh [pytest args...]
#
# Host tests run when a ComfyUI is found (COMFYUI_PATH, the custom_nodes folder this pack sits in,
# or ~/comfy/ComfyUI); otherwise they are skipped and pytest says why.
# The environment lives in ~/.cache/headhunter-tests (override with HEADHUNTER_TEST_VENV) and is
# reused while its requirements are unchanged.
# The head-grid widget's JavaScript is tested first with Node's own test runner (node --test), when
# `node` is installed. With a host, the browser test also needs Chromium: it is installed with
# apt-get where that is possible (HEADHUNTER_INSTALL_CHROMIUM=0 to not try) and skipped otherwise.
set -euo pipefail
pack=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
host=$("$python" "$pack/tests/hh_pack.py")

if [ -n "$host" ]; then
  # ComfyUI imports torchvision, which has no CPU-only wheel here: take the pair ComfyUI v0.3.64
  # was seen to work with. Its other requirements come from its own requirements.txt.
  torch_spec=${HEADHUNTER_TORCH:-"torch==2.15.0 torchvision==0.29.2"}
  extra=$(grep -vE '^\s*(#|$)|^(torch|torchvision|torchaudio)\b' "$host/requirements.txt" | tr '\n' ' ')
  tier=host
else
  torch_spec=${HEADHUNTER_TORCH:-"torch==2.13.0"}
  extra=""
  tier=free
fi
venv=${HEADHUNTER_TEST_VENV:-$HOME/.cache/headhunter-tests/venv-$tier}
stamp="$torch_spec $extra $(cat "$pack/tests/requirements.txt")"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "Installing test requirements into $venv ($tier tier)..."
  rm -rf "$venv"
  "$python" -m venv "$venv"
  # pip's status is the pipeline's (pipefail); only its notes about unusable local indexes are dropped.
  pip_install() {
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" 2>&1 \
      | { grep -v "^WARNING: Location '.*' is ignored" || true; }
  }
  # shellcheck disable=SC2086
  pip_install $torch_spec
  # shellcheck disable=SC2086
  pip_install -r "$pack/tests/requirements.txt" $extra
  echo "$stamp" > "$venv/.stamp"
fi

if [ -n "$host" ] && [ "${HEADHUNTER_INSTALL_CHROMIUM:-1}" != 0 ] \
   && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
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

js_status=0
if command -v node >/dev/null; then
  echo "Head-grid JavaScript (node --test web/tests/):"
  (cd "$pack" && node --test --test-reporter=dot web/tests/) || js_status=$?
  [ $js_status -eq 0 ] || echo "FAILED: head-grid JavaScript tests (above); the run will exit non-zero."
else
  echo "NOTE: node (Node.js) not found: the head-grid JavaScript tests in web/tests/ are skipped."
fi

cd "$pack/tests"
set +e
"$venv/bin/python" -m pytest "$@"
status=$?
set -e
# 5 = no tests collected: a run that tested nothing must not look green. pytest's summary stays
# the last output; a JavaScript failure was reported above it.
[ $status -ne 0 ] || status=$js_status
exit $status

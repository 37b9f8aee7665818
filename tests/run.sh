#!/usr/bin/env bash
# The one test command: installs what the tests need into a virtual environment, then runs them.
#
#   bash tests/run.sh [pytest args...]
#
# Host tests run when a ComfyUI is found (COMFYUI_PATH, the custom_nodes folder this pack sits in,
# or ~/comfy/ComfyUI); otherwise they are skipped and pytest says why.
# The environment lives in ~/.cache/headhunter-tests (override with HEADHUNTER_TEST_VENV) and is
# reused while its requirements are unchanged.
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
  "$venv/bin/python" -m pip install -q --disable-pip-version-check $torch_spec
  # shellcheck disable=SC2086
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$pack/tests/requirements.txt" $extra
  echo "$stamp" > "$venv/.stamp"
fi

cd "$pack/tests"
set +e
"$venv/bin/python" -m pytest "$@"
status=$?
set -e
# 5 = no tests collected: a run that tested nothing must not look green.
exit $status

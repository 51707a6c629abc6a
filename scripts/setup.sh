#!/usr/bin/env bash
# Install everything vidseg and its tests need, idempotently:
#   - Debian packages the tests use (redis-server; GStreamer's RTSP server for the live feed), when missing;
#   - a virtual environment (VIDSEG_VENV, default .venv) with torch, torchvision, sam2 and vidseg.
# Re-running is cheap: a stamp file records what was installed and skips it when unchanged.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VIDSEG_VENV:-$root/.venv}
python=${PYTHON:-python3}
torch_spec=${VIDSEG_TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}

say() { printf '[setup] %s\n' "$*"; }

# --- Debian packages ---------------------------------------------------------------------
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  say "vidseg needs Python >= 3.10; $python is $("$python" --version 2>&1). Set PYTHON=/path/to/python3.x"; exit 1
fi
need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# The RTSP test feed (pipelines/rtsp_test_server.py) runs under Debian's python3 with GStreamer.
if ! /usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0"); from gi.repository import GstRtspServer' >/dev/null 2>&1; then
  need_apt+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly)
fi
"$python" -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=("python3-venv")
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
    say "missing Debian packages: ${need_apt[*]}; install them as root: apt-get install ${need_apt[*]}"; exit 1; fi
  say "installing Debian packages: ${need_apt[*]}"
  if ! $sudo apt-get update -qq || ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null; then
    say "apt-get could not install ${need_apt[*]} (offline?); install them by hand and run again"; exit 1
  fi
  # The package starts a system-wide server; the tests start their own on free ports.
  (command -v service >/dev/null && $sudo service redis-server stop >/dev/null 2>&1) || true
fi

# --- Python environment ------------------------------------------------------------------
stamp_key=$( (cat "$root/pyproject.toml" "$root/scripts/setup.sh"; echo "$torch_spec") | sha256sum | cut -c1-16)
stamp="$venv/.vidseg-setup-$stamp_key"
if [ -f "$stamp" ] && "$venv/bin/python" -c "import vidseg, sam2, torch" >/dev/null 2>&1; then
  # Same requirements: only (re)link this checkout, in case the venv is shared between clones.
  "$venv/bin/pip" install -q --no-deps --no-build-isolation -e "$root" >/dev/null
  say "environment up to date ($venv)"
  exit 0
fi

say "creating virtual environment $venv"
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip)
"${pip[@]}" install -q --upgrade pip setuptools wheel
say "installing $torch_spec (a few minutes the first time)"
# shellcheck disable=SC2086
"${pip[@]}" install -q $torch_spec
say "building sam2==1.1.0 without its CUDA extension"
SAM2_BUILD_CUDA=0 "${pip[@]}" install -q --no-build-isolation "sam2==1.1.0"
say "installing vidseg and its test tools"
"${pip[@]}" install -q --no-build-isolation -e "$root[dev]"
rm -f "$venv"/.vidseg-setup-*
touch "$stamp"
say "done: $venv"

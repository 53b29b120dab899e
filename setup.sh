#!/usr/bin/env bash
# Installs everything the toolchain needs on a fresh Debian/Ubuntu machine (idempotent):
# the Python package with its extras, then the Arm toolchain, QEMU, the offline PlatformIO platform and the
# instruction-counting QEMU plugin (through `tinyml setup`).
set -euo pipefail
cd "$(dirname "$0")"
python -m pip install -q --disable-pip-version-check -e ".[all]"
tinyml setup

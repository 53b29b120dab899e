#!/usr/bin/env bash
# Source this on a training server that has torch but no internet: installs the wheels carried in .whl/ into
# /tmp/site (no index, no dependencies resolved) and puts them and the checkout on PYTHONPATH.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  || return 1
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1
alias tinyml="python3 -m tinyml_cli.main"

#!/usr/bin/env bash
# The GPU device check, as one command on a machine with nothing fetchable:
#   bash benchmarks/device_check.sh OUT_DIR [--small]
# Installs this checkout of benchbase without dependencies or network (torch, torchvision,
# timm, scikit-learn, pluggy, pandas, tabulate, tqdm and pillow must be there already), falls
# back to a PYTHONPATH of links when setuptools is missing, then runs
# benchmarks/device_check.py under a hard 470 s limit (the check itself budgets 450 s), then
# writes OUT_DIR/profile.toml: the device profile the estimate reads (--profile FILE), measured.
# Random-init backbones only: no weights package or download is needed.
set -uo pipefail
out=${1:?usage: device_check.sh OUT_DIR [--small]}
shift
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TQDM_DISABLE=1 PIP_NO_INDEX=1
mkdir -p "$out"
if ! python -c "import benchbase, benchbase_timm" 2>/dev/null; then
  if ! pip install -q --no-deps --no-build-isolation -e . >"$out/install.log" 2>&1; then
    # the built-in plugins are packages named as installed: plugins/ on the path is enough
    export PYTHONPATH="$PWD:$PWD/plugins${PYTHONPATH:+:$PYTHONPATH}"
    echo "pip install failed (see install.log); using PYTHONPATH=$PYTHONPATH" | tee -a "$out/install.log"
  fi
fi
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv >"$out/nvidia-smi.csv" 2>&1 || true
timeout 470 python benchmarks/device_check.py "$out" "$@"
status=$?
# the measured device profile for `benchbase run --dry-run --estimate --profile OUT/profile.toml`
timeout 150 python -m benchbase.tools.estimate.measure "$out/profile.toml" h200-measured \
  >"$out/profile.log" 2>&1 || echo "profile measurement failed: see profile.log" | tee -a "$out/install.log"
[ $status -eq 124 ] && echo "device check cut off at 470 s: partial results only" | tee -a "$out/device_check.md"
exit $status

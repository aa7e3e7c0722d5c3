#!/usr/bin/env bash
# The GPU checks of issue 14, as one script with a time limit per step (about 6 minutes in all on an H100),
# so that it fits twice in a 15-minute device budget. Run from the repository root on the GPU machine:
#
#     bash benchmarks/gpu_check.sh [LOGDIR]        # logs and a summary in LOGDIR (default: gpu-check/)
#
# It installs nothing from the network: the project goes in with --no-deps (its dependencies must be
# there), and where numba-cuda does not import with the installed numpy (numba-cuda 0.30 calls
# numpy.row_stack, removed in numpy 2.5) the run uses a sitecustomize shim in a temporary folder, and says so.
# Steps: environment; the CUDA tests on the GPU; benchmarks/cuda_speed.py (greedy, render, GA fitness vs the
# CPU serial and parallel kernels); a whole `bench solve --device cuda` twice in a row (the second must not
# recompile: its prepare time); `bench solve --device cpu`; two 1-epoch `bench train ae-chords` runs, on the GPU
# and on the CPU, on the same crops (epoch seconds and losses).
set -u
cd "$(dirname "$0")/.."
LOG=${1:-gpu-check}
mkdir -p "$LOG"
export STRINGART_CACHE_DIR=${STRINGART_CACHE_DIR:-$(mktemp -d)}
SUMMARY="$LOG/summary.txt"
: > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }
step() {  # step NAME SECONDS COMMAND...: run with a time limit, log to LOG/NAME.log, record status and time
  local name=$1 limit=$2; shift 2
  local t0=$(date +%s.%N)
  timeout "$limit" "$@" > "$LOG/$name.log" 2>&1
  local rc=$?
  local dt=$(python3 -c "print(f'{$(date +%s.%N) - $t0:.1f}')")
  say "[$name] exit $rc in $dt s (limit $limit s)"
  tail -n 25 "$LOG/$name.log" | sed 's/^/    /' >> "$SUMMARY"
}

say "# GPU check $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
nvidia-smi -L 2>&1 | tee -a "$SUMMARY"
python3 -m pip install -e . --no-deps --no-build-isolation -q > "$LOG/install.log" 2>&1 || say "pip install -e . failed (see install.log): running from the tree"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! python3 -c "from numba import cuda" > /dev/null 2>&1; then
  if python3 -c "from numba import cuda" 2>&1 | grep -q row_stack; then
    SHIM=$(mktemp -d)
    echo "import numpy; numpy.row_stack = getattr(numpy, 'row_stack', numpy.vstack)" > "$SHIM/sitecustomize.py"
    export PYTHONPATH="$SHIM:$PYTHONPATH"
    say "numba-cuda does not import with this numpy (numpy.row_stack): using a sitecustomize shim for this check"
  fi
fi
step environment 60 python3 -c "
import numpy, numba, torch, platform
from rendering.device import cuda_status
print('numpy', numpy.__version__, 'numba', numba.__version__, 'torch', torch.__version__, 'cuda (torch)', torch.cuda.is_available())
print('cuda_status', cuda_status())
"
step cuda-tests 240 env STRINGART_CUDA_TESTS=1 python3 -m pytest -q -p no:cacheprovider tests/rendering/test_cuda_sim.py tests/solvers/test_greedy_cuda_sim.py
step cuda-speed 240 python3 benchmarks/cuda_speed.py --repeat 3
for i in 1 2; do
  step "solve-cuda-$i" 120 python3 -m bench.cli solve camera --solver greedy --device cuda --timings --out "$LOG/solve-cuda"
done
step solve-cpu 120 python3 -m bench.cli solve camera --solver greedy --device cpu --timings --out "$LOG/solve-cpu"
if cmp -s "$LOG/solve-cuda/camera-greedy-4000.txt" "$LOG/solve-cpu/camera-greedy-4000.txt"; then
  say "GPU and CPU pin files: identical"
else
  say "GPU and CPU pin files: DIFFER"
fi
step train-cuda 150 python3 -m bench.cli train ae-chords --device cuda --epochs 1 --train-crops 320 --val-crops 16 --seed 0 --out "$LOG/train-cuda"
step train-cpu 150 python3 -m bench.cli train ae-chords --device cpu --epochs 1 --train-crops 320 --val-crops 16 --seed 0 --out "$LOG/train-cpu"
say "epoch lines (GPU, then CPU):"
grep -h "^epoch" "$LOG/train-cuda.log" "$LOG/train-cpu.log" | tee -a "$SUMMARY"
say "done: $SUMMARY"

#!/usr/bin/env bash
# Everything a GPU session should run, as one device call (at most 11.3 minutes by the step limits; each step has
# its own time limit, so one hang cannot eat the session):
#   1. the CUDA checks (tests/gpu: fp32 CUDA = CPU, fp16/bf16 blocks, channels-last, mixed-precision
#      training steps saved and continued) and the fast-path tests on CUDA (tests/train/test_fast_path.py);
#   2. generation at 256 and 1024, batch 32: ours (reference ops, --fast=on, --fast=compile, compiled with
#      CUDA graphs) against NVIDIA's generator with the same weights when NVIDIA_CHECKOUT is set (NVIDIA on an
#      H100: 795 and 291 img/s);
#   3. training at 256 and 1024, batch 32, --cfg=stylegan2: ours --fast=off/on/compile against NVIDIA's own
#      training step with its CUDA kernels, interleaved in one process (NVIDIA on an H100: 11.8 and 47.9
#      sec/kimg). Whether NVIDIA's custom ops loaded is printed: without them their code is slower than its
#      published speed, and the comparison would flatter ours.
# Logs go to $OUT (the device tool brings them back); a short table is printed last. Record the numbers
# in BENCHMARKS.md with the date and card, and set the CUDA default of --fast (ops/fastpath.resolve_mode)
# from them.
#
#   bash benchmarks/gpu_session.sh                      # on the device machine, from the repository root
#   NVIDIA_CHECKOUT=.nv bash benchmarks/gpu_session.sh  # with a checkout carried along (never committed)
set -u
OUT="${OUT:-/tmp/gpu_session}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
export STYLEGAN2_ADA_CACHE="${STYLEGAN2_ADA_CACHE:-$OUT/cache}"   # compile cache: the second compile is a hit

step() {  # step NAME SECONDS COMMAND...: runs with a time limit, logs to $OUT/NAME.txt, notes the exit code
    local name=$1 limit=$2
    shift 2
    echo "== $name (limit ${limit}s): $*"
    timeout "$limit" "$@" >"$OUT/$name.txt" 2>&1
    echo "$name exit $?" | tee -a "$OUT/summary.txt"
}

compare=()
if [ -n "${NVIDIA_CHECKOUT:-}" ] && [ -f "$NVIDIA_CHECKOUT/training/networks.py" ]; then
    # A copy outside the repository with one line patched, only so that NVIDIA's CUDA kernels load at all on
    # torch 2.11: their loader re-imports the module torch.utils.cpp_extension.load() built, which newer torch
    # does not register under that name; the copy takes load()'s return value instead.
    NV="$OUT/nvidia_patched"
    rm -rf "$NV" && cp -r "$NVIDIA_CHECKOUT" "$NV"
    "$PY" - "$NV/torch_utils/custom_ops.py" <<'PATCH' | tee "$OUT/nvidia_patch.txt"
import sys
path = sys.argv[1]
src = open(path).read()
fixed = src.replace("            torch.utils.cpp_extension.load(", "            module = torch.utils.cpp_extension.load(")
fixed = fixed.replace("        module = importlib.import_module(module_name)\n", "")
open(path, "w").write(fixed)
print(f"patched {path}: {src.count('torch.utils.cpp_extension.load(')} load() calls keep their module")
PATCH
    compare=(--compare-nvidia="$NV")
fi

# Eager runs first, compiled ones in their own steps: a slow compile then loses only its own numbers (the
# benchmarks print every round as it finishes, so even a step cut short leaves its rounds in the log).
step env 20 bash -c "nvidia-smi -L; $PY -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name())'"
step gpu_tests 100 "$PY" -m pytest -m gpu tests/gpu -q -p no:cacheprovider
step fast_path_tests 60 "$PY" -m pytest -m "gpu or not slow" tests/train/test_fast_path.py tests/nn/test_fast_networks.py \
    -q -p no:cacheprovider
step generate_speed 60 "$PY" benchmarks/generate_speed.py --res 256 1024 --batch 32 --iters 5 --warmup 3 --rounds 3 \
    --fast=on "${compare[@]}"
step generate_speed_compile 120 "$PY" benchmarks/generate_speed.py --res 256 1024 --batch 32 --iters 5 --warmup 3 \
    --rounds 3 --fast=compile --cuda-graphs --no-flops "${compare[@]}"
if [ ${#compare[@]} -gt 0 ]; then
    step train_speed_256 100 "$PY" benchmarks/train_speed.py --res=256 --batch=32 --batch-gpu=32 --cfg=stylegan2 \
        --device=cuda --modes=off,on --steps=16 --rounds=3 --warmup=17 --no-flops "${compare[@]}"
    step train_speed_256_compile 120 "$PY" benchmarks/train_speed.py --res=256 --batch=32 --batch-gpu=32 --cfg=stylegan2 \
        --device=cuda --modes=compile --steps=16 --rounds=2 --warmup=17 --no-flops "${compare[@]}"
    step train_speed_1024 100 "$PY" benchmarks/train_speed.py --res=1024 --batch=32 --batch-gpu=32 --cfg=stylegan2 \
        --device=cuda --modes=on --steps=8 --rounds=2 --warmup=9 --no-flops "${compare[@]}"
else  # no checkout: our loop alone, sec/kimg from its tick lines
    step train_speed_256 100 "$PY" benchmarks/train_speed.py --res=256 --batch=32 --batch-gpu=32 --kimg=2 --ticks=2 \
        --cfg=stylegan2 --device=cuda --fast=on
    step train_speed_1024 120 "$PY" benchmarks/train_speed.py --res=1024 --batch=32 --batch-gpu=32 --kimg=1 --ticks=2 \
        --cfg=stylegan2 --device=cuda --fast=on
fi

echo
cat "$OUT/env.txt"
tail -n 3 "$OUT/gpu_tests.txt" "$OUT/fast_path_tests.txt"
tail -n 14 "$OUT"/generate_speed*.txt
tail -n 8 "$OUT"/train_speed_*.txt
cat "$OUT/summary.txt"

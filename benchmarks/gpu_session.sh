#!/usr/bin/env bash
# Everything a GPU session should run, as one device call (about 8 minutes on an H100):
#   1. the CUDA checks (tests/gpu: fp32 CUDA = CPU, fp16/bf16 blocks, channels-last, mixed-precision
#      training steps saved and continued);
#   2. generator speed at 256 and 1024, batch 32 (NVIDIA on an H100: 795 and 291 img/s), and NVIDIA's
#      generator side by side when NVIDIA_CHECKOUT names a stylegan2-ada-pytorch checkout;
#   3. training speed at 256 (also with --nhwc --allow-tf32) and 1024, batch 32 on one GPU, --cfg=stylegan2
#      (NVIDIA: 11.8 and 47.9 sec/kimg).
# Logs go to $OUT (the device tool brings them back); a short table is printed last. Record the numbers
# in BENCHMARKS.md with the date and card.
#
#   bash benchmarks/gpu_session.sh                      # on the device machine, from the repository root
#   NVIDIA_CHECKOUT=.nv bash benchmarks/gpu_session.sh  # with a checkout carried along (never committed)
set -u
OUT="${OUT:-/tmp/gpu_session}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

step() {  # step NAME SECONDS COMMAND...: runs with a time limit, logs to $OUT/NAME.txt, notes the exit code
    local name=$1 limit=$2
    shift 2
    echo "== $name (limit ${limit}s): $*"
    timeout "$limit" "$@" >"$OUT/$name.txt" 2>&1
    echo "$name exit $?" | tee -a "$OUT/summary.txt"
}

step env 30 bash -c "nvidia-smi -L; $PY -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name())'"
step gpu_tests 200 "$PY" -m pytest -m gpu tests/gpu -q -p no:cacheprovider
compare=()
if [ -n "${NVIDIA_CHECKOUT:-}" ] && [ -f "$NVIDIA_CHECKOUT/training/networks.py" ]; then
    compare=(--compare-nvidia="$NVIDIA_CHECKOUT")
fi
step generate_speed 150 "$PY" benchmarks/generate_speed.py --res 256 1024 --batch 32 --iters 10 --warmup 3 "${compare[@]}"
step train_speed_256 100 "$PY" benchmarks/train_speed.py --res=256 --batch=32 --batch-gpu=32 --kimg=2 --ticks=2 \
    --cfg=stylegan2 --device=cuda
step train_speed_256_nhwc_tf32 100 "$PY" benchmarks/train_speed.py --res=256 --batch=32 --batch-gpu=32 --kimg=2 \
    --ticks=2 --cfg=stylegan2 --device=cuda --nhwc --allow-tf32
step train_speed_1024 160 "$PY" benchmarks/train_speed.py --res=1024 --batch=32 --batch-gpu=32 --kimg=1 --ticks=2 \
    --cfg=stylegan2 --device=cuda

echo
cat "$OUT/env.txt"
tail -n 3 "$OUT/gpu_tests.txt"
tail -n 8 "$OUT/generate_speed.txt"
tail -n 2 "$OUT"/train_speed_*.txt
cat "$OUT/summary.txt"

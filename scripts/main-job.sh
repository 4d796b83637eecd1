#!/usr/bin/env bash
# The README's main job: train a small U-Net on Fashion-MNIST (Debian's
# dataset-fashion-mnist), write a 64-image sample grid and report bits/dim on
# 1,000 test images. Sized for 2 CPU cores: 5 min 32 s measured on an idle one.
#   scripts/main-job.sh [OUT_DIR=runs/fashion-mnist] [extra fm-train flags...]
# Environment: FM_THREADS (threads for all three programs; default all cores),
# FM_EVAL_LIMIT (test images for bits/dim; default 1000).
set -euo pipefail
cd "$(dirname "$0")/.."
# The output folder is the first argument unless that is already a flag.
out=runs/fashion-mnist
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  out=$1
  shift
fi
bin=build
threads=(--threads "${FM_THREADS:-$(nproc)}")
limit=${FM_EVAL_LIMIT:-1000}

echo "== train (configs/fashion-mnist.json) -> $out"
"$bin/fm-train" --config configs/fashion-mnist.json --out "$out" "${threads[@]}" "$@"

echo "== sample 64 images -> $out/samples.png"
"$bin/fm-sample" --checkpoint "$out/checkpoints/latest.pt" --num 64 --out "$out/samples.png" "${threads[@]}"
"$bin/fm-sample" --checkpoint "$out/checkpoints/latest.pt" --num 64 --out "$out/samples.npy" "${threads[@]}"

echo "== bits/dim on $limit test images -> $out/eval.json"
"$bin/fm-eval" --checkpoint "$out/checkpoints/latest.pt" --limit "$limit" --json "$out/eval.json" "${threads[@]}"

cat <<DONE
== outputs
  checkpoints:   $out/checkpoints/latest.pt, $out/checkpoints/best.pt
  metrics:       $out/metrics.jsonl
  run config:    $out/config.json
  sample grid:   $out/samples.png   (64 images; float values in $out/samples.npy)
  bits/dim:      $out/eval.json
DONE

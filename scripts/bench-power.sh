#!/usr/bin/env bash
# Benchmark (not a test): trains configs/power.json for a fixed number of steps
# on a synthetic file of POWER's real shape (2,049,280 x 8 float64) and
# evaluates a prefix of the test split, then predicts a full run's time.
#   scripts/bench-power.sh [STEPS=500] [EVAL_ROWS=5000] [THREADS=nproc]
# Needs a build (scripts/build.sh) and /usr/bin/python3 with numpy.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-500}
eval_rows=${2:-5000}
threads=${3:-$(nproc)}
work=$(mktemp -d /tmp/fm-bench-power.XXXXXX)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/power"
/usr/bin/python3 -c "import numpy as np; np.save('$work/power/data.npy', np.random.RandomState(0).rand(2049280, 8))"

build/fm-train --config configs/power.json --set data.root="$work" --set train.steps="$steps" \
  --set train.log_every=100 --set train.val_every=0 --set train.checkpoint_every="$steps" \
  --out "$work/run" --threads "$threads" --log-level warn
build/fm-eval --checkpoint "$work/run/checkpoints/latest.pt" --limit "$eval_rows" \
  --json "$work/eval.json" --threads "$threads" --log-level warn >/dev/null

/usr/bin/python3 - "$work" "$steps" <<'PY'
import json, sys
work, steps = sys.argv[1], int(sys.argv[2])
rows = [json.loads(l) for l in open(f"{work}/run/metrics.jsonl")]
train_s = rows[-1]["seconds"]
config = json.load(open(f"{work}/run/config.json"))
full_steps = json.load(open("configs/power.json"))["train"]["steps"]
ev = json.load(open(f"{work}/eval.json"))
steps_per_s = steps / train_s
rows_per_s = ev["n"] / ev["seconds"]
print(f"train: {steps} steps in {train_s:.1f} s = {steps_per_s:.1f} steps/s "
      f"(batch {config['train']['batch_size']})")
print(f"eval:  {ev['n']} rows in {ev['seconds']:.1f} s = {rows_per_s:.1f} rows/s "
      f"({ev['solver']}, {ev['estimator']}, nfe/batch {ev['nfe_per_batch']:.0f})")
print(f"predicted full run: training {full_steps} steps ~ {full_steps / steps_per_s / 60:.1f} min, "
      f"test split (204,928 rows) ~ {204928 / rows_per_s / 60:.1f} min "
      "(dopri5's step count grows as the model trains, so the evaluation figure is a lower bound)")
PY

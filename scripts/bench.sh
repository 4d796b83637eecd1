#!/usr/bin/env bash
# The toolkit against the plain-PyTorch reference (../shared/bench/cfm_ref.py)
# on the three workloads of ../shared/bench/BENCHMARKS.md (issue #5):
#   scripts/bench.sh [--reps N] [--workloads toy2d,tabular8,fmnist] [--quick]
# Builds fm-train, fm-sample and fm-eval in Release (into $FM_BUILD_DIR, default
# build/), measures this machine's float32 matrix-multiply rate, then runs every
# phase of every workload with both sides, alternating them, 2 threads each
# ($FM_BENCH_THREADS), and writes bench/results.json and bench/results.md
# (medians, ratios toolkit / reference, FLOP fractions, peak memory, quality).
# The reference needs Debian's python3-torch and python3-numpy: they are
# installed here if missing (as root), and /usr/bin/python3 runs it.
#
# Repetitions after the first train tabular8 for 300 steps instead of 1,000 and
# every repetition evaluates tabular8's NLL on its first 2,000 test rows (one
# batch) instead of 10,000, on both sides: the full workload takes ~10 minutes
# per repetition on 2 cores. --full runs the workloads unshortened.
set -euo pipefail
cd "$(dirname "$0")/.."

reps=3
workloads=toy2d,tabular8,fmnist
later_steps="tabular8=300"
nll_n="tabular8=2000"
while (($#)); do
  case "$1" in
    --reps) reps=$2; shift 2 ;;
    --workloads) workloads=$2; shift 2 ;;
    --full) later_steps=""; nll_n=""; shift ;;
    --quick) reps=1; later_steps="toy2d=400,tabular8=100,fmnist=10"; nll_n="tabular8=500"; shift ;;
    *) echo "bench: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
build=${FM_BUILD_DIR:-build}
threads=${FM_BENCH_THREADS:-2}
ref_dir=../shared/bench
start=$(date +%s)

# The reference's interpreter and packages.
missing=()
for p in python3-torch python3-numpy; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bench: the reference needs ${missing[*]}; installing them now"
  if [ "$(id -u)" -ne 0 ]; then
    echo "bench: run as root (or sudo apt-get install ${missing[*]})" >&2
    exit 2
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ ! -f "$ref_dir/cfm_ref.py" ]; then
  echo "bench: $ref_dir/cfm_ref.py not found (the shared benchmark folder)" >&2
  exit 2
fi

# Release build of the three programs only (the tests are not needed here).
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target fm-train fm-sample fm-eval
echo "bench: built in $(($(date +%s) - start)) s; load average $(cut -d' ' -f1 /proc/loadavg)"

work=$(mktemp -d /tmp/fm-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 scripts/bench/run_bench.py --build "$build" --ref "$ref_dir" --out bench \
  --work "$work" --reps "$reps" --threads "$threads" --workloads "$workloads" \
  --later-train-steps "$later_steps" --nll-n "$nll_n"
echo "bench: total $(($(date +%s) - start)) s (build included); results in bench/results.md"

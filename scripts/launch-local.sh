#!/usr/bin/env bash
# Starts N cooperating processes of COMMAND on this machine, as torchrun would:
#   scripts/launch-local.sh N COMMAND [ARGS...]
#   scripts/launch-local.sh 2 build/fm-train --config configs/moons.json --threads 1
# Each process gets RANK, LOCAL_RANK, WORLD_SIZE=N, MASTER_ADDR=127.0.0.1 and
# MASTER_PORT ($MASTER_PORT if set, else a free port), so everything stays on
# the loopback interface. Output lines are prefixed with "[rank R] ". When one
# process exits non-zero the others are stopped and the script exits with that
# status; Ctrl-C stops them all.
set -euo pipefail

usage() {
  echo "usage: $0 N COMMAND [ARGS...]   (N >= 1 processes on 127.0.0.1)" >&2
  exit 2
}
[[ $# -ge 2 && $1 =~ ^[1-9][0-9]*$ ]] || usage
n=$1
shift

# A TCP port no socket of this machine uses, read from /proc (nothing is sent).
port_in_use() {
  local hex
  hex=$(printf ':%04X' "$1")
  awk -v p="$hex" 'NR > 1 && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 40000))
    if ! port_in_use "$port"; then
      echo "$port"
      return
    fi
  done
  echo "launch-local: no free port found; set MASTER_PORT" >&2
  exit 1
}

export MASTER_ADDR=127.0.0.1
export MASTER_PORT=${MASTER_PORT:-$(free_port)}
export WORLD_SIZE=$n

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 2
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}
trap 'stop_all; exit 130' INT TERM

for ((rank = 0; rank < n; ++rank)); do
  RANK=$rank LOCAL_RANK=$rank "$@" \
    > >(sed -u "s/^/[rank $rank] /") 2> >(sed -u "s/^/[rank $rank] /" >&2) &
  pids+=($!)
done

# Wait for every rank; the first failure stops the rest.
status=0
remaining=$n
while ((remaining > 0)); do
  for i in "${!pids[@]}"; do
    pid=${pids[$i]}
    [[ $pid == done ]] && continue
    kill -0 "$pid" 2>/dev/null && continue
    rc=0
    wait "$pid" || rc=$?
    pids[$i]=done
    remaining=$((remaining - 1))
    if ((rc != 0 && status == 0)); then
      status=$rc
      echo "launch-local: rank $i exited with status $rc; stopping the other ranks" >&2
      live=()
      for p in "${pids[@]}"; do [[ $p != done ]] && live+=("$p"); done
      pids=("${live[@]}")
      stop_all
      wait || true
      exit "$status"
    fi
  done
  sleep 0.2
done
wait || true  # the output filters
exit "$status"

#!/usr/bin/env bash
# Interleaved runs of two freshet binaries on one benchmark job: on this shared, noisy VM
# (10-40% drift within the hour) only runs taken turn about are comparable.
#   BASE=/tmp/base-target/release/freshet benches/ab.sh hop 2 3
#     -> job benches/jobs/hop.yaml, backfill, 2 workers, 3 rounds of (A=BASE, B=this tree)
# Each run starts with the outputs deleted and `sync`; prints medians of wall, user and
# system seconds and the peak RSS of each binary.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
job=${1:?job name, e.g. hop}
workers=${2:-1}
rounds=${3:-3}
A=${BASE:?set BASE to the binary to compare against}
B=${NEW:-$(freshet_bin)}
times=$(mktemp -d)
for _ in $(seq "$rounds"); do
  for v in A B; do
    rm -rf benches/out/*
    sync
    /usr/bin/time -f "%e %U %S %M" -a -o "$times/$v" "${!v}" run "benches/jobs/$job.yaml" \
      --mode backfill --workers "$workers" -q
  done
done
for v in A B; do
  python3 - "$v" "$times/$v" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[2]) if l.strip()]
med = lambda i: statistics.median(r[i] for r in rows)
walls = ", ".join(f"{r[0]:.2f}" for r in rows)
print(f"{sys.argv[1]}: wall {med(0):.2f} s ({walls}), user {med(1):.2f} s, "
      f"sys {med(2):.2f} s, peak RSS {max(r[3] for r in rows) / 1024:.0f} MB")
PY
done
rm -rf "$times" benches/out/*

#!/usr/bin/env bash
# End-to-end benchmark of `freshet run` on generated JSON events.
#   benches/e2e.sh                 # 10M events, parse / tumble / hop, backfill and stream, 1 and 2 workers
#   EVENTS=2000000 benches/e2e.sh  # smaller
# Prints a markdown table: wall seconds, events/s, events/s per worker, peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS="${EVENTS:-10000000}"
JOBS="${JOBS:-parse tumble hop}"
WORKERS="${WORKERS:-1 2}"
MODES="${MODES:-backfill stream}"
REPEAT="${REPEAT:-3}"   # runs per configuration; the median wall time is reported
. benches/lib.sh
bin=$(freshet_bin)
data=benches/data/events
if [ ! -f "$data/.complete-$EVENTS" ]; then
  rm -rf "$data"
  "$bin" gen events --out "$data" --events "$EVENTS"
  touch "$data/.complete-$EVENTS"
fi
bytes=$(du -cb "$data"/*.jsonl | tail -1 | cut -f1)
echo "input: $EVENTS events, $((bytes / 1000000)) MB JSON; machine: $(nproc) cores; $(date -u +%Y-%m-%d)"
echo
echo "| job | mode | workers | wall s (median of $REPEAT) | events/s | events/s per worker | peak RSS MB (max) | rows out |"
echo "|---|---|---|---|---|---|---|---|"
for job in $JOBS; do
  for mode in $MODES; do
    for w in $WORKERS; do
      extra=()
      [ "$mode" = stream ] && extra=(--exit-at-end)
      summary=$(mktemp)
      : > "$summary.times"
      for _ in $(seq "$REPEAT"); do
        # Start each run with no dirty pages left by the previous one: HOP writes 1.9 GB,
        # and back to back the kernel's writeback throttled later runs' writes to the
        # disk's speed (runs took up to twice as long, with the CPU half idle in iowait).
        sync
        /usr/bin/time -f "%e %M" -a -o "$summary.times" "$bin" run "benches/jobs/$job.yaml" --mode "$mode" "${extra[@]}" --workers "$w" -q --summary-json "$summary"
      done
      summarize_row "$summary.times" "$EVENTS" "$(rows_written "$summary")" "$w" "$job" "$mode"
      rm -f "$summary" "$summary.times"
    done
  done
done

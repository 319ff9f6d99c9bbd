#!/usr/bin/env bash
# Interval-join benchmark: the delivery-time feature (benches/jobs/join.yaml) on generated
# deliveries (a creation and, for 95%, a drop-off 10-60 min later; 5% of events up to 2 min late).
#   benches/join.sh                     # 5M deliveries, backfill and stream, 1 and 2 workers
#   DELIVERIES=1000000 benches/join.sh  # smaller
# Prints a markdown table: wall seconds (median), events/s, events/s per worker, peak RSS
# (deliveries/s = events/s / 1.95).
set -euo pipefail
cd "$(dirname "$0")/.."
DELIVERIES="${DELIVERIES:-5000000}"
WORKERS="${WORKERS:-1 2}"
MODES="${MODES:-backfill stream}"
REPEAT="${REPEAT:-3}"
. benches/lib.sh
bin=$(freshet_bin)
data=benches/data/deliveries
if [ ! -f "$data/.complete-$DELIVERIES" ]; then
  rm -rf "$data"
  "$bin" gen deliveries --out "$data" --deliveries "$DELIVERIES" --files 4
  touch "$data/.complete-$DELIVERIES"
fi
events=$(cat "$data"/*.jsonl | wc -l)
bytes=$(du -cb "$data"/*.jsonl | tail -1 | cut -f1)
echo "input: $DELIVERIES deliveries, $events events, $((bytes / 1000000)) MB JSON; machine: $(nproc) cores; $(date -u +%Y-%m-%d)"
echo
echo "| job | mode | workers | wall s (median of $REPEAT) | events/s | events/s per worker | peak RSS MB (max) | rows out |"
echo "|---|---|---|---|---|---|---|---|"
for mode in $MODES; do
  for w in $WORKERS; do
    extra=()
    [ "$mode" = stream ] && extra=(--exit-at-end)
    summary=$(mktemp)
    : > "$summary.times"
    for _ in $(seq "$REPEAT"); do
      /usr/bin/time -f "%e %M" -a -o "$summary.times" "$bin" run benches/jobs/join.yaml --mode "$mode" "${extra[@]}" --workers "$w" -q --summary-json "$summary"
    done
    summarize_row "$summary.times" "$events" "$(rows_written "$summary")" "$w" join "$mode"
    rm -f "$summary" "$summary.times"
  done
done

#!/usr/bin/env bash
# Interval-join benchmark: the delivery-time feature (benches/jobs/join.yaml) on generated
# deliveries (a creation and, for 95%, a drop-off 10-60 min later; 5% of events up to 2 min late).
#   benches/join.sh                     # 5M deliveries, backfill and stream, 1 and 2 workers
#   DELIVERIES=1000000 benches/join.sh  # smaller
# Prints a markdown table: wall seconds (median), deliveries/s, events/s per worker, peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
DELIVERIES="${DELIVERIES:-5000000}"
WORKERS="${WORKERS:-1 2}"
MODES="${MODES:-backfill stream}"
REPEAT="${REPEAT:-3}"
cargo build --release --quiet -p freshet-cluster
bin=target/release/freshet
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
echo "| mode | workers | wall s (median of $REPEAT) | deliveries/s | events/s per worker | peak RSS MB (max) | rows out |"
echo "|---|---|---|---|---|---|---|"
for mode in $MODES; do
  for w in $WORKERS; do
    extra=()
    [ "$mode" = stream ] && extra=(--exit-at-end)
    summary=$(mktemp)
    : > "$summary.times"
    for _ in $(seq "$REPEAT"); do
      /usr/bin/time -f "%e %M" -a -o "$summary.times" "$bin" run benches/jobs/join.yaml --mode "$mode" "${extra[@]}" --workers "$w" -q --summary-json "$summary"
    done
    rows=$(python3 -c "import json; print(json.load(open('$summary'))['rows_written'])")
    python3 - "$mode" "$w" "$summary.times" "$DELIVERIES" "$events" "$rows" <<'PY'
import statistics, sys
mode, w, times, deliveries, events, rows = sys.argv[1:]
runs = [tuple(map(float, l.split())) for l in open(times) if l.strip() and l[0].isdigit()]
wall = statistics.median(r[0] for r in runs)
rss = max(r[1] for r in runs)
w, deliveries, events = int(w), int(deliveries), int(events)
print(f"| {mode} | {w} | {wall:.2f} | {deliveries/wall/1e6:.2f}M | {events/wall/w/1e6:.2f}M | {rss/1024:.0f} | {rows} |")
PY
    rm -f "$summary" "$summary.times"
  done
done

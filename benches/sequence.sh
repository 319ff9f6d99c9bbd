#!/usr/bin/env bash
# Sequence-feature benchmark: `TOP(2000, action) OVER (PARTITION BY user_id ... RANGE
# INTERVAL '90' DAY PRECEDING)` per event (benches/jobs/sequence.yaml), backfill mode.
#   benches/sequence.sh                      # 10M events; 1 and 2 workers; median of 3
#   EVENTS=1000000 REPEAT=1 benches/sequence.sh
#   BIN=/tmp/freshet-before benches/sequence.sh   # a prebuilt binary (no build)
# The feature writes ~13 billion array elements (~180 GB of JSON) for 10M events, more
# than this machine's disk: the sink files are symlinks to /dev/null, so the figures
# include encoding every row but not storing it (see benches/README.md).
# Prints a markdown table: wall seconds, events/s, events/s per worker, peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS="${EVENTS:-10000000}"
WORKERS="${WORKERS:-1 2}"
REPEAT="${REPEAT:-3}"
. benches/lib.sh
BIN=$(freshet_bin)
# The 10M-event input is e2e.sh's; other sizes get their own directory.
data=benches/data/events
[ "$EVENTS" != 10000000 ] && data="benches/data/events-$EVENTS"
if [ ! -f "$data/.complete-$EVENTS" ]; then
  rm -rf "$data"
  "$BIN" gen events --out "$data" --events "$EVENTS"
  touch "$data/.complete-$EVENTS"
fi
# The job, reading $data and writing to links to /dev/null in its own directory.
out="benches/out/sequence-$EVENTS-$$"
mkdir -p "$out"
trap 'rm -rf "$out"' EXIT
sed -e "s#path: ../data/events/\*.jsonl#path: $PWD/$data/*.jsonl#" \
    -e "s#path: ../out/sequence/sequence.jsonl#path: $PWD/$out/sequence.jsonl#" \
    benches/jobs/sequence.yaml > "$out/job.yaml"
bytes=$(du -cb "$data"/*.jsonl | tail -1 | cut -f1)
echo "input: $EVENTS events, $((bytes / 1000000)) MB JSON; machine: $(nproc) cores; $(date -u +%Y-%m-%d); binary: $BIN"
echo
echo "| job | mode | workers | wall s (median of $REPEAT) | events/s | events/s per worker | peak RSS MB (max) | rows out |"
echo "|---|---|---|---|---|---|---|---|"
for w in $WORKERS; do
  summary=$(mktemp)
  : > "$summary.times"
  for _ in $(seq "$REPEAT"); do
    # The run removes other runs' worker files, so the links are made before each run.
    for f in sequence.jsonl sequence.0.jsonl sequence.1.jsonl; do
      ln -sfn /dev/null "$out/$f"
    done
    /usr/bin/time -f "%e %M" -a -o "$summary.times" "$BIN" run "$out/job.yaml" --mode backfill --workers "$w" -q --summary-json "$summary"
  done
  summarize_row "$summary.times" "$EVENTS" "$(rows_written "$summary")" "$w" sequence backfill
  rm -f "$summary" "$summary.times"
done

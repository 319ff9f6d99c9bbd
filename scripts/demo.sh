#!/usr/bin/env bash
# Builds freshet, generates a deterministic ride-sharing event stream (1M events, once)
# and runs the example job in backfill mode, then replays it through the live path, then
# writes the same features as Parquet training data and reads that back as a source.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS="${EVENTS:-1000000}"
cargo build --release --quiet -p freshet-cluster
bin=target/release/freshet
# 100 events/s of event time: 1M events span ~2.8 hours, so the generator's
# hours-late events really are hours late (and some land in the dead-letter file).
if [ ! -f data/events/.complete-"$EVENTS"-r100 ]; then
  rm -rf data/events
  "$bin" gen events --out data/events --events "$EVENTS" --files 4 --rate 100
  touch data/events/.complete-"$EVENTS"-r100
fi
echo
echo "== backfill (training data: every window's final value) =="
"$bin" run configs/examples/rides.yaml --mode backfill --workers 2
echo
echo "== stream, replaying the same files through the live path (--exit-at-end) =="
# In 256 KiB watermark steps, as a live source that has caught up moves: events that
# arrive minutes late then find their windows already emitted and correct them. (In the
# default 16 MiB steps a step spans ~20 minutes of this data's event time, so the same
# events would still be on time.) The final values are the same either way.
"$bin" run configs/examples/rides.yaml --mode stream --exit-at-end --workers 2 --batch-bytes 256KiB
echo
echo "== the same features as training data: a Parquet table per worker =="
"$bin" run configs/examples/rides_training.yaml --mode backfill --workers 2
ls -l out/training/
echo
echo "== Parquet history as a source: the training tables read back =="
"$bin" run configs/examples/training_history.yaml --mode backfill
head -n 3 out/history/summary.jsonl
echo
echo "a few feature rows (out/features.*.jsonl, one file per worker):"
head -n 3 out/features.0.jsonl

#!/usr/bin/env bash
# Kafka source -> Redis sink, end to end, against the local services:
#   benches/kafka_redis.sh                 # 5M events; throughput for 1 and 2 workers, then latency
#   EVENTS=500000 benches/kafka_redis.sh   # smaller
# Throughput: events are produced to a 4-partition topic first, then `freshet run --mode
# stream --exit-at-end` reads them all and writes two features to Redis.
# Latency: cluster/examples/latency_probe.rs produces live events at RATE/s while the job
# benches/jobs/latency.yaml runs, and times each event's window value arriving in Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS="${EVENTS:-5000000}"
WORKERS="${WORKERS:-1 2}"
RATE="${RATE:-20000}"
SECONDS_LIVE="${SECONDS_LIVE:-20}"
scripts/services.sh start
eval "$(scripts/services.sh env)"
cargo build --release --quiet -p freshet-cluster --bins --example latency_probe
bin=target/release/freshet
infra=configs/infra/local.yaml
data=benches/data/kafka-events
if [ ! -f "$data/.complete-$EVENTS" ]; then
  rm -rf "$data"
  "$bin" gen events --out "$data" --events "$EVENTS" --files 4
  touch "$data/.complete-$EVENTS"
fi
topic() { # name partitions: recreate empty
  "$FRESHET_TANSU" topic delete "$1" --broker "tcp://$KAFKA_BROKERS" >/dev/null 2>&1 || true
  "$FRESHET_TANSU" topic create "$1" --partitions "$2" --broker "tcp://$KAFKA_BROKERS" >/dev/null
}
topic bench-events 4
echo "producing $EVENTS events to bench-events (4 partitions) ..."
"$bin" produce --infra "$infra" --topic bench-events --key-field user_id "$data"/*.jsonl
echo "input: $EVENTS events; machine: $(nproc) cores; $(date -u +%Y-%m-%d)"
echo
echo "| path | workers | wall s | events/s | events/s per worker | peak RSS MB | rows to Redis |"
echo "|---|---|---|---|---|---|---|"
for w in $WORKERS; do
  summary=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$summary.time" "$bin" run benches/jobs/kafka_redis.yaml --infra "$infra" \
    --mode stream --exit-at-end --workers "$w" -q --summary-json "$summary"
  python3 - "$w" "$summary" "$summary.time" "$EVENTS" <<'PY'
import json, sys
w, summary, times, events = sys.argv[1:]
s = json.load(open(summary))
wall, rss = map(float, open(times).read().split()[-2:])
w, events = int(w), int(events)
rate = s["events_read"] / wall
print(f"| kafka -> redis | {w} | {wall:.2f} | {rate/1e6:.2f}M | {rate/w/1e6:.2f}M | {rss/1024:.0f} | {s['rows_written']} |")
PY
  rm -f "$summary" "$summary.time"
done
echo
topic bench-latency 2
"$bin" run benches/jobs/latency.yaml --infra "$infra" --mode stream -q &
job=$!
trap 'kill $job 2>/dev/null || true' EXIT
sleep 2
target/release/examples/latency_probe --brokers "$KAFKA_BROKERS" --topic bench-latency \
  --redis "$REDIS_URL" --feature lat_count --version 1 --rate "$RATE" --seconds "$SECONDS_LIVE" \
  --window-ms 1000 --delay-ms 1000
kill -TERM $job; wait $job || true

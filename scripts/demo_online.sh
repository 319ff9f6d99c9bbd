#!/usr/bin/env bash
# The online path: ride events in Kafka, features in Redis, looked up as a model would.
# Starts the local services (scripts/services.sh: a Kafka-protocol broker, redis-server;
# the broker builds once, ~20 minutes on 2 cores), generates events, produces them to a
# topic, runs configs/examples/rides_kafka.yaml through the live path with --exit-at-end,
# and reads one feature value back from Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS="${EVENTS:-200000}"
scripts/services.sh start
eval "$(scripts/services.sh env)"
cargo build --release --quiet -p freshet-cluster
bin=target/release/freshet
infra=configs/infra/local.yaml
rm -rf data/online && "$bin" gen events --out data/online --events "$EVENTS" --files 2 --rate 100
"$FRESHET_TANSU" topic delete ride-events --broker "tcp://$KAFKA_BROKERS" >/dev/null 2>&1 || true
"$FRESHET_TANSU" topic create ride-events --partitions 3 --broker "tcp://$KAFKA_BROKERS" >/dev/null
"$bin" produce --infra "$infra" --topic ride-events --key-field user_id data/online/*.jsonl
echo
echo "== stream from Kafka into Redis (--exit-at-end: stop at the end of the topic) =="
"$bin" run configs/examples/rides_kafka.yaml --infra "$infra" --mode stream --exit-at-end --workers 2
echo
key=$(redis-cli -u "$REDIS_URL" --scan --pattern 'rides_per_user_30m:1:*' | sort | head -n 1 || true)
echo "== a feature value as a model reads it: HGETALL $key =="
redis-cli -u "$REDIS_URL" HGETALL "$key"

#!/usr/bin/env bash
# The whole test suite. CI runs exactly this (see .ci/run).
#
# Connector tests talk to real servers on loopback (a Kafka-protocol broker, redis-server,
# moto for S3/Kinesis/DynamoDB): scripts/services.sh installs what is missing (the broker
# builds once into target/tools), starts them, and they are stopped again at the end,
# unless they were already running before this script started them.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo fmt --all -- --check

already_running=$(scripts/services.sh status | grep -c running || true)
scripts/services.sh start
if [[ "$already_running" -eq 0 ]]; then
    trap 'scripts/services.sh stop' EXIT
fi
eval "$(scripts/services.sh env)"

cargo clippy --workspace --all-targets --locked --quiet -- -D warnings
cargo test --workspace --locked

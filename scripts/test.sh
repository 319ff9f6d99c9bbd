#!/usr/bin/env bash
# The whole test suite. CI runs exactly this (see .ci/run). No external services are
# needed yet: every connector so far works on local files.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked --quiet -- -D warnings
cargo test --workspace --locked

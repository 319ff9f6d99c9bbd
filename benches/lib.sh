# Shared by the end-to-end bench scripts (source it): building or choosing the binary, and
# one markdown row per configuration from /usr/bin/time's "%e %M" lines.

# freshet_bin: $BIN if set, else a release build of this checkout.
freshet_bin() {
  if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet -p freshet-cluster
    BIN="${CARGO_TARGET_DIR:-target}/release/freshet"
  fi
  echo "$BIN"
}

# summarize_row TIMES EVENTS ROWS WORKERS LABEL...: prints
# | LABEL... | WORKERS | median wall s | events/s | events/s per worker | max peak RSS MB | ROWS |
summarize_row() {
  python3 - "$@" <<'PY'
import statistics, sys
times, events, rows, w, *labels = sys.argv[1:]
runs = [tuple(map(float, l.split())) for l in open(times) if l.strip() and l[0].isdigit()]
wall = statistics.median(r[0] for r in runs)
rss = max(r[1] for r in runs)
w, events = int(w), int(events)
rate = events / wall
cells = labels + [str(w), f"{wall:.2f}", f"{rate/1e6:.2f}M", f"{rate/w/1e6:.2f}M", f"{rss/1024:.0f}", rows]
print("| " + " | ".join(cells) + " |")
PY
}

# rows_written SUMMARY_JSON: the rows the run wrote.
rows_written() {
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['rows_written'])" "$1"
}

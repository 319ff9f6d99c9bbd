//! A window table function's rows are aggregated per window only when grouped (or made
//! DISTINCT) by a bound that identifies the window: `window_end` for any, `window_start`
//! for all but CUMULATE. Otherwise Flink aggregates the rows of every window sharing it
//! together, as an updating result; freshet planned those as per-window aggregates, so a
//! CUMULATE query grouped by `window_start` gave one row per cumulating window instead.

mod common;

use std::path::Path;

use planner::{parse_job, plan_job, ErrorKind};

use common::rides::{one, with_sql};

const CUMULATE: &str = "TABLE(CUMULATE(TABLE events, DESCRIPTOR(rowtime), INTERVAL '1' MINUTE, INTERVAL '10' MINUTES))";
const TUMBLE: &str = "TABLE(TUMBLE(TABLE events, DESCRIPTOR(rowtime), INTERVAL '1' HOUR))";

#[test]
fn one_window_bound_alone_is_an_error() {
    for sql in [
        format!("SELECT geohash, COUNT(*) AS n, window_start\nFROM {CUMULATE}\nGROUP BY geohash, window_start"),
        format!("SELECT DISTINCT geohash, window_start\nFROM {CUMULATE}"),
        format!("SELECT DISTINCT geohash\nFROM {TUMBLE}"),
    ] {
        let (d, text) = one(&with_sql(&sql));
        assert_eq!(d.kind, ErrorKind::InvalidWindow, "{sql}\n{text}");
        assert!(d.hint.as_deref().unwrap().contains("window_start, window_end"), "{text}");
    }
    for sql in [
        format!("SELECT geohash, COUNT(*) AS n, window_start\nFROM {CUMULATE}\nGROUP BY geohash, window_start, window_end"),
        format!("SELECT DISTINCT geohash, window_start, window_end\nFROM {TUMBLE}"),
        // A bound that identifies the window: the end of any, the start of a TUMBLE's.
        format!("SELECT geohash, COUNT(*) AS n, window_end\nFROM {CUMULATE}\nGROUP BY geohash, window_end"),
        format!("SELECT geohash, COUNT(*) AS n, window_start\nFROM {TUMBLE}\nGROUP BY geohash, window_start"),
        format!("SELECT DISTINCT geohash, window_start\nFROM {TUMBLE}"),
    ] {
        // (The rides job declares `type: int`; a DISTINCT feature has no value column.)
        let text = with_sql(&sql).replace("    type: int\n", "");
        let job = parse_job(Path::new("job.yaml"), &text).unwrap();
        plan_job(&job).unwrap_or_else(|d| panic!("{sql}: {d}"));
    }
}

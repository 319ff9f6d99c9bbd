//! Whatever a user types, planning never panics: it plans, or it fails with a diagnostic
//! that says where. Inputs are mangled versions of a valid job (bytes replaced, deleted or
//! inserted, SQL tokens shuffled in).

use std::path::Path;

use proptest::prelude::*;

use planner::{parse_job, plan_job};

const JOB: &str = r#"name: rides
sources:
  - name: events
    connector: file
    path: data/*.jsonl
    format: json
    schema: { user_id: string!, geohash: string, action: string, fare: float, ok: bool, event_time: timestamp }
    event_time: event_time
    watermark_delay: 5m
features:
  - name: f
    allowed_lateness: 1h
    sql: |
      SELECT geohash, COUNT(*) AS rides, SUM(fare) AS s, HOP_END(rowtime, INTERVAL '1' MINUTE, INTERVAL '30' MINUTES) AS e
      FROM events WHERE action = 'request_ride' AND ok AND fare BETWEEN 1 AND 10
      GROUP BY geohash, HOP(rowtime, INTERVAL '1' MINUTE, INTERVAL '30' MINUTES) HAVING COUNT(*) > 1
sinks:
  - { name: out, connector: file, path: out/f.jsonl }
"#;

const TOKENS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "HAVING",
    "COUNT(*)",
    "SUM(",
    ")",
    "(",
    ",",
    "'",
    "`",
    "AND",
    "OR",
    "NOT",
    "TUMBLE(",
    "HOP(",
    "TABLE(",
    "DESCRIPTOR(",
    "INTERVAL '1' HOUR",
    "window_start",
    "rowtime",
    "geohash",
    "fare",
    "NULL",
    "CASE WHEN",
    "END",
    "CAST(",
    "AS",
    "INT",
    "1e999",
    "-",
    "/",
    "0",
    "IN (",
    "LIKE",
    "%",
    ":",
    "\n",
    "  ",
    "- ",
    "{",
    "}",
];

fn check(text: &str) -> Result<(), TestCaseError> {
    let outcome = std::panic::catch_unwind(|| match parse_job(Path::new("job.yaml"), text) {
        Err(d) => Err(d),
        Ok(job) => plan_job(&job).map(|_| ()),
    });
    let Ok(result) = outcome else {
        return Err(TestCaseError::fail(format!(
            "planning panicked on:\n{text}"
        )));
    };
    if let Err(diagnostics) = result {
        prop_assert!(!diagnostics.0.is_empty());
        for d in &diagnostics.0 {
            prop_assert!(
                d.location.is_some(),
                "no location in `{}` for:\n{}",
                d,
                text
            );
            prop_assert!(!d.message.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn mangled_bytes_never_panic(edits in proptest::collection::vec((0usize..2000, 0u8..3, proptest::char::range(' ', '~')), 1..6)) {
        let mut text: Vec<char> = JOB.chars().collect();
        for (pos, op, c) in edits {
            let p = pos % (text.len() + 1);
            match op {
                0 if p < text.len() => text[p] = c,
                1 if p < text.len() => { text.remove(p); }
                _ => text.insert(p, c),
            }
        }
        check(&text.into_iter().collect::<String>())?;
    }

    #[test]
    fn shuffled_sql_tokens_never_panic(tokens in proptest::collection::vec(proptest::sample::select(TOKENS), 1..25)) {
        let sql = tokens.join(" ");
        let text = JOB.replace(
            "      SELECT geohash, COUNT(*) AS rides",
            &format!("      {sql}\n      SELECT geohash, COUNT(*) AS rides"),
        );
        check(&text)?;
    }
}

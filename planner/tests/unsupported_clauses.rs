//! Clauses the SQL parser reads (it knows many dialects) but a feature cannot honour are
//! errors at their position, never dropped: `FETCH FIRST 1 ROWS ONLY` used to plan and
//! emit every row.

mod common;

use std::path::Path;

use planner::{parse_job, plan_job, ErrorKind};

use common::line_col;
use common::rides::{one, with_sql};

const GROUP: &str = "GROUP BY geohash, TUMBLE(rowtime, INTERVAL '1' HOUR)";

fn plans(sql: &str) -> bool {
    let job = parse_job(Path::new("job.yaml"), &with_sql(sql)).unwrap();
    plan_job(&job).is_ok()
}

/// Each query plans without its clause and is rejected with it, naming the clause, at a
/// line of the SQL (lines 20-23 of the job file).
#[test]
fn dialect_clauses_are_errors_not_ignored() {
    let base = format!("SELECT geohash, COUNT(*) AS rides\nFROM events\n{GROUP}");
    assert!(plans(&base));
    let cases: &[(&str, &str)] = &[
        (&format!("{base}\nFETCH FIRST 1 ROWS ONLY"), "FETCH FIRST"),
        (&format!("{base}\nFOR UPDATE"), "FOR UPDATE"),
        (
            &format!("SELECT TOP 1 geohash, COUNT(*) AS rides\nFROM events\n{GROUP}"),
            "SELECT TOP",
        ),
        (
            &format!("SELECT geohash, COUNT(*) AS rides\nINTO t\nFROM events\n{GROUP}"),
            "INTO",
        ),
        (&format!("{base}\nSORT BY geohash"), "SORT BY"),
        (&format!("{base}\nCLUSTER BY geohash"), "CLUSTER BY"),
        (&format!("{base}\nDISTRIBUTE BY geohash"), "DISTRIBUTE BY"),
        (
            &format!(
                "SELECT geohash, COUNT(*) AS rides\nFROM events TABLESAMPLE BERNOULLI (1)\n{GROUP}"
            ),
            "TABLESAMPLE",
        ),
        (
            &format!("SELECT geohash, COUNT(*) AS rides\nFROM events WITH (NOLOCK)\n{GROUP}"),
            "table hint",
        ),
        (
            &format!("SELECT geohash, COUNT(*) AS rides\nFROM events AS e (a, b, c)\n{GROUP}"),
            "column aliases",
        ),
        (&format!("{base}\nLIMIT 1"), "LIMIT"),
        (&format!("{base}\nORDER BY geohash"), "ORDER BY"),
    ];
    for (sql, what) in cases {
        let (d, text) = one(&with_sql(sql));
        assert_eq!(d.kind, ErrorKind::Unsupported, "{sql}\n{text}");
        assert!(d.message.contains(what), "{sql}\n{text}");
        let line = line_col(&d).0;
        assert!((20..=24).contains(&line), "{sql}: line {line}\n{text}");
    }
}

/// The same clauses inside a subquery in FROM are errors too.
#[test]
fn dialect_clauses_in_a_subquery_are_errors() {
    let sql = format!(
        "SELECT geohash, COUNT(*) AS rides\nFROM (SELECT * FROM events FETCH FIRST 5 ROWS ONLY) AS s\n{GROUP}"
    );
    let (d, text) = one(&with_sql(&sql));
    assert!(d.message.contains("FETCH FIRST"), "{text}");
}

/// A blank alias is an error at the alias: it wrote a field named "" (found by QA).
#[test]
fn a_blank_alias_is_an_error() {
    for sql in [
        format!("SELECT geohash, COUNT(*) AS ``\nFROM events\n{GROUP}"),
        format!("SELECT geohash, COUNT(*) AS ` `\nFROM events\n{GROUP}"),
    ] {
        let (d, text) = one(&with_sql(&sql));
        assert_eq!(d.kind, ErrorKind::Syntax, "{text}");
        assert!(d.message.contains("cannot be blank"), "{text}");
        assert_eq!(line_col(&d).0, 20, "{text}");
    }
}

/// Optimizer hints change no result and are ignored, as is a comment the parser reads as
/// one (`--total+fees` right after SELECT).
#[test]
fn optimizer_hints_and_comments_after_select_plan() {
    for sql in [
        format!("SELECT /*+ BROADCAST(events) */ geohash, COUNT(*) AS rides\nFROM events\n{GROUP}"),
        format!("SELECT --total+fees\n geohash, COUNT(*) AS rides\nFROM events\n{GROUP}"),
    ] {
        assert!(plans(&sql), "{sql}");
    }
}

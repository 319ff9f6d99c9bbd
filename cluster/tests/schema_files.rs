//! `validate` reads Avro and Protobuf sources' schema files and checks them against the
//! declared columns, as a run's readers do: before, a missing schema file or a column
//! declared `int` over an Avro boolean validated fine and failed only when a run started,
//! with no position in the job file. No server is needed: nothing connects.

mod common;

use std::path::Path;

use common::freshet;

fn schemas() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../configs/examples/schemas")
        .to_string_lossy()
        .into_owned()
}

fn infra() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../configs/infra/local.yaml")
        .to_string_lossy()
        .into_owned()
}

/// A job reading a Kafka topic of Avro rides; `schema_file` and the `fare` column's type
/// are the test's.
fn job(dir: &Path, schema_file: &str, fare: &str) -> String {
    let path = dir.join("job.yaml");
    std::fs::write(
        &path,
        format!(
            "name: avro
sources:
  - name: rides
    connector: kafka
    cluster: local
    topic: rides
    format: avro
    schema_file: {schema_file}
    schema:
      ride_id: string!
      event_time: timestamp
      fare: {fare}
    event_time: event_time
features:
  - name: n
    sql: SELECT ride_id, COUNT(*) AS n FROM rides GROUP BY ride_id, TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - {{ name: out, connector: file, path: out/n.jsonl }}
"
        ),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

fn validate(job: &str) -> (bool, String) {
    let out = freshet()
        .args(["validate", job, "--infra", &infra()])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_checks_avro_schema_files_at_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = format!("{}/ride_event.avsc", schemas());
    let (ok, err) = validate(&job(dir.path(), &good, "float"));
    assert!(ok, "{err}");
    // Line 8 of the job file is `    schema_file: ...`; the value starts at column 18.
    for (schema_file, fare, needle) in [
        (format!("{}/nope.avsc", schemas()), "float", "nope.avsc"),
        (good.clone(), "bool", "fare"),
    ] {
        let (ok, err) = validate(&job(dir.path(), &schema_file, fare));
        assert!(!ok, "{schema_file} {fare}");
        assert!(err.contains("job.yaml:8:18: source `rides`"), "{err}");
        assert!(err.contains(needle), "{err}");
        assert!(err.contains("hint:"), "{err}");
    }
}

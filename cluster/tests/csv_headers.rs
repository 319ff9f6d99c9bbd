//! CSV files as a user meets them: headers that lack a column, name one twice or lack a
//! required one, and quoted empty fields. Expected rows are worked out by hand below.

mod common;

use common::{freshet, rows_of};

const JOB: &str = r#"name: csv_headers
sources:
  - name: orders
    connector: file
    path: data/*.csv
    format: csv
    schema: { store: string!, t: timestamp, amount: float }
    event_time: t
    watermark_delay: 1m
features:
  - name: per_store
    sql: |
      SELECT store, COUNT(*) AS n, SUM(amount) AS total
      FROM orders GROUP BY store, TUMBLE(rowtime, INTERVAL '1' MINUTE)
sinks:
  - { name: out, connector: file, path: out/f.jsonl }
"#;

#[test]
fn header_problems_are_warned_with_the_file_and_no_record_is_lost() {
    for workers in ["1", "2"] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        // `""` is the empty string: a store of its own, not NULL (which `store!` refuses).
        std::fs::write(
            data.join("a.csv"),
            "store,t,amount\n\"\",1000,2.5\ns1,2000,1.5\n",
        )
        .unwrap();
        // No `amount`: NULL in the file's records, which still count.
        std::fs::write(data.join("b.csv"), "store,t,amounts\ns1,3000,9\n").unwrap();
        // `store` twice (the header on line 2, after a blank line): its record is kept
        // as a dead letter, not read from either field. (`store,t,STORE` would be no
        // problem: a name equal to the column's wins over one in another case.)
        std::fs::write(data.join("c.csv"), "\nstore,t,store,amount\ns2,1000,s3,1\n").unwrap();
        // No `store`, which is required.
        std::fs::write(data.join("d.csv"), "shop,t,amount\ns4,1000,1\n").unwrap();
        std::fs::write(dir.path().join("job.yaml"), JOB).unwrap();
        let job = dir.path().join("job.yaml");
        let out = freshet()
            .args(["run", job.to_str().unwrap(), "--workers", workers, "-q"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");

        let mut got: Vec<String> = rows_of(&dir.path().join("out/f.0.jsonl"))
            .into_iter()
            .chain(rows_of(&dir.path().join("out/f.1.jsonl")))
            .chain(rows_of(&dir.path().join("out/f.jsonl")))
            .map(|r| {
                format!(
                    "{} {} {} {}",
                    r["store"], r["n"], r["total"], r["window_end"]
                )
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            ["\"\" 1 2.5 60000", "\"s1\" 2 1.5 60000"],
            "workers {workers}"
        );

        // One warning per file with a problem, naming the file and the header's line.
        let warned = |file: &str, line: u32, what: &str| {
            let hits: Vec<&str> = stderr
                .lines()
                .filter(|l| l.contains(&format!("{file}:{line}: source `orders`")))
                .collect();
            assert_eq!(hits.len(), 1, "{file}: {stderr}");
            assert!(hits[0].contains(what), "{file}: {}", hits[0]);
        };
        warned(
            "b.csv",
            1,
            "has no column `amount` (did you mean `amounts`?): it is NULL in every record",
        );
        warned("c.csv", 2, "names column `store` twice (fields 1 and 3");
        warned("d.csv", 1, "has no column `store`, which is required");
        assert!(!stderr.contains("a.csv:"), "{stderr}");
        // stderr is a pipe here, not a terminal: no colour codes in the log.
        assert!(!stderr.contains('\x1b'), "{stderr:?}");

        let mut dl: Vec<(String, u64, String)> = rows_of(&dir.path().join("out/dead_letter.jsonl"))
            .iter()
            .map(|d| {
                let file = d["file"].as_str().unwrap();
                let file = file.rsplit('/').next().unwrap().to_string();
                (
                    file,
                    d["line"].as_u64().unwrap(),
                    d["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        dl.sort();
        assert_eq!(dl.len(), 2, "{dl:?}");
        assert_eq!((dl[0].0.as_str(), dl[0].1), ("c.csv", 3));
        assert!(
            dl[0]
                .2
                .contains("the file's CSV header names column `store` twice"),
            "{dl:?}"
        );
        assert_eq!((dl[1].0.as_str(), dl[1].1), ("d.csv", 2));
        assert!(
            dl[1].2.contains("has no column `store`, which is required"),
            "{dl:?}"
        );
    }
}

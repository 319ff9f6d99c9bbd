//! The table a Parquet file sink writes (`format: parquet`): one column per field of its
//! features' rows, as the JSON lines of a `format: json` sink would have them.
//!
//! Columns, in order: `feature` and `version`; then the value outputs of the sink's
//! features (grouping keys and aggregates, in SELECT order), the union by name (ignoring
//! ASCII case, as SQL does; the first spelling names the column) in order of first
//! appearance; then `window_start`, `window_end` (timestamps, UTC), `revision` and
//! `deleted`. A row leaves null the value columns its feature does not select. Two features
//! of one sink that give a column the same name must give it the same type. (The SQL
//! planner reserves the fixed columns' names: no value output takes one.)

use serde::Serialize;

use crate::error::{Diagnostic, ErrorKind};
use crate::physical::Plan;
use crate::types::DataType;

/// Names of the columns every row has, before and after the value columns.
pub const LEADING: [&str; 2] = ["feature", "version"];
/// See [`LEADING`].
pub const TRAILING: [&str; 4] = ["window_start", "window_end", "revision", "deleted"];

/// Two features of a Parquet sink give a column different types.
pub(crate) struct Conflict {
    /// Index in the plan's features of the second feature.
    pub feature: usize,
    /// The column, as the second feature names it.
    pub column: String,
    /// The error, without a position.
    pub diagnostic: Diagnostic,
}

impl Conflict {
    /// The error, pointing at the column in the second feature's SQL.
    pub(crate) fn locate(self, job: &crate::job::Job) -> Diagnostic {
        let Conflict {
            feature,
            column,
            diagnostic,
        } = self;
        let Some(f) = job.features.get(feature) else {
            return diagnostic.in_file(&job.path);
        };
        let hint = diagnostic.hint.clone().unwrap_or_default();
        let mut located = crate::sql::error_at_output(
            job,
            f,
            &column,
            diagnostic.kind,
            diagnostic.message.clone(),
            |_| hint,
        );
        located.detail = diagnostic.detail;
        located
    }
}

/// The value columns of a sink's table and where each feature's values go.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SinkTable {
    /// Value columns (between [`LEADING`] and [`TRAILING`]), all nullable.
    pub columns: Vec<(String, DataType)>,
    /// Per feature of the plan: the column of each of its value outputs, in order, or
    /// `None` for a feature that does not write this sink.
    pub features: Vec<Option<Vec<usize>>>,
}

impl SinkTable {
    /// The table of sink `k` of `plan`: fails when two of its features disagree on a
    /// column's type.
    pub fn of(plan: &Plan, k: usize) -> Result<SinkTable, Diagnostic> {
        Self::build(plan, k).map_err(|c| c.diagnostic)
    }

    /// [`SinkTable::of`], saying on failure which feature's column disagrees.
    pub(crate) fn build(plan: &Plan, k: usize) -> Result<SinkTable, Conflict> {
        let sink = &plan.sinks[k].name;
        let mut columns: Vec<(String, DataType)> = Vec::new();
        // The first feature to give each column its type, for the diagnostic.
        let mut owners: Vec<&str> = Vec::new();
        let mut features = Vec::with_capacity(plan.features.len());
        for (fi, f) in plan.features.iter().enumerate() {
            if !f.sinks.contains(&k) {
                features.push(None);
                continue;
            }
            let mut at = Vec::new();
            for o in f.value_outputs() {
                // SQL names are case-insensitive, and so are most Parquet readers'.
                match columns
                    .iter()
                    .position(|(n, _)| crate::names::same_name(n, &o.name))
                {
                    Some(c) if columns[c].1 == o.ty => at.push(c),
                    Some(c) => {
                        let diagnostic = Diagnostic::new(
                            ErrorKind::TypeMismatch,
                            format!(
                                "parquet sink `{sink}`: column `{}` is {} in feature `{}` but {} in feature `{}`",
                                o.name, columns[c].1, owners[c], o.ty, f.name
                            ),
                        )
                        .with_detail("a parquet file is one table: each column has one type")
                        .with_hint("rename one of them with AS, CAST one to the other's type, or write the features to separate sinks");
                        return Err(Conflict {
                            feature: fi,
                            column: o.name.clone(),
                            diagnostic,
                        });
                    }
                    None => {
                        at.push(columns.len());
                        columns.push((o.name.clone(), o.ty));
                        owners.push(&f.name);
                    }
                }
            }
            features.push(Some(at));
        }
        Ok(SinkTable { columns, features })
    }

    /// Every column of the table, in order, with its type's name.
    pub fn all_columns(&self) -> Vec<(&str, &'static str)> {
        let fixed = |n: &'static str| match n {
            "feature" => (n, "string"),
            "version" | "revision" => (n, "int"),
            "deleted" => (n, "bool"),
            _ => (n, "timestamp"),
        };
        LEADING
            .into_iter()
            .map(fixed)
            .chain(self.columns.iter().map(|(n, t)| (n.as_str(), t.name())))
            .chain(TRAILING.into_iter().map(fixed))
            .collect()
    }

    /// All column names and types, for `explain`: `feature: string, version: int, ...`.
    pub fn describe(&self) -> String {
        self.all_columns()
            .iter()
            .map(|(n, t)| format!("{n}: {t}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_job, plan_job, Diagnostics};
    use std::path::Path;

    fn plan(features: &str) -> Result<Plan, Diagnostics> {
        let job = format!(
            "name: t\nsources:\n  - {{ name: s, connector: file, path: x, format: json, schema: {{ k: string, g: string, x: float, t: timestamp }}, event_time: t }}\nfeatures:\n{features}sinks:\n  - {{ name: o, connector: file, path: o.parquet, format: parquet }}\n  - {{ name: j, connector: file, path: o.jsonl }}\n"
        );
        let job = parse_job(Path::new("t.yaml"), &job).unwrap_or_else(|d| panic!("{d}"));
        plan_job(&job).map(|p| p.physical)
    }

    const WINDOW: &str = "GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)";

    #[test]
    fn columns_unite_by_name_in_order_of_first_appearance() {
        let p = plan(&format!(
            "  - {{ name: a, sql: \"SELECT k, COUNT(*) AS n FROM s {WINDOW}\" }}\n  - {{ name: other, sinks: [j], sql: \"SELECT k, SUM(x) AS n FROM s {WINDOW}\" }}\n  - {{ name: b, sinks: [o, j], sql: \"SELECT k, MAX(x) AS hi, COUNT(*) AS n FROM s {WINDOW}\" }}\n"
        ))
        .unwrap();
        let t = SinkTable::of(&p, 0).unwrap();
        assert_eq!(
            t.columns,
            vec![
                ("k".to_string(), DataType::String),
                ("n".to_string(), DataType::Int),
                ("hi".to_string(), DataType::Float),
            ]
        );
        // `other` writes only the JSON sink, where its float `n` is no conflict.
        assert_eq!(
            t.features,
            vec![Some(vec![0, 1]), None, Some(vec![0, 2, 1])]
        );
        assert_eq!(
            t.describe(),
            "feature: string, version: int, k: string, n: int, hi: float, window_start: timestamp, window_end: timestamp, revision: int, deleted: bool"
        );
        let text = p.to_string();
        assert!(
            text.contains(&format!("format=parquet columns=[{}]", t.describe())),
            "{text}"
        );
    }

    #[test]
    fn one_column_with_two_types_is_an_error_naming_both_features() {
        let err = plan(&format!(
            "  - {{ name: a, sinks: [o], sql: \"SELECT k, COUNT(*) AS n FROM s {WINDOW}\" }}\n  - {{ name: b, sinks: [o], sql: \"SELECT k, AVG(x) AS N FROM s {WINDOW}\" }}\n"
        ))
        .unwrap_err();
        let d = &err.0[0];
        assert_eq!(d.kind, ErrorKind::TypeMismatch);
        assert!(
            d.message.contains(
                "parquet sink `o`: column `N` is int in feature `a` but float in feature `b`"
            ),
            "{d}"
        );
        assert!(
            d.hint
                .as_ref()
                .unwrap()
                .contains("rename one of them with AS"),
            "{d}"
        );
        // At the second feature's column (found by QA: the error had no position):
        // line 6 of the job, where `AVG(x)` starts.
        let at = d.location.as_ref().unwrap();
        assert_eq!(
            (at.file.as_path(), at.line, at.column),
            (Path::new("t.yaml"), 6, 44),
            "{d}"
        );
        assert!(d.snippet.as_ref().unwrap().contains("AVG(x) AS N"), "{d}");
        assert_eq!(
            d.detail.as_deref(),
            Some("a parquet file is one table: each column has one type")
        );
    }
}

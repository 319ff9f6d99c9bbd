//! A feature's declared `type:` applied to its value columns: an int value of a float
//! column is widened, any other mismatch is an error at the value.

use crate::error::{closest, Diagnostic, ErrorKind};
use crate::expr::Expr;
use crate::job::locate::{Doc, Seg};
use crate::job::{Job, ValueTypes};
use crate::physical::{value_outputs, FeaturePlan};
use crate::types::DataType;

/// Applies feature `fi`'s declared types to its planned `phys`.
pub(super) fn declare(job: &Job, fi: usize, phys: &mut FeaturePlan) -> Result<(), Diagnostic> {
    let values = value_outputs(phys);
    let names: Vec<String> = values
        .iter()
        .map(|i| phys.outputs[*i].name.clone())
        .collect();
    match &job.features[fi].value_type {
        None => Ok(()),
        Some(ValueTypes::One(declared)) => match values.as_slice() {
            [i] => declare_one(job, fi, phys, *i, *declared),
            _ => {
                let hint = match names.as_slice() {
                    [] => "remove `type:`".to_string(),
                    _ => format!(
                        "declare a type per value column, e.g. `type: {{ {} }}`, or remove `type:`",
                        names
                            .iter()
                            .zip(&values)
                            .map(|(n, i)| format!("{n}: {}", phys.outputs[*i].ty))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                let listed = match names.as_slice() {
                    [] => String::new(),
                    _ => format!(" ({})", names.join(", ")),
                };
                Err(at_type_key(
                    job,
                    fi,
                    &[],
                    format!(
                        "declares `type: {declared}` for its value, but it has {} value columns{listed}",
                        names.len()
                    ),
                )
                .with_hint(hint))
            }
        },
        Some(ValueTypes::Columns(columns)) => {
            for (k, (column, declared)) in columns.iter().enumerate() {
                let Some(p) = names
                    .iter()
                    .position(|n| crate::names::same_name(n, column))
                else {
                    let hint = match closest(column, names.iter().map(String::as_str)) {
                        Some(c) => {
                            format!("did you mean `{c}`? value columns: {}", names.join(", "))
                        }
                        None => format!("value columns: {}", names.join(", ")),
                    };
                    return Err(at_type_key(
                        job,
                        fi,
                        &[Seg::Entry(k, column.as_str())],
                        format!("`type:` names `{column}`, which is not one of its value columns"),
                    )
                    .with_hint(hint));
                };
                declare_one(job, fi, phys, values[p], *declared)?;
            }
            Ok(())
        }
    }
}

/// An error at feature `fi`'s `type:` key (or an entry below it) in the job file.
fn at_type_key(job: &Job, fi: usize, below: &[Seg], msg: String) -> Diagnostic {
    let d = Diagnostic::new(ErrorKind::TypeMismatch, msg);
    let mut path = vec![Seg::Key("features"), Seg::Index(fi), Seg::Key("type")];
    path.extend_from_slice(below);
    match Doc::parse(&job.text).find(&path) {
        Some(found) => d.at(&job.path, &job.text, found.key.0, found.key.1),
        None => d.in_file(&job.path),
    }
}

/// One value column's declared type.
fn declare_one(
    job: &Job,
    fi: usize,
    phys: &mut FeaturePlan,
    i: usize,
    declared: DataType,
) -> Result<(), Diagnostic> {
    let value = &mut phys.outputs[i];
    let actual = value.ty;
    if declared == actual {
        return Ok(());
    }
    if declared == DataType::Float && actual == DataType::Int {
        // Widening, exact for counts and sums below 2^53: the value is written as the
        // declared float (`3.0`), as Flink widens a BIGINT inserted into a DOUBLE column.
        value.expr = Expr::Cast {
            expr: Box::new(value.expr.clone()),
            to: DataType::Float,
        };
        value.ty = DataType::Float;
        return Ok(());
    }
    let name = value.name.clone();
    let hint = |item: Option<&str>| {
        match sql_type(declared) {
        Some(to) if actual != DataType::Array => format!(
            "CAST the value to the declared type, `CAST({} AS {to}) AS {name}`, or declare `type: {actual}`",
            item.unwrap_or("...")
        ),
        _ => format!("declare `type: {actual}`, or remove `type:`"),
    }
    };
    Err(crate::sql::error_at_output(
        job,
        &job.features[fi],
        &name,
        ErrorKind::TypeMismatch,
        format!("declared `type: {declared}`, but its value `{name}` has type {actual}"),
        hint,
    )
    .with_detail(
        "the feature's `type:` is what its value is written as; only an int value of a float feature is converted (widened)",
    ))
}

/// The SQL name of a type to CAST to (`None`: no CAST makes it).
fn sql_type(t: DataType) -> Option<&'static str> {
    Some(match t {
        DataType::String => "STRING",
        DataType::Int => "BIGINT",
        DataType::Float => "DOUBLE",
        DataType::Bool => "BOOLEAN",
        DataType::Timestamp => "TIMESTAMP",
        DataType::Array => return None,
    })
}

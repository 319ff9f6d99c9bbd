//! What an expression can see: the row of the FROM clause (tables, qualifiers, event-time
//! attributes), and in grouped or OVER queries the aggregate row.

use crate::aggregate::AggCall;
use crate::expr::{cast, Expr};
use crate::logical::NamedExpr;
use crate::over::{OverAgg, OverFrame};
use crate::types::DataType;
use crate::window::Window;

/// An expression and its type (`None` for an untyped NULL literal).
#[derive(Clone, Debug)]
pub(crate) struct Typed {
    pub expr: Expr,
    pub ty: Option<DataType>,
}

impl Typed {
    /// The expression as one of type `to`, the type its branches unified to: an int
    /// branch of a float CASE or COALESCE is cast to float (a literal is converted at
    /// plan time), so every row carries a float, not sometimes an int.
    pub fn widened_to(self, to: Option<DataType>) -> Expr {
        match (self.ty, to) {
            (Some(DataType::Int), Some(DataType::Float)) => match self.expr {
                Expr::Literal(v) => Expr::Literal(cast(v, DataType::Float)),
                e => Expr::Cast {
                    expr: Box::new(e),
                    to: DataType::Float,
                },
            },
            _ => self.expr,
        }
    }
}

/// A table visible in FROM: its qualifier and where its columns sit in the row.
#[derive(Clone, Debug)]
pub(crate) struct TableRef {
    /// Alias, or the table's own name.
    pub name: String,
    /// Index of its first column in the row.
    pub start: usize,
    /// Number of its columns.
    pub len: usize,
}

/// The columns visible to an expression: the row of the FROM clause, its tables (for
/// qualified names) and which columns are event-time attributes.
#[derive(Clone, Debug)]
pub(crate) struct RowScope {
    /// Columns.
    pub columns: Vec<(String, DataType)>,
    /// Tables in FROM, in order; their column ranges tile `columns`.
    pub tables: Vec<TableRef>,
    /// Columns that are event-time attributes (a source's event time, passed through
    /// projections and joins unchanged).
    pub time_attrs: Vec<usize>,
    /// Why some time columns of the row are no event-time attributes (the right side of a
    /// LEFT JOIN, a bounded table), for messages.
    pub time_note: Option<String>,
    /// Time columns of tables in FROM that are no event-time attributes here (the right
    /// side of a LEFT JOIN, a bounded table): still readable as values by name.
    pub lost_time: Vec<usize>,
}

/// A name that matches columns of several tables.
pub(crate) struct Ambiguous(pub Vec<String>);

impl RowScope {
    /// The row of one table.
    pub fn table(name: &str, columns: Vec<(String, DataType)>, time_attrs: Vec<usize>) -> Self {
        RowScope {
            tables: vec![TableRef {
                name: name.to_string(),
                start: 0,
                len: columns.len(),
            }],
            columns,
            time_attrs,
            time_note: None,
            lost_time: Vec::new(),
        }
    }

    /// Whether column `i` is an event-time attribute.
    pub fn is_time_attr(&self, i: usize) -> bool {
        self.time_attrs.contains(&i)
    }

    /// Resolves an unqualified name; `rowtime` is the row's event-time attribute.
    pub fn resolve(&self, name: &str) -> Result<Option<usize>, Ambiguous> {
        let hits: Vec<(usize, &TableRef)> = self
            .tables
            .iter()
            .filter_map(|t| self.resolve_in(t, name).map(|i| (i, t)))
            .collect();
        match hits.as_slice() {
            [] => Ok(None),
            [(i, _)] => Ok(Some(*i)),
            many => Err(Ambiguous(
                many.iter().map(|(_, t)| t.name.clone()).collect(),
            )),
        }
    }

    /// Resolves `table.name`; `Ok(None)`: the table has no such column; `Err`: no such table.
    pub fn resolve_qualified(&self, table: &str, name: &str) -> Result<Option<usize>, ()> {
        match self
            .tables
            .iter()
            .find(|t| crate::names::same_name(&t.name, table))
        {
            Some(t) => Ok(self.resolve_in(t, name)),
            // Also with one table: `other.x` must not read this table's `x` (Flink says
            // "table `other` not found").
            None => Err(()),
        }
    }

    fn resolve_in(&self, t: &TableRef, name: &str) -> Option<usize> {
        let range = t.start..t.start + t.len;
        if name.eq_ignore_ascii_case("rowtime") {
            let mut attrs = self.time_attrs.iter().filter(|i| range.contains(i));
            return match (attrs.next(), attrs.next()) {
                (Some(i), None) => Some(*i),
                _ => None,
            };
        }
        let cols = &self.columns[range.clone()];
        cols.iter()
            .position(|(c, _)| c == name)
            .or_else(|| {
                cols.iter()
                    .position(|(c, _)| crate::names::same_name(c, name))
            })
            .map(|i| t.start + i)
    }

    /// Where the event-time attributes are, for messages: "the source's event_time is `t`".
    pub fn time_detail(&self) -> String {
        let detail = match (self.tables.as_slice(), self.time_attrs.as_slice()) {
            ([_], [one]) => format!("the source's event_time is `{}`", self.columns[*one].0),
            _ => format!(
                "the event-time attributes here are: {}",
                self.time_attr_names()
            ),
        };
        match &self.time_note {
            Some(note) => format!("{detail}; {note}"),
            None => detail,
        }
    }

    /// The event-time attributes, as they can be written.
    pub fn time_attr_names(&self) -> String {
        let names: Vec<String> = self
            .time_attrs
            .iter()
            .map(|&i| {
                let t = self
                    .tables
                    .iter()
                    .find(|t| (t.start..t.start + t.len).contains(&i));
                match t {
                    Some(t) if self.tables.len() > 1 => {
                        format!("`{}.{}`", t.name, self.columns[i].0)
                    }
                    _ => format!("`{}`", self.columns[i].0),
                }
            })
            .collect();
        if names.is_empty() {
            "none (select `rowtime` in the subquery to keep it)".to_string()
        } else {
            names.join(", ")
        }
    }
}

/// What a grouped query's SELECT and HAVING may refer to. Output rows of the window
/// aggregate are laid out as `[keys.., window_start, window_end, aggs..]`.
pub(crate) struct AggScope {
    /// Grouping keys (lowered in row context), with their display names and types.
    pub keys: Vec<(Expr, String, DataType)>,
    /// Aggregates discovered so far.
    pub aggs: Vec<AggCall>,
    /// The group window.
    pub window: Window,
    /// `TUMBLE`/`HOP`/`CUMULATE` for the legacy auxiliary functions, or `None` for the TVF
    /// form.
    pub group_fn: Option<&'static str>,
}

impl AggScope {
    pub fn window_start_index(&self) -> usize {
        self.keys.len()
    }
    pub fn window_end_index(&self) -> usize {
        self.keys.len() + 1
    }
    pub fn agg_index(&self, i: usize) -> usize {
        self.keys.len() + 2 + i
    }
}

/// What the SELECT of an ungrouped query with OVER aggregates may refer to: the current
/// row's columns and OVER aggregates, which are laid out after the source columns.
pub(crate) struct OverScope {
    /// The first OVER window seen: its text (every other must be the same), frame and
    /// partition keys.
    pub spec: Option<(String, OverFrame, Vec<NamedExpr>)>,
    /// OVER aggregates discovered so far.
    pub aggs: Vec<OverAgg>,
    /// Number of source columns: aggregate `i` is column `source_width + i`.
    pub source_width: usize,
    /// The event-time attribute the window is ordered by.
    pub time: Option<usize>,
}

/// Functions that exist only as OVER aggregates.
pub(crate) fn is_over_only(name: &str) -> bool {
    matches!(name, "TOP" | "LAST_N" | "ARRAY_AGG")
}

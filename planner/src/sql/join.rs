//! `a [LEFT] JOIN b ON ...`: splitting the ON condition into equi-join keys, the event-time
//! bounds of an interval join, and the rest; rejecting joins whose state would grow
//! forever.

use sqlparser::ast::{self, Spanned};

use crate::error::{Diagnostic, ErrorKind};
use crate::expr::Expr;
use crate::join::{JoinKind, TimeBounds};
use crate::logical::LogicalPlan;

use super::expr::{Lowerer, RowScope, TableRef};
use super::from::Relation;
use super::functions::signed_interval_ms;
use super::Planner;

type R<T> = Result<T, Diagnostic>;

const BOUND_HINT: &str = "bound the other side's time on both ends, e.g. `AND r.rowtime BETWEEN l.rowtime - INTERVAL '4' HOUR AND l.rowtime`";

/// A time attribute plus a constant: `l.rowtime - INTERVAL '1' MINUTE`.
struct TimeTerm {
    column: usize,
    offset_ms: i64,
}

/// Bounds on `right_time - left_time` from one condition, and the attributes it uses.
struct Bound {
    left_time: usize,
    right_time: usize,
    lower: Option<i64>,
    upper: Option<i64>,
}

impl Planner<'_> {
    /// Plans `left JOIN right ON cond` as an event-time interval join.
    pub(crate) fn join(&self, left: Relation, right: Relation, j: &ast::Join) -> R<Relation> {
        let sql = self.sql;
        let here = j.relation.span();
        let (kind, constraint) = match &j.join_operator {
            ast::JoinOperator::Join(c) | ast::JoinOperator::Inner(c) => (JoinKind::Inner, c),
            ast::JoinOperator::Left(c) | ast::JoinOperator::LeftOuter(c) => (JoinKind::Left, c),
            other => {
                let what = match other {
                    ast::JoinOperator::Right(_) | ast::JoinOperator::RightOuter(_) => "RIGHT JOIN",
                    ast::JoinOperator::FullOuter(_) => "FULL OUTER JOIN",
                    ast::JoinOperator::CrossJoin(_) => "CROSS JOIN",
                    _ => "this kind of join",
                };
                return Err(sql
                    .error(ErrorKind::Unsupported, here, format!("{what} is not supported"))
                    .with_hint("use JOIN (inner) or LEFT JOIN, with ON conditions including event-time bounds"));
            }
        };
        let (left_table, right_table) = (self.is_table(&left.plan), self.is_table(&right.plan));
        let ast::JoinConstraint::On(on) = constraint else {
            return Err(self.join_without_on(
                constraint,
                (&left.row, &right.row),
                j,
                kind,
                right_table,
            ));
        };
        let left_width = left.row.columns.len();
        let row = combine(&left.row, &right.row);
        for (i, t) in row.tables.iter().enumerate() {
            if row.tables[..i]
                .iter()
                .any(|o| crate::names::same_name(&o.name, &t.name))
            {
                return Err(sql
                    .error(ErrorKind::Syntax, here, format!("`{}` names both sides of the join", t.name))
                    .with_hint("give each side its own alias, e.g. FROM deliveries AS l JOIN deliveries AS r ON ..."));
            }
        }
        let mut left_keys = Vec::new();
        let mut right_keys = Vec::new();
        let mut bounds: Vec<(Bound, &ast::Expr)> = Vec::new();
        let mut residual: Option<Expr> = None;
        for c in conjuncts(on) {
            if let Some(b) = self.time_bound(c, &row, left_width)? {
                bounds.push((b, c));
                continue;
            }
            if let Some((l, r)) = self.equi_key(c, &row, left_width)? {
                left_keys.push(l);
                right_keys.push(r);
                continue;
            }
            let p = Lowerer {
                sql,
                row: &row,
                agg: None,
                over: None,
                clause: "ON",
            }
            .lower_predicate(c)?;
            residual = Expr::and(residual, Some(p));
        }
        if left_keys.is_empty() {
            return Err(sql
                .error(
                    ErrorKind::Unsupported,
                    on.span(),
                    "a join needs an equality between the two sides",
                )
                .with_detail(
                    "rows are matched per key; the key also spreads join state over the workers",
                )
                .with_hint("add e.g. `l.delivery_id = r.delivery_id` to ON"));
        }
        if bounds.is_empty() && right_table {
            // A join with a bounded table: every row of the table is a candidate, whatever
            // its time; the table is loaded before any stream row is matched.
            return Ok(Relation {
                plan: LogicalPlan::IntervalJoin {
                    left: Box::new(left.plan),
                    right: Box::new(right.plan),
                    kind,
                    left_keys,
                    right_keys,
                    left_time: left.row.time_attrs.first().copied().unwrap_or(0),
                    right_time: right.row.time_attrs.first().copied().unwrap_or(0),
                    bounds: TimeBounds {
                        lower_ms: i64::MIN,
                        upper_ms: i64::MAX,
                    },
                    residual,
                    table: true,
                },
                row: RowScope {
                    time_attrs: left.row.time_attrs.clone(),
                    lost_time: row.time_attrs.iter().copied().filter(|i| !left.row.time_attrs.contains(i)).collect(),
                    time_note: Some(format!(
                        "the bounded table {} has no event-time attribute: its rows take the stream side's time",
                        right.row.tables.iter().map(|t| format!("`{}`", t.name)).collect::<Vec<_>>().join(", ")
                    )),
                    ..row
                },
                window: None,
            });
        }
        let Some((first, _)) = bounds.first() else {
            let mut d = sql
                .error(ErrorKind::Unsupported, on.span(), "a join without event-time bounds is not supported")
                .with_detail("a regular join keeps every row of both sides forever, waiting for matches: its state grows without limit and its results never become final");
            d = if left_table {
                d.with_hint(
                    "the bounded table must be the right side: FROM stream JOIN table ON ...",
                )
            } else {
                d.with_hint(format!("make it an interval join: {BOUND_HINT}; or, if the other side is a table read once (e.g. stores), mark its source `bounded: true`"))
            };
            return Err(d);
        };
        let (lt, rt) = (first.left_time, first.right_time);
        let (mut lower, mut upper) = (None::<i64>, None::<i64>);
        for (b, node) in &bounds {
            if (b.left_time, b.right_time) != (lt, rt) {
                return Err(sql
                    .error(
                        ErrorKind::Unsupported,
                        node.span(),
                        "time bounds of a join must all relate the same two event-time attributes",
                    )
                    .with_detail(format!(
                        "the first bound relates `{}` and `{}`",
                        row.columns[lt].0, row.columns[rt].0
                    )));
            }
            lower = max_opt(lower, b.lower);
            upper = match (upper, b.upper) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let (Some(lower_ms), Some(upper_ms)) = (lower, upper) else {
            let missing = if lower.is_none() { "lower" } else { "upper" };
            return Err(sql
                .error(ErrorKind::Unsupported, bounds[0].1.span(), format!("the join's time condition has no {missing} bound"))
                .with_detail("with one side open, join state grows without limit: rows wait forever for matches on the open side")
                .with_hint(BOUND_HINT));
        };
        if lower_ms > upper_ms {
            return Err(sql
                .error(ErrorKind::Unsupported, bounds[0].1.span(), "the join's time bounds admit no pair: the lower bound is above the upper bound")
                .with_hint("check the signs of the intervals"));
        }
        let bounds = TimeBounds { lower_ms, upper_ms };
        let right_time = rt - left_width;
        let mut row = row;
        if kind == JoinKind::Left {
            // An unmatched left row has no right-side time: the right side's time is a
            // nullable column of the result, not an event time its rows can be placed by.
            let names: Vec<String> = row
                .time_attrs
                .iter()
                .filter(|i| **i >= left_width)
                .map(|&i| format!("`{}.{}`", right.row.tables[0].name, row.columns[i].0))
                .collect();
            row.lost_time = row
                .time_attrs
                .iter()
                .copied()
                .filter(|i| *i >= left_width)
                .collect();
            row.time_attrs.retain(|i| *i < left_width);
            row.time_note = Some(format!(
                "{}, the right side's time of a LEFT JOIN, is no event-time attribute: an unmatched left row has no right-side time (it is NULL)",
                names.join(", ")
            ));
        }
        Ok(Relation {
            plan: LogicalPlan::IntervalJoin {
                left: Box::new(left.plan),
                right: Box::new(right.plan),
                kind,
                left_keys,
                right_keys,
                left_time: lt,
                right_time,
                bounds,
                residual,
                table: false,
            },
            row,
            window: None,
        })
    }

    /// Whether every source under `plan` is a bounded table.
    fn is_table(&self, plan: &LogicalPlan) -> bool {
        match plan {
            LogicalPlan::Scan { source, .. } => self.job.sources[*source].bounded,
            LogicalPlan::Filter { input, .. } | LogicalPlan::Project { input, .. } => {
                self.is_table(input)
            }
            _ => false,
        }
    }

    /// A time attribute of one side compared with one of the other, plus constants.
    fn time_bound(&self, c: &ast::Expr, row: &RowScope, left_width: usize) -> R<Option<Bound>> {
        use ast::BinaryOperator as B;
        let (x, pairs): (&ast::Expr, Vec<(B, &ast::Expr)>) = match c {
            ast::Expr::BinaryOp { left, op, right }
                if matches!(op, B::Lt | B::LtEq | B::Gt | B::GtEq | B::Eq) =>
            {
                (left, vec![(op.clone(), right.as_ref())])
            }
            ast::Expr::Between {
                expr,
                negated: false,
                low,
                high,
            } => (
                expr,
                vec![(B::GtEq, low.as_ref()), (B::LtEq, high.as_ref())],
            ),
            _ => return Ok(None),
        };
        let Some(tx) = self.time_term(x, row)? else {
            return Ok(None);
        };
        let mut bound: Option<Bound> = None;
        for (op, y) in pairs {
            let Some(ty) = self.time_term(y, row)? else {
                return Ok(None);
            };
            let x_left = tx.column < left_width;
            if x_left == (ty.column < left_width) {
                return Ok(None);
            }
            // tx.col + a  op  ty.col + b   ⇔   ty.col - tx.col  flip(op)  a - b.
            let c = tx.offset_ms - ty.offset_ms;
            let (lo, hi) = match op {
                B::Lt => (Some(c + 1), None),
                B::LtEq => (Some(c), None),
                B::Gt => (None, Some(c - 1)),
                B::GtEq => (None, Some(c)),
                _ => (Some(c), Some(c)),
            };
            // With x on the right, ty.col - tx.col = left - right = -(right - left).
            let (lo, hi, left_time, right_time) = if x_left {
                (lo, hi, tx.column, ty.column)
            } else {
                (hi.map(|v| -v), lo.map(|v| -v), ty.column, tx.column)
            };
            bound = Some(match bound {
                None => Bound {
                    left_time,
                    right_time,
                    lower: lo,
                    upper: hi,
                },
                Some(b) if (b.left_time, b.right_time) == (left_time, right_time) => Bound {
                    lower: max_opt(b.lower, lo),
                    upper: match (b.upper, hi) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    },
                    ..b
                },
                Some(_) => return Ok(None),
            });
        }
        Ok(bound)
    }

    /// `attr`, `attr + INTERVAL ..`, `attr - INTERVAL ..` with `attr` an event-time attribute.
    fn time_term(&self, e: &ast::Expr, row: &RowScope) -> R<Option<TimeTerm>> {
        match e {
            ast::Expr::Nested(inner) => self.time_term(inner, row),
            ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_) => {
                let t = Lowerer {
                    sql: self.sql,
                    row,
                    agg: None,
                    over: None,
                    clause: "ON",
                }
                .lower(e)?;
                Ok(match t.expr {
                    Expr::Column { index, .. } if row.is_time_attr(index) => Some(TimeTerm {
                        column: index,
                        offset_ms: 0,
                    }),
                    _ => None,
                })
            }
            ast::Expr::BinaryOp {
                left,
                op: op @ (ast::BinaryOperator::Plus | ast::BinaryOperator::Minus),
                right,
            } if matches!(right.as_ref(), ast::Expr::Interval(_)) => {
                let Some(t) = self.time_term(left, row)? else {
                    return Ok(None);
                };
                let d = signed_interval_ms(self.sql, right)?;
                let d = if matches!(op, ast::BinaryOperator::Minus) {
                    d.checked_neg()
                } else {
                    Some(d)
                };
                let offset_ms = d.and_then(|d| t.offset_ms.checked_add(d)).ok_or_else(|| {
                    self.sql
                        .error(
                            ErrorKind::Syntax,
                            e.span(),
                            format!("time bound too far: `{e}`"),
                        )
                        .with_hint("the intervals of a time bound add up past 64-bit milliseconds")
                })?;
                Ok(Some(TimeTerm {
                    column: t.column,
                    offset_ms,
                }))
            }
            _ => Ok(None),
        }
    }

    /// `a = b` with `a` reading only one side's columns and `b` only the other's: the
    /// left side's expression (over the left row) and the right's (over the right row).
    fn equi_key(
        &self,
        c: &ast::Expr,
        row: &RowScope,
        left_width: usize,
    ) -> R<Option<(Expr, Expr)>> {
        let ast::Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::Eq,
            right,
        } = c
        else {
            return Ok(None);
        };
        let lower = |e: &ast::Expr| {
            Lowerer {
                sql: self.sql,
                row,
                agg: None,
                over: None,
                clause: "ON",
            }
            .lower(e)
        };
        let (a, b) = (lower(left)?, lower(right)?);
        let side = |e: &Expr| {
            let mut cols = Vec::new();
            e.columns(&mut cols);
            match (
                cols.iter().all(|&i| i < left_width),
                cols.iter().all(|&i| i >= left_width),
                cols.is_empty(),
            ) {
                (_, _, true) => None,
                (true, _, _) => Some(true),
                (_, true, _) => Some(false),
                _ => None,
            }
        };
        let (l, r) = match (side(&a.expr), side(&b.expr)) {
            (Some(true), Some(false)) => (a, b),
            (Some(false), Some(true)) => (b, a),
            _ => return Ok(None),
        };
        let comparable = match (l.ty, r.ty) {
            (Some(x), Some(y)) => x == y || (x.is_numeric() && y.is_numeric()),
            _ => true,
        };
        if !comparable {
            return Err(self
                .sql
                .error(
                    ErrorKind::TypeMismatch,
                    c.span(),
                    format!(
                        "join keys have different types: {} and {}",
                        l.ty.map_or("null".into(), |t| t.to_string()),
                        r.ty.map_or("null".into(), |t| t.to_string())
                    ),
                )
                .with_hint("CAST one side to the other's type"));
        }
        // Keys compare by value: cast ints to floats when the sides differ.
        let (mut le, mut re) = (l.expr, r.expr.substitute(&shift_back(row, left_width)));
        if l.ty != r.ty {
            le = Expr::Cast {
                expr: Box::new(le),
                to: crate::types::DataType::Float,
            };
            re = Expr::Cast {
                expr: Box::new(re),
                to: crate::types::DataType::Float,
            };
        }
        Ok(Some((le, re)))
    }
}

/// Column references of the combined row mapped to the right row (`i - left_width`);
/// left columns are never read by a right key.
fn shift_back(row: &RowScope, left_width: usize) -> Vec<Expr> {
    (0..row.columns.len())
        .map(|i| Expr::column(i.saturating_sub(left_width), row.columns[i].0.clone()))
        .collect()
}

/// The row of `left JOIN right`: the left's columns, then the right's.
fn combine(left: &RowScope, right: &RowScope) -> RowScope {
    let w = left.columns.len();
    RowScope {
        columns: left.columns.iter().chain(&right.columns).cloned().collect(),
        tables: left
            .tables
            .iter()
            .cloned()
            .chain(right.tables.iter().map(|t| TableRef {
                start: t.start + w,
                ..t.clone()
            }))
            .collect(),
        time_attrs: left
            .time_attrs
            .iter()
            .copied()
            .chain(right.time_attrs.iter().map(|i| i + w))
            .collect(),
        time_note: None,
        lost_time: left
            .lost_time
            .iter()
            .copied()
            .chain(right.lost_time.iter().map(|i| i + w))
            .collect(),
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The operands of a chain of ANDs.
fn conjuncts(e: &ast::Expr) -> Vec<&ast::Expr> {
    match e {
        ast::Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::And,
            right,
        } => {
            let mut v = conjuncts(left);
            v.extend(conjuncts(right));
            v
        }
        ast::Expr::Nested(inner) => conjuncts(inner),
        other => vec![other],
    }
}

impl Planner<'_> {
    /// `NATURAL JOIN`, `JOIN ... USING (...)` or a join without a condition: not
    /// supported, with the `ON` condition to write, from the columns USING names or the
    /// columns the two sides share.
    fn join_without_on(
        &self,
        constraint: &ast::JoinConstraint,
        (left, right): (&RowScope, &RowScope),
        j: &ast::Join,
        kind: JoinKind,
        right_table: bool,
    ) -> Diagnostic {
        let name = |r: &RowScope, default: &str| match r.tables.as_slice() {
            [t] => t.name.clone(),
            _ => default.to_string(),
        };
        let (l, r) = (name(left, "l"), name(right, "r"));
        // The columns both sides have (what NATURAL joins on), and whether each is an
        // event time on either side.
        let shared: Vec<(&str, bool)> = left
            .columns
            .iter()
            .enumerate()
            .filter_map(|(i, (c, _))| {
                let k = right
                    .columns
                    .iter()
                    .position(|(rc, _)| crate::names::same_name(rc, c))?;
                Some((c.as_str(), left.is_time_attr(i) || right.is_time_attr(k)))
            })
            .collect();
        let shared_keys = || -> Vec<String> {
            shared
                .iter()
                .filter(|(_, time)| !time)
                .map(|(c, _)| c.to_string())
                .collect()
        };
        let (what, at, keys, detail) = match constraint {
            ast::JoinConstraint::Using(cols) | ast::JoinConstraint::UsingAlias(cols, _) => {
                let keys: Vec<String> = cols.iter().map(|c| c.to_string()).collect();
                let at = cols.first().map_or(j.relation.span(), |c| c.span());
                let detail = format!(
                    "with ON each side keeps its own columns: write {l}.{k} or {r}.{k}, not {k}",
                    k = keys.first().map_or("id", String::as_str)
                );
                ("JOIN ... USING is not supported", at, keys, Some(detail))
            }
            ast::JoinConstraint::Natural => {
                let all: Vec<&str> = shared.iter().map(|(c, _)| *c).collect();
                let detail = if all.is_empty() {
                    format!("`{l}` and `{r}` share no column: NATURAL JOIN would pair every row with every row")
                } else {
                    format!(
                        "it would join on every column the two sides share ({}), event times included",
                        all.join(", ")
                    )
                };
                let at = j.relation.span();
                (
                    "NATURAL JOIN is not supported",
                    at,
                    shared_keys(),
                    Some(detail),
                )
            }
            _ => (
                "a join needs an ON condition",
                j.relation.span(),
                shared_keys(),
                None,
            ),
        };
        let mut on: Vec<String> = keys.iter().map(|k| format!("{l}.{k} = {r}.{k}")).collect();
        if on.is_empty() {
            on.push(format!("{l}.id = {r}.id"));
        }
        let join = match kind {
            JoinKind::Left => "LEFT JOIN",
            _ => "JOIN",
        };
        let mut hint = format!(
            "write the condition with ON: {join} {} ON {}",
            j.relation,
            on.join(" AND ")
        );
        if !right_table {
            hint.push_str(&format!(", and bound the other side's time on both ends, e.g. `AND {r}.rowtime BETWEEN {l}.rowtime - INTERVAL '4' HOUR AND {l}.rowtime`"));
        }
        let d = self
            .sql
            .error(ErrorKind::Unsupported, at, what)
            .with_hint(hint);
        match detail {
            Some(detail) => d.with_detail(detail),
            None => d,
        }
    }
}

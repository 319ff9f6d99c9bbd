//! SQL → logical plan: parse feature SQL with `sqlparser`, resolve names and types against
//! the job's source schemas, recognize Flink's group windows (`TUMBLE`, `HOP`, `CUMULATE`,
//! `SESSION` in GROUP BY, and the `TABLE(TUMBLE(TABLE t, DESCRIPTOR(col), size))` table
//! functions, with `SESSION(TABLE t PARTITION BY key, DESCRIPTOR(col), gap)`).
//!
//! Errors point into the job file: SQL positions are mapped to the line of the YAML block.

mod expr;
mod from;
mod functions;
mod group_by;
mod join;
mod named_args;
mod rewrite;
mod session;
mod sink_names;
mod syntax;
mod unsupported;
mod visit;
mod window;

use std::path::Path;

use sqlparser::ast::{self, Spanned};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Span};

use crate::error::{closest, Diagnostic, ErrorKind};
use crate::job::{Feature, Job, SqlPositions};
use crate::logical::{LogicalPlan, NamedExpr};
use crate::types::DataType;
use crate::window::Window;

use self::expr::{AggScope, Lowerer, OverScope, RowScope};
use self::from::Relation;
use self::functions::{function_name, window_bound_column, Bound};
pub(crate) use self::rewrite::TOP_FOR_PARSER;
use self::rewrite::{blank_tvf_table_keywords, rename_top_calls};
use self::session::mark_session_partition;
use self::syntax::parse_error;
pub(crate) use self::visit::{derived_name, visit_functions};

/// The SQL text of a feature and where it sits in the job file.
pub struct SqlText<'a> {
    /// The SQL as parsed (window-TVF `TABLE t` arguments blanked, positions unchanged).
    pub text: String,
    /// The job file.
    pub job_path: &'a Path,
    /// The job file's text.
    pub job_text: &'a str,
    /// Line of the job file where the SQL starts (0: unknown).
    pub line0: usize,
    /// Indentation of the SQL block.
    pub indent: usize,
    /// For a quoted or folded scalar (`line0` is 0): where each SQL character is.
    pub positions: Option<&'a SqlPositions>,
}

impl SqlText<'_> {
    /// A diagnostic at a SQL position, mapped into the job file.
    pub fn error(&self, kind: ErrorKind, span: Span, msg: impl Into<String>) -> Diagnostic {
        self.error_at(kind, span.start, msg)
    }

    fn error_at(&self, kind: ErrorKind, at: Location, msg: impl Into<String>) -> Diagnostic {
        let d = Diagnostic::new(kind, msg);
        let (line, col) = (at.line as usize, at.column as usize);
        if line == 0 {
            return d.in_file(self.job_path);
        }
        if let Some((line, col)) = self.positions.and_then(|p| p.locate(line, col)) {
            return d.at(self.job_path, self.job_text, line, col);
        }
        if self.line0 == 0 {
            // SQL not found verbatim in the file: point into the SQL text itself.
            let mut d = d.at(self.job_path, &self.text, line, col);
            if let Some(loc) = &mut d.location {
                loc.line = 0;
            }
            return d;
        }
        // Block scalar lines keep their indentation in the file; the YAML parser strips it.
        let col = self.indent + col;
        d.at(self.job_path, self.job_text, self.line0 + line - 1, col)
    }
}

impl<'a> SqlText<'a> {
    /// `feature`'s SQL as the parser reads it.
    fn of(job: &'a Job, feature: &'a Feature) -> Self {
        SqlText {
            text: rename_top_calls(&blank_tvf_table_keywords(&mark_session_partition(
                &feature.sql,
            ))),
            job_path: &job.path,
            job_text: &job.text,
            line0: feature.sql_line,
            indent: feature.sql_indent,
            positions: feature.sql_positions.as_ref(),
        }
    }
}

/// A diagnostic at the SELECT item of `feature`'s query that makes output column `column`
/// (for checks after planning, which keeps no SQL positions); in the job file without a
/// line when the item is not found. `hint` is given the item's SQL text.
pub(crate) fn error_at_output(
    job: &Job,
    feature: &Feature,
    column: &str,
    kind: ErrorKind,
    msg: impl Into<String>,
    hint: impl FnOnce(Option<&str>) -> String,
) -> Diagnostic {
    let sql = SqlText::of(job, feature);
    let statements = Parser::parse_sql(&GenericDialect {}, &sql.text).unwrap_or_default();
    let item = match statements.as_slice() {
        [ast::Statement::Query(q)] => match q.body.as_ref() {
            ast::SetExpr::Select(s) => {
                s.projection
                    .iter()
                    .enumerate()
                    .find_map(|(i, item)| match item {
                        ast::SelectItem::UnnamedExpr(e)
                            if crate::names::same_name(&derived_name(e, i), column) =>
                        {
                            Some(e)
                        }
                        ast::SelectItem::ExprWithAlias { expr, alias }
                            if crate::names::same_name(&alias.value, column) =>
                        {
                            Some(expr)
                        }
                        _ => None,
                    })
            }
            _ => None,
        },
        _ => None,
    };
    let d = match item {
        Some(e) => sql.error(kind, e.span(), msg),
        None => Diagnostic::new(kind, msg).in_file(&job.path),
    };
    d.with_hint(hint(item.map(|e| e.to_string()).as_deref()))
}

/// A feature whose `sql:` is empty (or only `;`), at its value in the job file.
fn empty_sql(job: &Job, feature: &Feature) -> Diagnostic {
    use crate::job::locate::{Doc, Seg};
    let d = Diagnostic::new(ErrorKind::Syntax, "a feature's sql is empty")
        .with_hint("write one SELECT statement, e.g. `sql: SELECT k, COUNT(*) AS n FROM src GROUP BY k, TUMBLE(rowtime, INTERVAL '1' HOUR)`");
    let fi = job.features.iter().position(|f| std::ptr::eq(f, feature));
    let found = fi.and_then(|fi| {
        Doc::parse(&job.text).find(&[Seg::Key("features"), Seg::Index(fi), Seg::Key("sql")])
    });
    match found {
        Some(found) => d.at(&job.path, &job.text, found.value.0, found.value.1),
        None => d.in_file(&job.path),
    }
}

/// Plans one feature's SQL to a logical plan.
pub fn plan_feature(job: &Job, feature: &Feature) -> Result<LogicalPlan, Diagnostic> {
    let sql = SqlText::of(job, feature);
    if sql.text.trim().trim_matches(';').trim().is_empty() {
        return Err(empty_sql(job, feature));
    }
    let statements = Parser::parse_sql(&GenericDialect {}, &sql.text)
        .map_err(|e| parse_error(&sql, &e.to_string()))?;
    let [statement] = statements.as_slice() else {
        return Err(sql.error_at(
            ErrorKind::Syntax,
            Location { line: 1, column: 1 },
            "a feature's sql must be exactly one SELECT statement",
        ));
    };
    let ast::Statement::Query(query) = statement else {
        let err = sql.error(
            ErrorKind::Syntax,
            statement.span(),
            "a feature's sql must be a SELECT query",
        );
        // A Flink user's first try: `INSERT INTO sink SELECT ...`.
        return Err(match statement {
            ast::Statement::Insert(_) => err.with_hint(
                "drop `INSERT INTO ...`: write the SELECT alone; where rows go is the feature's `sinks:` in the job file",
            ),
            _ => err,
        });
    };
    let planner = Planner {
        job,
        feature,
        sql: &sql,
    };
    let select = planner.single_select(query)?;
    planner.select(select)
}

/// An unknown column in HAVING that is a SELECT alias: HAVING cannot use aliases (as in
/// Flink), and the hint gives the aliased expression (found by QA: only the columns were
/// listed).
fn having_alias_hint(d: Diagnostic, s: &ast::Select) -> Diagnostic {
    if d.kind != ErrorKind::UnknownColumn {
        return d;
    }
    let aliased = s.projection.iter().find_map(|item| match item {
        ast::SelectItem::ExprWithAlias { expr, alias }
            if d.message
                .ends_with(&format!("unknown column `{}`", alias.value)) =>
        {
            Some((alias.value.clone(), expr))
        }
        _ => None,
    });
    match aliased {
        Some((name, expr)) => d.with_hint(format!(
            "`{name}` is a SELECT alias, which HAVING cannot use (as in Flink): write `{expr}` in its place"
        )),
        None => d,
    }
}

struct Planner<'a> {
    job: &'a Job,
    feature: &'a Feature,
    sql: &'a SqlText<'a>,
}

/// The group window, as found in FROM (TVF) or GROUP BY.
pub(crate) struct GroupWindow {
    window: Window,
    /// The event-time attribute it is on (index in the row).
    time: usize,
    /// `Some("TUMBLE")` for GROUP BY TUMBLE(..) (`"HOP"`, `"CUMULATE"`, `"SESSION"`),
    /// `None` for the TVF form.
    group_fn: Option<&'static str>,
    /// The TVF form of SESSION: its `PARTITION BY` expressions (empty: none given).
    partition: Vec<ast::Expr>,
}

impl Planner<'_> {
    fn select(&self, s: &ast::Select) -> Result<LogicalPlan, Diagnostic> {
        let sql = self.sql;
        let here = s.select_token.0.span;
        let distinct = match &s.distinct {
            None | Some(ast::Distinct::All) => false,
            Some(ast::Distinct::Distinct) => true,
            Some(ast::Distinct::On(_)) => {
                return Err(sql
                    .error(ErrorKind::Unsupported, here, "DISTINCT ON is not supported")
                    .with_hint("group by the columns instead"))
            }
        };
        if let Some(ast::NamedWindowDefinition(name, _)) = s.named_window.first() {
            return Err(sql
                .error(
                    ErrorKind::Unsupported,
                    name.span,
                    format!("named windows (`WINDOW {name} AS (...)`) are not supported"),
                )
                .with_hint(format!(
                    "write the window in each OVER: `OVER (PARTITION BY ... ORDER BY rowtime RANGE INTERVAL ... PRECEDING)` instead of `OVER {name}`"
                )));
        }
        unsupported::select_clauses(sql, s)?;
        let [from] = s.from.as_slice() else {
            let hint = if s.from.len() > 1 {
                "join with JOIN ... ON, including event-time bounds: FROM a JOIN b ON a.id = b.id AND b.rowtime BETWEEN a.rowtime AND a.rowtime + INTERVAL '1' HOUR"
            } else {
                "FROM <source name>, or FROM TABLE(TUMBLE(TABLE <source>, DESCRIPTOR(rowtime), INTERVAL '1' HOUR))"
            };
            return Err(sql
                .error(
                    ErrorKind::Unsupported,
                    here,
                    "a feature query reads exactly one FROM item (which may be a join)",
                )
                .with_hint(hint));
        };
        let Relation {
            mut plan,
            row,
            window: tvf_window,
        } = self.from(from)?;

        if let Some(w) = &s.selection {
            let predicate = Lowerer {
                sql,
                row: &row,
                agg: None,
                over: None,
                clause: "WHERE",
            }
            .lower_predicate(w)?;
            plan = LogicalPlan::Filter {
                input: Box::new(plan),
                predicate,
            };
        }

        // GROUP BY: one window and any number of keys.
        let group_exprs: &[ast::Expr] = match &s.group_by {
            ast::GroupByExpr::Expressions(e, mods) if mods.is_empty() => e,
            ast::GroupByExpr::Expressions(_, _) => {
                return Err(sql.error(
                    ErrorKind::Unsupported,
                    here,
                    "GROUP BY modifiers (ROLLUP, CUBE, ...) are not supported",
                ))
            }
            ast::GroupByExpr::All(_) => {
                return Err(sql
                    .error(
                        ErrorKind::Unsupported,
                        here,
                        "GROUP BY ALL is not supported",
                    )
                    .with_hint("list the grouping keys"))
            }
        };
        // SELECT DISTINCT: with a window and no GROUP BY, the selected columns are the keys
        // (one row per distinct combination and window); with GROUP BY, rows are distinct
        // already (every key is selected); without a window, distinct rows would need every
        // row ever seen kept as state.
        let distinct_keys: Vec<ast::Expr>;
        let distinct_from_select = distinct && group_exprs.is_empty();
        let group_exprs: &[ast::Expr] = if distinct_from_select {
            if tvf_window.is_none() {
                return Err(sql
                    .error(ErrorKind::Unsupported, here, "SELECT DISTINCT needs an event-time window")
                    .with_detail("distinct rows of an unbounded stream need every row ever seen kept as state, and are never final")
                    .with_hint("select from a window table function, e.g. SELECT DISTINCT user_id, window_start, window_end FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(rowtime), INTERVAL '1' HOUR))"));
            }
            let mut keys = Vec::new();
            for item in &s.projection {
                match item {
                    ast::SelectItem::UnnamedExpr(e)
                    | ast::SelectItem::ExprWithAlias { expr: e, .. } => keys.push(e.clone()),
                    other => {
                        return Err(sql
                            .error(
                                ErrorKind::Unsupported,
                                other.span(),
                                "`*` is not allowed with SELECT DISTINCT",
                            )
                            .with_hint("name the columns"))
                    }
                }
            }
            let bounds: Vec<_> = keys
                .iter()
                .filter_map(|e| window_bound_column(e, &row))
                .collect();
            let kind = tvf_window.as_ref().map(|w| w.window.kind);
            if !identifies_window(&bounds, kind) {
                return Err(sql
                    .error(ErrorKind::InvalidWindow, here, "SELECT DISTINCT over a window table function must select window_start and window_end")
                    .with_detail("without them, Flink reads it as a DISTINCT over every window's rows together, not one per window")
                    .with_hint("add `window_start, window_end` to the SELECT list"));
            }
            keys.retain(|e| window_bound_column(e, &row).is_none());
            keys.push(ast::Expr::Identifier(ast::Ident::new("window_start")));
            keys.push(ast::Expr::Identifier(ast::Ident::new("window_end")));
            distinct_keys = keys;
            &distinct_keys
        } else {
            group_exprs
        };
        // No GROUP BY: per-row OVER aggregates, or a stateless projection.
        if group_exprs.is_empty() && tvf_window.is_none() {
            let (mut over, mut plain_agg) = (false, false);
            for item in &s.projection {
                if let ast::SelectItem::UnnamedExpr(e)
                | ast::SelectItem::ExprWithAlias { expr: e, .. } = item
                {
                    visit_functions(e, &mut |f| {
                        if f.over.is_some() {
                            over = true;
                        } else if crate::aggregate::AggFunc::is_aggregate_name(&function_name(f)) {
                            plain_agg = true;
                        }
                    });
                }
            }
            if over || !plain_agg {
                return self.select_rows(s, plan, &row, over);
            }
        }
        let mut window: Option<GroupWindow> = None;
        let mut saw_bounds = Vec::new();
        let mut keys = Vec::new();
        for g in group_exprs {
            if let ast::Expr::Function(f) = g {
                let name = function_name(f);
                if matches!(name.as_str(), "TUMBLE" | "HOP" | "CUMULATE" | "SESSION") {
                    if tvf_window.is_some() {
                        return Err(sql
                            .error(
                                ErrorKind::InvalidWindow,
                                g.span(),
                                format!(
                                    "GROUP BY {name}(...) together with a window table function"
                                ),
                            )
                            .with_hint(
                                "with FROM TABLE(TUMBLE(...)), GROUP BY window_start, window_end",
                            ));
                    }
                    if window.is_some() {
                        return Err(sql.error(
                            ErrorKind::InvalidWindow,
                            g.span(),
                            "a query can group by only one window",
                        ));
                    }
                    window = Some(self.group_window(f, &name, &row, 0)?);
                    continue;
                }
            }
            if let Some(b) = window_bound_column(g, &row).filter(|_| tvf_window.is_some()) {
                saw_bounds.push(b);
                continue;
            }
            if !distinct_from_select {
                self.check_group_item(g, s, &row)?;
            }
            let t = Lowerer {
                sql,
                row: &row,
                agg: None,
                over: None,
                clause: "GROUP BY",
            }
            .lower(g)?;
            // A repeated key (`GROUP BY k, k`) groups nothing further: keep it once, as
            // Flink does, so SELECT's `k` is that key.
            if keys.iter().any(|(e, _, _)| *e == t.expr) {
                continue;
            }
            let name = match &t.expr {
                crate::expr::Expr::Column { name, .. } => name.clone(),
                other => other.to_string(),
            };
            keys.push((t.expr, name, t.ty.unwrap_or(DataType::String)));
        }
        if let Some(w) = tvf_window {
            if !identifies_window(&saw_bounds, Some(w.window.kind)) {
                return Err(sql
                    .error(
                        ErrorKind::InvalidWindow,
                        here,
                        "a window table function needs GROUP BY window_start, window_end",
                    )
                    .with_hint("add `window_start, window_end` to GROUP BY"));
            }
            self.check_session_partition(&w, &keys, &row, here)?;
            window = Some(w);
        }
        let Some(window) = window else {
            return Err(sql
                .error(
                    ErrorKind::Unsupported,
                    here,
                    "a feature query must aggregate over an event-time window",
                )
                .with_detail(
                    "without a window, grouped state grows forever and results never become final",
                )
                .with_hint("add a window, e.g. GROUP BY key, TUMBLE(rowtime, INTERVAL '1' HOUR)"));
        };

        let mut scope = AggScope {
            keys,
            aggs: Vec::new(),
            window: window.window,
            group_fn: window.group_fn,
        };
        let mut outputs: Vec<NamedExpr> = Vec::new();
        for (i, item) in s.projection.iter().enumerate() {
            let (e, name) = match item {
                ast::SelectItem::UnnamedExpr(e) => (e, derived_name(e, i)),
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    (expr, syntax::alias_name(sql, alias)?)
                }
                other => {
                    return Err(sql
                        .error(
                            ErrorKind::Unsupported,
                            other.span(),
                            "`*` is not allowed in a grouped query",
                        )
                        .with_hint("select the grouping keys and aggregates by name"))
                }
            };
            let t = Lowerer {
                sql,
                row: &row,
                agg: Some(&mut scope),
                over: None,
                clause: "SELECT",
            }
            .lower(e)?;
            if outputs
                .iter()
                .any(|o| crate::names::same_name(&o.name, &name))
            {
                return Err(sql
                    .error(
                        ErrorKind::Syntax,
                        e.span(),
                        format!("output column `{name}` is selected twice"),
                    )
                    .with_hint("give each selected column a distinct alias with AS"));
            }
            self.check_reserved(&name, &t.expr, &scope, e)?;
            self.check_sink_names(&name, e)?;
            outputs.push(NamedExpr {
                name,
                expr: t.expr,
                ty: t.ty.unwrap_or(DataType::String),
            });
        }
        // Sinks upsert on (feature, version, key, window): every key must be in the row.
        for (i, (_, name, _)) in scope.keys.iter().enumerate() {
            let selected = outputs
                .iter()
                .any(|o| matches!(&o.expr, crate::expr::Expr::Column { index, .. } if *index == i));
            if !selected {
                return Err(sql
                    .error(ErrorKind::KeyNotSelected, here, format!("grouping key `{name}` is not selected"))
                    .with_detail("feature rows are upserted by (feature, version, key, window); without the key, rows of different keys would overwrite each other")
                    .with_hint(format!("add `{name}` to SELECT (an alias is fine)")));
            }
        }
        let having = match &s.having {
            Some(h) => Some(
                Lowerer {
                    sql,
                    row: &row,
                    agg: Some(&mut scope),
                    over: None,
                    clause: "HAVING",
                }
                .lower_predicate(h)
                .map_err(|d| having_alias_hint(d, s))?,
            ),
            None => None,
        };

        plan = LogicalPlan::WindowAggregate {
            input: Box::new(plan),
            window: scope.window,
            time_column: row.columns[window.time].0.clone(),
            time: window.time,
            keys: scope
                .keys
                .iter()
                .map(|(e, n, t)| NamedExpr {
                    name: n.clone(),
                    expr: e.clone(),
                    ty: *t,
                })
                .collect(),
            aggs: scope.aggs.clone(),
            allowed_lateness_ms: self.feature.allowed_lateness_ms,
        };
        if let Some(predicate) = having {
            plan = LogicalPlan::Filter {
                input: Box::new(plan),
                predicate,
            };
        }
        Ok(LogicalPlan::Project {
            input: Box::new(plan),
            columns: outputs,
        })
    }

    /// The SELECT of a query without GROUP BY: OVER aggregates per row (`over`), or a
    /// stateless projection. Output columns are over `[source row.., over aggs..]`.
    fn select_rows(
        &self,
        s: &ast::Select,
        plan: LogicalPlan,
        row: &RowScope,
        over: bool,
    ) -> Result<LogicalPlan, Diagnostic> {
        let sql = self.sql;
        let here = s.select_token.0.span;
        if let Some(h) = &s.having {
            return Err(sql
                .error(ErrorKind::Unsupported, h.span(), "HAVING needs GROUP BY")
                .with_hint("filter rows in WHERE"));
        }
        let mut scope = OverScope {
            spec: None,
            aggs: Vec::new(),
            source_width: row.columns.len(),
            time: None,
        };
        let mut outputs: Vec<NamedExpr> = Vec::new();
        for (i, item) in s.projection.iter().enumerate() {
            let (e, name) = match item {
                ast::SelectItem::UnnamedExpr(e) => (e, derived_name(e, i)),
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    (expr, syntax::alias_name(sql, alias)?)
                }
                other => {
                    return Err(sql
                        .error(
                            ErrorKind::Unsupported,
                            other.span(),
                            "`*` is not supported in a feature query",
                        )
                        .with_hint("select the columns by name"))
                }
            };
            let t = Lowerer {
                sql,
                row,
                agg: None,
                over: Some(&mut scope),
                clause: "SELECT",
            }
            .lower(e)?;
            if outputs
                .iter()
                .any(|o| crate::names::same_name(&o.name, &name))
            {
                return Err(sql
                    .error(
                        ErrorKind::Syntax,
                        e.span(),
                        format!("output column `{name}` is selected twice"),
                    )
                    .with_hint("give each selected column a distinct alias with AS"));
            }
            let lower = name.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "feature" | "version" | "revision" | "deleted" | "window_start" | "window_end"
            ) {
                return Err(sql
                    .error(ErrorKind::Syntax, e.span(), format!("output column name `{name}` is reserved"))
                    .with_detail("every output row carries feature, version, window_start, window_end (here: the row's event time) and revision, and a withdrawal `deleted`")
                    .with_hint("choose another alias with AS"));
            }
            self.check_sink_names(&name, e)?;
            outputs.push(NamedExpr {
                name,
                expr: t.expr,
                ty: t.ty.unwrap_or(DataType::String),
            });
        }
        let Some((_, frame, keys)) = scope.spec.take() else {
            debug_assert!(!over, "an OVER call was lowered");
            if row.time_attrs.is_empty() {
                return Err(sql
                    .error(
                        ErrorKind::Unsupported,
                        here,
                        "this query has no event-time attribute",
                    )
                    .with_detail(
                        "every feature row carries the event time of the row it was computed from",
                    )
                    .with_hint("select `rowtime` in the subquery in FROM"));
            }
            return Ok(LogicalPlan::Project {
                input: Box::new(plan),
                columns: outputs,
            });
        };
        for k in &keys {
            if !outputs.iter().any(|o| o.expr == k.expr) {
                return Err(sql
                    .error(ErrorKind::KeyNotSelected, here, format!("partition key `{}` is not selected", k.name))
                    .with_detail("OVER rows are upserted by (feature, version, partition key, row time); without the key, rows of different partitions would overwrite each other")
                    .with_hint(format!("add `{}` to SELECT (an alias is fine)", k.expr)));
            }
        }
        let mut carried = Vec::new();
        for o in &outputs {
            o.expr.columns(&mut carried);
        }
        carried.retain(|c| *c < scope.source_width);
        carried.sort_unstable();
        carried.dedup();
        let time = scope
            .time
            .expect("an OVER window is ordered by a time attribute");
        let plan = LogicalPlan::OverAggregate {
            input: Box::new(plan),
            time_column: row.columns[time].0.clone(),
            time,
            over: crate::over::OverSpec {
                keys,
                frame,
                aggs: scope.aggs,
                carried,
                source_width: scope.source_width,
            },
            allowed_lateness_ms: self.feature.allowed_lateness_ms,
        };
        Ok(LogicalPlan::Project {
            input: Box::new(plan),
            columns: outputs,
        })
    }

    /// Output names `feature`, `version`, `revision` are taken; `window_start`/`window_end` must be the window bounds.
    fn check_reserved(
        &self,
        name: &str,
        e: &crate::expr::Expr,
        scope: &AggScope,
        node: &ast::Expr,
    ) -> Result<(), Diagnostic> {
        let lower = name.to_ascii_lowercase();
        let bound = match lower.as_str() {
            "feature" | "version" | "revision" | "deleted" => None,
            "window_start" => Some(scope.window_start_index()),
            "window_end" => Some(scope.window_end_index()),
            _ => return Ok(()),
        };
        let ok =
            matches!((bound, e), (Some(i), crate::expr::Expr::Column { index, .. }) if *index == i);
        if ok {
            return Ok(());
        }
        Err(self
            .sql
            .error(
                ErrorKind::Syntax,
                node.span(),
                format!("output column name `{name}` is reserved"),
            )
            .with_detail(
                "every output row carries feature, version, window_start, window_end and revision, and a withdrawal `deleted`",
            )
            .with_hint("choose another alias with AS"))
    }

    fn source(&self, name: &str, span: Span) -> Result<usize, Diagnostic> {
        let names: Vec<&str> = self.job.sources.iter().map(|s| s.name.as_str()).collect();
        names
            .iter()
            .position(|n| crate::names::same_name(n, name))
            .ok_or_else(|| {
                let hint = match closest(name, names.iter().copied()) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => format!("the job's sources are: {}", names.join(", ")),
                };
                self.sql
                    .error(
                        ErrorKind::UnknownTable,
                        span,
                        format!("unknown table `{name}`"),
                    )
                    .with_hint(hint)
            })
    }
}

/// Whether grouping by these window bounds groups per window. Flink's window aggregation
/// groups by `window_start, window_end`; grouped by a bound that does not identify the
/// window, it aggregates the rows of every window sharing it together, as an updating,
/// not a windowed, result: a CUMULATE period's windows all share their `window_start`.
/// `window_end` (or `window_time`) identifies any window; `window_start` those of the
/// other kinds.
fn identifies_window(bounds: &[Bound], kind: Option<crate::window::WindowKind>) -> bool {
    bounds.contains(&Bound::End)
        || bounds.contains(&Bound::Rowtime)
        || (bounds.contains(&Bound::Start) && kind != Some(crate::window::WindowKind::Cumulate))
}

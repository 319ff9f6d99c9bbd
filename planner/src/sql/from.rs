//! The FROM clause: source tables (with aliases), window table functions, subqueries and
//! interval joins, each planned to a [`Relation`]: a logical plan and the row it yields.

use sqlparser::ast::{self, Spanned};

use crate::error::{Diagnostic, ErrorKind};
use crate::logical::{LogicalPlan, NamedExpr};
use crate::types::DataType;

use super::expr::{Lowerer, RowScope};
use super::functions::function_name;
use super::unsupported;
use super::{GroupWindow, Planner};

type R<T> = Result<T, Diagnostic>;

/// A planned FROM item.
pub(crate) struct Relation {
    /// What produces the rows.
    pub plan: LogicalPlan,
    /// The row: columns, table qualifiers, event-time attributes.
    pub row: RowScope,
    /// The window of a window table function (`FROM TABLE(TUMBLE(...))`).
    pub window: Option<GroupWindow>,
}

/// What to do instead of joining three inputs in one feature.
const THIRD_INPUT: &str = "to join a third input, write the first join's rows as a stateless feature to a Kafka topic (`SELECT l.k, l.rowtime AS t, ... FROM l JOIN r ON ...`) and join that topic, as a source, in a second job";

impl Planner<'_> {
    /// `FROM a [JOIN b ON ...]`.
    pub(crate) fn from(&self, from: &ast::TableWithJoins) -> R<Relation> {
        let mut rel = self.factor(&from.relation)?;
        if let Some(extra) = from.joins.get(1) {
            return Err(self
                .sql
                .error(
                    ErrorKind::Unsupported,
                    extra.relation.span(),
                    "a feature can join only two inputs",
                )
                .with_hint(THIRD_INPUT));
        }
        if let Some(j) = from.joins.first() {
            if rel.window.is_some() {
                return Err(self
                    .sql
                    .error(
                        ErrorKind::Unsupported,
                        j.relation.span(),
                        "a window table function cannot be joined",
                    )
                    .with_hint("join in a subquery, then group its rows by a window: GROUP BY key, HOP(t, ...)"));
            }
            let right = self.factor(&j.relation)?;
            for (side, span) in [(&rel, from.relation.span()), (&right, j.relation.span())] {
                if side.plan.has_join() {
                    return Err(self
                        .sql
                        .error(
                            ErrorKind::Unsupported,
                            span,
                            "a join's input cannot itself be a join: a feature joins only two inputs",
                        )
                        .with_hint(THIRD_INPUT));
                }
            }
            rel = self.join(rel, right, j)?;
        }
        Ok(rel)
    }

    /// One FROM item.
    fn factor(&self, rel: &ast::TableFactor) -> R<Relation> {
        let sql = self.sql;
        unsupported::table_clauses(sql, rel)?;
        match rel {
            ast::TableFactor::Table {
                name,
                args: None,
                alias,
                ..
            } => {
                let idx = self.source(&name.to_string(), rel.span())?;
                let qualifier = alias
                    .as_ref()
                    .map_or_else(|| name.to_string(), |a| a.name.value.clone());
                Ok(self.scan(idx, &qualifier, None))
            }
            ast::TableFactor::TableFunction {
                expr: ast::Expr::Function(f),
                alias,
            } => {
                let (idx, window) = self.window_tvf(f)?;
                let qualifier = alias.as_ref().map_or_else(
                    || self.job.sources[idx].name.clone(),
                    |a| a.name.value.clone(),
                );
                Ok(self.scan(idx, &qualifier, Some(window)))
            }
            ast::TableFactor::Derived {
                lateral: false,
                subquery,
                alias,
                ..
            } => {
                let name = alias.as_ref().map_or("subquery", |a| a.name.value.as_str());
                if let Some(a) = alias.as_ref().filter(|a| !a.columns.is_empty()) {
                    return Err(sql
                        .error(
                            ErrorKind::Unsupported,
                            a.name.span,
                            "column aliases on a subquery are not supported",
                        )
                        .with_hint("name the columns inside the subquery with AS"));
                }
                self.subquery(subquery, name)
            }
            other => Err(sql.error(
                ErrorKind::Unsupported,
                other.span(),
                format!("unsupported FROM item `{other}`"),
            )),
        }
    }

    fn scan(&self, idx: usize, qualifier: &str, window: Option<GroupWindow>) -> Relation {
        let source = &self.job.sources[idx];
        let columns = source.typed_columns();
        Relation {
            plan: LogicalPlan::Scan {
                source: idx,
                table: source.name.clone(),
                columns: columns.clone(),
                event_time: source.columns[source.event_time].name.clone(),
                watermark_delay_ms: source.watermark_delay_ms,
            },
            row: RowScope::table(qualifier, columns, vec![source.event_time]),
            window,
        }
    }

    /// `(SELECT cols FROM .. [WHERE ..]) AS name`: a row-wise subquery (projection and
    /// filter; aggregation happens in the outer query). Its event-time attributes are the
    /// selected columns that pass one through unchanged.
    fn subquery(&self, q: &ast::Query, name: &str) -> R<Relation> {
        if let ast::SetExpr::SetOperation { .. } = q.body.as_ref() {
            self.single_select_clauses(q)?;
            return self.union_all(q.body.as_ref(), name);
        }
        let select = self.single_select(q)?;
        self.row_select(select, name)
    }

    /// `SELECT .. UNION ALL SELECT ..`: the branches' rows, one after the other. Columns are
    /// matched by position (names from the first branch) and must have the same types; a
    /// column is an event-time attribute if it is one in every branch.
    fn union_all(&self, body: &ast::SetExpr, name: &str) -> R<Relation> {
        let sql = self.sql;
        let mut selects = Vec::new();
        collect_union(sql, body, &mut selects)?;
        let mut branches = Vec::new();
        for s in &selects {
            branches.push((self.row_select(s, name)?, s.select_token.0.span));
        }
        let (first, _) = &branches[0];
        let cols = first.row.columns.clone();
        let mut time_attrs = first.row.time_attrs.clone();
        for (b, span) in &branches[1..] {
            if b.row.columns.len() != cols.len() {
                return Err(sql
                    .error(
                        ErrorKind::TypeMismatch,
                        *span,
                        format!(
                            "UNION ALL branches select {} and {} columns",
                            cols.len(),
                            b.row.columns.len()
                        ),
                    )
                    .with_hint("select the same columns, in the same order, in every branch"));
            }
            for (i, ((n0, t0), (n, t))) in cols.iter().zip(&b.row.columns).enumerate() {
                if t0 != t {
                    return Err(sql
                        .error(ErrorKind::TypeMismatch, *span, format!("UNION ALL column {} is {t0} (`{n0}`) in the first branch but {t} (`{n}`) here", i + 1))
                        .with_hint(format!("CAST(`{n}` AS {t0})")));
                }
            }
            time_attrs.retain(|i| b.row.is_time_attr(*i));
        }
        let row = RowScope::table(name, cols, time_attrs);
        Ok(Relation {
            plan: LogicalPlan::Union {
                inputs: branches.into_iter().map(|(b, _)| b.plan).collect(),
            },
            row,
            window: None,
        })
    }

    /// A row-wise SELECT (projection and filter) as a relation named `name`.
    fn row_select(&self, select: &ast::Select, name: &str) -> R<Relation> {
        let sql = self.sql;
        let here = select.select_token.0.span;
        let no_group = matches!(&select.group_by, ast::GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
        if !no_group || select.having.is_some() || select.distinct.is_some() {
            return Err(sql
                .error(
                    ErrorKind::Unsupported,
                    here,
                    "a subquery in FROM may only select and filter rows",
                )
                .with_detail("GROUP BY, HAVING and DISTINCT belong to the outer query, which aggregates over an event-time window; a window over another window's results (cascading windows) is not supported")
                .with_hint("move the aggregation to the outer query; for a coarser window over a finer one (daily from hourly counts), aggregate the source rows over the coarser window directly, as its own feature"));
        }
        let [from] = select.from.as_slice() else {
            return Err(sql.error(
                ErrorKind::Unsupported,
                here,
                "a subquery reads exactly one FROM item (which may be a join)",
            ));
        };
        let inner = self.from(from)?;
        if inner.window.is_some() {
            return Err(sql
                .error(
                    ErrorKind::Unsupported,
                    here,
                    "a window table function in a subquery is not supported",
                )
                .with_hint("use the window table function in the outer query"));
        }
        let mut plan = inner.plan;
        if let Some(w) = &select.selection {
            let predicate = Lowerer {
                sql,
                row: &inner.row,
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
        let mut columns: Vec<NamedExpr> = Vec::new();
        let mut push = |c: NamedExpr, node: &dyn Spanned| -> R<()> {
            if columns
                .iter()
                .any(|o| crate::names::same_name(&o.name, &c.name))
            {
                return Err(sql
                    .error(
                        ErrorKind::Syntax,
                        node.span(),
                        format!("column `{}` is selected twice in subquery `{name}`", c.name),
                    )
                    .with_hint("give each selected column a distinct alias with AS"));
            }
            columns.push(c);
            Ok(())
        };
        for (i, item) in select.projection.iter().enumerate() {
            match item {
                ast::SelectItem::UnnamedExpr(e)
                | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                    let mut analytic = None;
                    super::visit_functions(e, &mut |f| {
                        if analytic.is_none() {
                            analytic = super::expr::unsupported_window_function(sql, f);
                        }
                    });
                    if let Some(d) = analytic {
                        return Err(d);
                    }
                    if has_aggregate_or_over(e) {
                        return Err(sql
                            .error(
                                ErrorKind::Unsupported,
                                e.span(),
                                "aggregates and OVER are not allowed in a subquery in FROM",
                            )
                            .with_hint("compute them in the outer query"));
                    }
                    let t = Lowerer {
                        sql,
                        row: &inner.row,
                        agg: None,
                        over: None,
                        clause: "SELECT",
                    }
                    .lower(e)?;
                    let out = match item {
                        ast::SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
                        _ => super::derived_name(e, i),
                    };
                    push(
                        NamedExpr {
                            name: out,
                            expr: t.expr,
                            ty: t.ty.unwrap_or(DataType::String),
                        },
                        e,
                    )?;
                }
                ast::SelectItem::ExprWithAliases { .. } => {
                    return Err(sql.error(
                        ErrorKind::Unsupported,
                        item.span(),
                        "multiple aliases for one column are not supported",
                    ))
                }
                ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..) => {
                    let table = match item {
                        ast::SelectItem::QualifiedWildcard(
                            ast::SelectItemQualifiedWildcardKind::ObjectName(n),
                            _,
                        ) => {
                            let n = n.to_string();
                            let t = inner
                                .row
                                .tables
                                .iter()
                                .find(|t| crate::names::same_name(&t.name, &n));
                            match t {
                                Some(t) => Some(t.clone()),
                                None => {
                                    return Err(sql.error(
                                        ErrorKind::UnknownTable,
                                        item.span(),
                                        format!("unknown table `{n}` in `{n}.*`"),
                                    ))
                                }
                            }
                        }
                        ast::SelectItem::QualifiedWildcard(..) => {
                            return Err(sql.error(
                                ErrorKind::Unsupported,
                                item.span(),
                                "this wildcard is not supported",
                            ))
                        }
                        _ => None,
                    };
                    let range =
                        table.map_or(0..inner.row.columns.len(), |t| t.start..t.start + t.len);
                    for c in range {
                        let (n, ty) = &inner.row.columns[c];
                        push(
                            NamedExpr {
                                name: n.clone(),
                                expr: crate::expr::Expr::column(c, n.clone()),
                                ty: *ty,
                            },
                            item,
                        )?;
                    }
                }
            }
        }
        let time_attrs: Vec<usize> = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(&c.expr, crate::expr::Expr::Column { index, .. } if inner.row.is_time_attr(*index)))
            .map(|(i, _)| i)
            .collect();
        let row = RowScope::table(
            name,
            columns.iter().map(|c| (c.name.clone(), c.ty)).collect(),
            time_attrs,
        );
        Ok(Relation {
            plan: LogicalPlan::Project {
                input: Box::new(plan),
                columns,
            },
            row,
            window: None,
        })
    }

    /// The one SELECT of a query, with the clauses a feature query cannot have rejected.
    pub(crate) fn single_select<'q>(&self, query: &'q ast::Query) -> R<&'q ast::Select> {
        let sql = self.sql;
        self.single_select_clauses(query)?;
        match query.body.as_ref() {
            ast::SetExpr::Select(select) => Ok(select),
            ast::SetExpr::SetOperation { .. } => Err(sql
                .error(
                    ErrorKind::Unsupported,
                    query.body.span(),
                    "UNION ALL is supported in a subquery in FROM",
                )
                .with_hint(
                    "SELECT ... FROM (SELECT ... FROM a UNION ALL SELECT ... FROM b) AS u ...",
                )),
            other => Err(sql.error(
                ErrorKind::Unsupported,
                other.span(),
                "only SELECT is supported (no VALUES, ...)",
            )),
        }
    }

    /// Rejects WITH, ORDER BY, LIMIT and the rest of [`unsupported::query_clauses`].
    fn single_select_clauses(&self, query: &ast::Query) -> R<()> {
        unsupported::query_clauses(self.sql, query)
    }
}

/// Whether `e` calls an aggregate or an OVER function.
fn has_aggregate_or_over(e: &ast::Expr) -> bool {
    let mut found = false;
    super::visit_functions(e, &mut |f| {
        let name = function_name(f);
        found |= f.over.is_some()
            || crate::aggregate::AggFunc::is_aggregate_name(&name)
            || super::expr::is_over_only(&name);
    });
    found
}

/// The SELECTs of a chain of `UNION ALL`s, in order.
fn collect_union<'q>(
    sql: &super::SqlText,
    e: &'q ast::SetExpr,
    out: &mut Vec<&'q ast::Select>,
) -> R<()> {
    match e {
        ast::SetExpr::Select(s) => {
            out.push(s);
            Ok(())
        }
        ast::SetExpr::Query(q)
            if q.with.is_none() && q.order_by.is_none() && q.limit_clause.is_none() =>
        {
            collect_union(sql, &q.body, out)
        }
        ast::SetExpr::SetOperation {
            left,
            op: ast::SetOperator::Union,
            set_quantifier: ast::SetQuantifier::All,
            right,
        } => {
            collect_union(sql, left, out)?;
            collect_union(sql, right, out)
        }
        ast::SetExpr::SetOperation {
            op: ast::SetOperator::Union,
            ..
        } => Err(sql
            .error(
                ErrorKind::Unsupported,
                e.span(),
                "UNION without ALL is not supported",
            )
            .with_detail(
                "UNION removes duplicate rows, which needs every row ever seen kept as state",
            )
            .with_hint("write UNION ALL")),
        other => Err(sql
            .error(
                ErrorKind::Unsupported,
                other.span(),
                "only UNION ALL of SELECTs is supported here",
            )
            .with_hint("SELECT ... FROM a UNION ALL SELECT ... FROM b")),
    }
}

//! Walking a SELECT item's expression: its function calls, and the name Flink derives
//! for an unnamed item.

use sqlparser::ast;

/// Calls `f` on every function call in `e` (not inside subqueries).
pub(crate) fn visit_functions(e: &ast::Expr, f: &mut impl FnMut(&ast::Function)) {
    use ast::Expr as E;
    match e {
        E::Function(func) => {
            f(func);
            if let ast::FunctionArguments::List(l) = &func.args {
                for a in &l.args {
                    if let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) = a {
                        visit_functions(x, f);
                    }
                }
            }
        }
        E::BinaryOp { left, right, .. } => {
            visit_functions(left, f);
            visit_functions(right, f);
        }
        E::UnaryOp { expr, .. }
        | E::Nested(expr)
        | E::Cast { expr, .. }
        | E::IsNull(expr)
        | E::IsNotNull(expr)
        | E::IsTrue(expr)
        | E::IsFalse(expr) => visit_functions(expr, f),
        E::In { expr, target, .. } => {
            visit_functions(expr, f);
            if let ast::InTarget::List(list) = target {
                list.iter().for_each(|x| visit_functions(x, f));
            }
        }
        E::Between {
            expr, low, high, ..
        } => {
            visit_functions(expr, f);
            visit_functions(low, f);
            visit_functions(high, f);
        }
        E::Like { expr, pattern, .. } | E::ILike { expr, pattern, .. } => {
            visit_functions(expr, f);
            visit_functions(pattern, f);
        }
        E::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            if let Some(o) = operand {
                visit_functions(o, f);
            }
            for cw in conditions {
                visit_functions(&cw.condition, f);
                visit_functions(&cw.result, f);
            }
            if let Some(x) = else_result {
                visit_functions(x, f);
            }
        }
        _ => {}
    }
}

pub(crate) fn derived_name(e: &ast::Expr, i: usize) -> String {
    match e {
        ast::Expr::Identifier(id) => id.value.clone(),
        ast::Expr::CompoundIdentifier(p) => p.last().map(|x| x.value.clone()).unwrap_or_default(),
        _ => format!("EXPR${i}"),
    }
}

//! `COUNT(DISTINCT a, b, ...)`, as Flink has it: the distinct combinations of the
//! arguments among the rows where none of them is NULL. Planned as `COUNT(DISTINCT k)` of
//! one string key that is NULL when an argument is, and otherwise tells the combinations
//! apart: each argument as text (`CAST(x AS STRING)`: the shortest digits that read back,
//! for floats), prefixed by its length, `len:text`, so `('a|b', 'c')` and `('a', 'b|c')` do
//! not meet (a separator alone would let them).

use crate::expr::{BinOp, Expr, Func};
use crate::types::{DataType, Value};

/// The key of a row's combination of `args`: NULL if any is NULL.
pub(super) fn tuple_key(args: Vec<Expr>) -> Expr {
    let mut all_present: Option<Expr> = None;
    let mut parts = Vec::with_capacity(args.len() * 3);
    for a in args {
        let present = Expr::IsNull {
            expr: Box::new(a.clone()),
            negated: true,
        };
        all_present = Some(match all_present {
            None => present,
            Some(p) => Expr::Binary {
                op: BinOp::And,
                left: Box::new(p),
                right: Box::new(present),
            },
        });
        let text = Expr::Cast {
            expr: Box::new(a),
            to: DataType::String,
        };
        parts.push(Expr::Cast {
            expr: Box::new(Expr::Call {
                func: Func::Length,
                args: vec![text.clone()],
            }),
            to: DataType::String,
        });
        parts.push(Expr::Literal(Value::Str(":".into())));
        parts.push(text);
    }
    Expr::Case {
        operand: None,
        whens: vec![(
            all_present.expect("at least one argument"),
            Expr::Call {
                func: Func::Concat,
                args: parts,
            },
        )],
        otherwise: None,
    }
}

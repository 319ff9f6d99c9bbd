//! Typing the functions of [`crate::expr::MathFunc`], and the calls that are rewritten into
//! existing expressions: `NULLIF(a, b)` and `IF(c, a, b)` into CASE, `MOD(a, b)` into `a % b`
//! (so EXPLAIN shows what runs), and `TIMESTAMPDIFF(unit, t1, t2)`, whose first argument
//! is a unit, not a value.

use sqlparser::ast;

use crate::error::{Diagnostic, ErrorKind};
use crate::expr::{BinOp, DiffUnit, Expr, Func, MathFunc};
use crate::types::{DataType, Value};

use super::super::functions::function_args;
use super::{Lowerer, Typed, R};

impl Lowerer<'_> {
    /// `NULLIF`, `IF`, `MOD` and `TIMESTAMPDIFF`, lowered here; `None` for other names.
    pub(super) fn rewritten_function(
        &mut self,
        e: &ast::Expr,
        f: &ast::Function,
        name: &str,
    ) -> R<Option<Typed>> {
        if !matches!(name, "NULLIF" | "IF" | "MOD" | "TIMESTAMPDIFF") {
            return Ok(None);
        }
        let args = function_args(self.sql, f)?;
        let want = if matches!(name, "IF" | "TIMESTAMPDIFF") {
            3
        } else {
            2
        };
        if args.len() != want {
            return Err(self.arity(e, name, &want.to_string(), args.len()));
        }
        if name == "TIMESTAMPDIFF" {
            return self.timestampdiff(&args).map(Some);
        }
        if name == "IF" {
            let clause = std::mem::replace(&mut self.clause, "IF");
            let cond = self.lower_predicate(args[0]);
            self.clause = clause;
            let cond = cond?;
            let (a, b) = (self.lower(args[1])?, self.lower(args[2])?);
            let ty = self.unify_as(args[2], a.ty, b.ty, "IF's results")?;
            let expr = Expr::Case {
                operand: None,
                whens: vec![(cond, a.widened_to(ty))],
                otherwise: Some(Box::new(b.widened_to(ty))),
            };
            return Ok(Some(Typed { expr, ty }));
        }
        let (a, b) = (self.lower(args[0])?, self.lower(args[1])?);
        if name == "MOD" {
            for (node, t) in [(args[0], &a), (args[1], &b)] {
                if !t.ty.is_none_or(|ty| ty == DataType::Int) {
                    return Err(self
                        .mismatch(node, t, "an int", "MOD")
                        .with_hint(format!("for floats, write {} % {}", args[0], args[1])));
                }
            }
            let expr = Expr::Binary {
                op: BinOp::Mod,
                left: Box::new(a.expr),
                right: Box::new(b.expr),
            };
            return Ok(Some(Typed {
                expr,
                ty: Some(DataType::Int),
            }));
        }
        // NULLIF(a, b): `a`, or NULL where it equals `b`.
        self.comparable(args[1], &a, &b)?;
        let expr = Expr::Case {
            operand: Some(Box::new(a.expr.clone())),
            whens: vec![(b.expr, Expr::Literal(Value::Null))],
            otherwise: Some(Box::new(a.expr)),
        };
        Ok(Some(Typed { expr, ty: a.ty }))
    }

    /// `TIMESTAMPDIFF(unit, t1, t2)`.
    fn timestampdiff(&mut self, args: &[&ast::Expr]) -> R<Typed> {
        let unit = match args[0] {
            ast::Expr::Identifier(id) => DiffUnit::from_name(&id.value),
            _ => None,
        };
        let Some(unit) = unit else {
            return Err(self
                .err(
                    ErrorKind::Unsupported,
                    args[0],
                    format!("TIMESTAMPDIFF unit `{}` is not supported", args[0]),
                )
                .with_hint("units: SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER, YEAR, e.g. TIMESTAMPDIFF(HOUR, t1, t2)"));
        };
        let t1 = self.lower(args[1])?;
        let t2 = self.lower(args[2])?;
        let call = MathFunc::TimestampDiff(unit);
        self.math_call(call, "TIMESTAMPDIFF", vec![(args[1], t1), (args[2], t2)])
    }

    /// Types a call of a [`MathFunc`] on lowered arguments.
    pub(super) fn math_call(
        &self,
        func: MathFunc,
        name: &str,
        args: Vec<(&ast::Expr, Typed)>,
    ) -> R<Typed> {
        let ty = match func {
            MathFunc::TimestampDiff(_) => {
                for (node, t) in &args {
                    self.expect_arg(node, t, DataType::Timestamp, name)?;
                }
                Some(DataType::Int)
            }
            MathFunc::Greatest | MathFunc::Least => {
                let mut ty = None;
                for (node, t) in &args {
                    if t.ty == Some(DataType::Array) {
                        return Err(self.mismatch(node, t, "a comparable value", name));
                    }
                    ty = self.unify_as(node, ty, t.ty, &format!("{name}'s arguments"))?;
                }
                ty
            }
            _ => {
                for (node, t) in &args {
                    if !t.ty.is_none_or(DataType::is_numeric) {
                        return Err(self.mismatch(node, t, "a number", name));
                    }
                }
                match func {
                    MathFunc::Sign => args.first().and_then(|(_, t)| t.ty),
                    _ => Some(DataType::Float),
                }
            }
        };
        // GREATEST and LEAST compare their arguments as one type; the others keep theirs.
        let arg_ty = if matches!(func, MathFunc::Greatest | MathFunc::Least) {
            ty
        } else {
            None
        };
        Ok(Typed {
            expr: Expr::Call {
                func: Func::Math(func),
                args: args
                    .into_iter()
                    .map(|(_, t)| t.widened_to(arg_ty))
                    .collect(),
            },
            ty,
        })
    }

    /// The arity of a math function, checked before its arguments are typed.
    pub(super) fn math_arity(&self, e: &ast::Expr, func: MathFunc, got: usize) -> R<()> {
        let (lo, hi) = match func {
            MathFunc::Power => (2, 2),
            MathFunc::Greatest | MathFunc::Least => (1, usize::MAX),
            _ => (1, 1),
        };
        if got < lo || got > hi {
            let want = match (lo, hi) {
                (lo, usize::MAX) => format!("{lo} or more"),
                (lo, _) => lo.to_string(),
            };
            return Err(self.arity(e, func.name(), &want, got));
        }
        Ok(())
    }

    fn arity(&self, e: &ast::Expr, name: &str, want: &str, got: usize) -> Diagnostic {
        self.err(
            ErrorKind::Syntax,
            e,
            format!("{name} takes {want} argument(s), got {got}"),
        )
    }
}

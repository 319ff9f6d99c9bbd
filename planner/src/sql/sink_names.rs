//! Output names a feature's sinks write themselves. Every sink's rows carry `feature`,
//! `version`, `window_start`, `window_end`, `revision` and `deleted` (reserved for all
//! features, see `check_reserved`); that covers Redis too, whose hashes hold the value
//! fields beside `window_start`, `window_end`, `revision` and `deleted`. A DynamoDB item
//! also has `pk` (its key) and `ttl` (its expiry): a value column of one of those names
//! would be shadowed, so it is an error when the feature goes to a DynamoDB sink.

use sqlparser::ast::{self, Spanned};

use crate::error::{Diagnostic, ErrorKind};
use crate::job::SinkConnector;

use super::Planner;

/// Attribute names the DynamoDB sink writes itself (besides the reserved row columns).
/// DynamoDB names are case-sensitive: `PK` is another attribute.
const DYNAMODB: [&str; 2] = ["pk", "ttl"];

impl Planner<'_> {
    /// An error if output column `name` (selected by `node`) is one a sink of the feature
    /// writes itself.
    pub(super) fn check_sink_names(&self, name: &str, node: &ast::Expr) -> Result<(), Diagnostic> {
        if !DYNAMODB.contains(&name) {
            return Ok(());
        }
        let Some(sink) = self
            .feature
            .sinks
            .iter()
            .map(|&k| &self.job.sinks[k])
            .find(|s| matches!(s.connector, SinkConnector::Dynamodb { .. }))
        else {
            return Ok(());
        };
        Err(self
            .sql
            .error(
                ErrorKind::Syntax,
                node.span(),
                format!(
                    "output column `{name}` of feature `{}` would be dropped by DynamoDB sink `{}`",
                    self.feature.name, sink.name
                ),
            )
            .with_detail("a DynamoDB item's `pk` is its key (<feature>:<version>:<key>) and `ttl` its expiry; the sink writes both itself")
            .with_hint(format!("rename the column with AS, e.g. `AS {name}_value`")))
    }
}

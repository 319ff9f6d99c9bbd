//! Output names a feature's sinks write themselves. Every sink's rows carry `feature`,
//! `version`, `window_start`, `window_end`, `revision` and `deleted` (reserved for all
//! features, see `check_reserved`); that covers Redis too, whose hashes hold the value
//! fields beside `window_start`, `window_end`, `revision` and `deleted`. A DynamoDB item
//! also has `pk` (its key) and `ttl` (its expiry), and Redis hashes and DynamoDB items
//! `_run` (the run that wrote them): a value column of one of those names would be
//! shadowed, so it is an error when the feature goes to such a sink.

use sqlparser::ast::{self, Spanned};

use crate::error::{Diagnostic, ErrorKind};
use crate::job::SinkConnector;

use super::Planner;

/// Attribute names the DynamoDB sink writes itself (besides the reserved row columns).
/// DynamoDB names are case-sensitive: `PK` is another attribute.
const DYNAMODB: [&str; 3] = ["pk", "ttl", "_run"];
/// Hash fields the Redis sink writes itself (besides the reserved row columns).
const REDIS: [&str; 1] = ["_run"];

impl Planner<'_> {
    /// An error if output column `name` (selected by `node`) is one a sink of the feature
    /// writes itself.
    pub(super) fn check_sink_names(&self, name: &str, node: &ast::Expr) -> Result<(), Diagnostic> {
        let Some(sink) = self
            .feature
            .sinks
            .iter()
            .map(|&k| &self.job.sinks[k])
            .find(|s| match s.connector {
                SinkConnector::Dynamodb { .. } => DYNAMODB.contains(&name),
                SinkConnector::Redis { .. } => REDIS.contains(&name),
                _ => false,
            })
        else {
            return Ok(());
        };
        Err(self
            .sql
            .error(
                ErrorKind::Syntax,
                node.span(),
                format!(
                    "output column `{name}` of feature `{}` would be dropped by {} sink `{}`",
                    self.feature.name,
                    if matches!(sink.connector, SinkConnector::Redis { .. }) { "Redis" } else { "DynamoDB" },
                    sink.name
                ),
            )
            .with_detail("a DynamoDB item's `pk` is its key (<feature>:<version>:<key>) and `ttl` its expiry, and a store's `_run` the run that wrote it; the sink writes them itself")
            .with_hint(format!("rename the column with AS, e.g. `AS {name}_value`")))
    }
}

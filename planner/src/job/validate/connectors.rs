//! The keys each connector takes, checked for sources (`sources.rs`) and sinks
//! (`sinks.rs`) alike.

use crate::error::{closest, Diagnostic};

use super::Cx;

/// `connector` must be one of `known` (`kind`: "source" or "sink"); else an error at its
/// value with the closest name.
pub(super) fn check_connector_name(
    cx: &Cx,
    kind: &str,
    connector: &str,
    known: &[&str],
) -> Result<(), Diagnostic> {
    if known.contains(&connector) {
        return Ok(());
    }
    Err(cx
        .err_at_value(
            "connector",
            format!("unknown {kind} connector `{connector}`"),
        )
        .with_hint(match closest(connector, known.iter().copied()) {
            Some(c) => format!("did you mean `{c}`? available: {}", known.join(", ")),
            None => format!("available {kind} connectors: {}", known.join(", ")),
        }))
}

/// A key given for a connector that does not use it is an error (a typo or a leftover).
/// `keys`: each connector-specific key, whether the spec gives it, and the connectors that
/// take it.
pub(super) fn check_connector_keys(
    cx: &Cx,
    what: &str,
    connector: &str,
    keys: &[(&str, bool, &[&str])],
) -> Result<(), Diagnostic> {
    for (key, _, takes) in keys.iter().filter(|(_, given, _)| *given) {
        if !takes.contains(&connector) {
            return Err(cx
                .err_at_key(
                    key,
                    format!("{what} uses the {connector} connector, which has no `{key}`"),
                )
                .with_hint(format!(
                    "`{key}` applies to: {}; remove it or change `connector`",
                    takes.join(", ")
                )));
        }
    }
    Ok(())
}

/// A key a connector needs; its value may not be blank (`topic: ""`).
pub(super) fn need<'a>(
    cx: &Cx,
    what: &str,
    connector: &str,
    key: &str,
    v: &'a Option<String>,
    example: &str,
) -> Result<&'a str, Diagnostic> {
    let v = v.as_deref().ok_or_else(|| {
        cx.err_at_key(
            "connector",
            format!("{what} uses the {connector} connector but has no `{key}`"),
        )
        .with_hint(format!("add `{key}: {example}`"))
    })?;
    if v.trim().is_empty() {
        return Err(cx
            .err_at_value(key, format!("{what}: `{key}` is empty"))
            .with_hint(format!("name it, e.g. `{key}: {example}`")));
    }
    Ok(v)
}

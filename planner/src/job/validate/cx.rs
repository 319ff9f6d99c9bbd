//! What validation knows while it checks a job: the file, its text, the infrastructure
//! profile, and where each node of the file is ([`Doc`]). Diagnostics are located by YAML
//! path; a path the locator cannot vouch for names only the file.

use std::path::Path;

use crate::error::{closest, Diagnostic, ErrorKind};

use super::super::locate::{Doc, Found, Seg, Spot};
use super::super::{Infra, JobSpec};

/// The validation context, for the whole job or for one item of `sources`, `sinks` or
/// `features` (then paths are relative to that item).
#[derive(Clone, Copy)]
pub(crate) struct Cx<'a> {
    pub(crate) path: &'a Path,
    pub(crate) text: &'a str,
    pub(crate) infra: Option<&'a Infra>,
    pub(crate) job: &'a str,
    doc: &'a Doc,
    item: Option<(&'static str, usize)>,
}

impl<'a> Cx<'a> {
    pub(crate) fn new(
        path: &'a Path,
        text: &'a str,
        infra: Option<&'a Infra>,
        job: &'a str,
        doc: &'a Doc,
    ) -> Self {
        Cx {
            path,
            text,
            infra,
            job,
            doc,
            item: None,
        }
    }

    /// The context of item `i` of the list `list` (`sources`, `sinks`, `features`).
    pub(crate) fn item(&self, list: &'static str, i: usize) -> Self {
        Cx {
            item: Some((list, i)),
            ..*self
        }
    }

    fn full<'p>(&self, rel: &[Seg<'p>]) -> Vec<Seg<'p>> {
        let mut path = Vec::with_capacity(rel.len() + 2);
        if let Some((list, i)) = self.item {
            path.extend([Seg::Key(list), Seg::Index(i)]);
        }
        path.extend_from_slice(rel);
        path
    }

    /// Where `rel` is, if the locator knows.
    pub(crate) fn find(&self, rel: &[Seg]) -> Option<Found> {
        self.doc.find(&self.full(rel))
    }

    /// An error at the key of `rel` (or, for a sequence item, its `-`).
    pub(crate) fn err_key(&self, rel: &[Seg], msg: impl Into<String>) -> Diagnostic {
        let spot = self.find(rel).map(|f| f.key);
        self.err_at(spot, msg)
    }

    /// An error at the value of `rel`.
    pub(crate) fn err_value(&self, rel: &[Seg], msg: impl Into<String>) -> Diagnostic {
        let spot = self.find(rel).map(|f| f.value);
        self.err_at(spot, msg)
    }

    /// An error at the value of key `key` of the item.
    pub(crate) fn err_at_value(&self, key: &str, msg: impl Into<String>) -> Diagnostic {
        self.err_value(&[Seg::Key(key)], msg)
    }

    /// An error at key `key` of the item.
    pub(crate) fn err_at_key(&self, key: &str, msg: impl Into<String>) -> Diagnostic {
        self.err_key(&[Seg::Key(key)], msg)
    }

    /// An error at `spot`, or naming only the file.
    pub(crate) fn err_at(&self, spot: Option<Spot>, msg: impl Into<String>) -> Diagnostic {
        let d = Diagnostic::new(ErrorKind::Config, msg);
        match spot {
            Some((line, col)) => d.at(self.path, self.text, line, col),
            None => d.in_file(self.path),
        }
    }

    /// The job's or the item's `name` must have text: SQL, sink lists, output rows and
    /// consumer groups refer to it.
    pub(crate) fn check_name(&self, name: &str, hint: &str) -> Result<(), Diagnostic> {
        if !name.trim().is_empty() {
            return Ok(());
        }
        let whose = match self.item {
            Some((list, i)) => format!("{list}[{i}]"),
            None => "the job".to_string(),
        };
        Err(self
            .err_at_value("name", format!("{whose} has an empty name"))
            .with_hint(hint.to_string()))
    }

    /// Checks that `name`, the value of the item's key `key`, is an entry of the profile's
    /// `section`, naming `what` uses it.
    pub(crate) fn infra_ref(
        &self,
        section: &str,
        names: Option<Vec<&str>>,
        key: &str,
        name: &str,
        what: &str,
    ) -> Result<(), Diagnostic> {
        let Some(names) = names else {
            return Err(self
                .err_at_value(
                    key,
                    format!("{what} refers to {section} `{name}`, but no infrastructure profile was given"),
                )
                .with_hint("pass --infra configs/infra/local.yaml (or set FRESHET_INFRA)"));
        };
        if names.contains(&name) {
            return Ok(());
        }
        let file = self
            .infra
            .map(|i| i.path.display().to_string())
            .unwrap_or_default();
        let hint = match closest(name, names.iter().copied()) {
            Some(c) => format!(
                "did you mean `{c}`? `{section}:` in {file} has: {}",
                names.join(", ")
            ),
            None if names.is_empty() => format!("add `{section}: {{ {name}: ... }}` to {file}"),
            None => format!("`{section}:` in {file} has: {}", names.join(", ")),
        };
        Err(self
            .err_at_value(key, format!("{what} refers to unknown {section} `{name}`"))
            .with_hint(hint))
    }

    pub(crate) fn kafka_names(&self) -> Option<Vec<&str>> {
        self.infra
            .map(|i| i.kafka.keys().map(String::as_str).collect())
    }

    pub(crate) fn redis_names(&self) -> Option<Vec<&str>> {
        self.infra
            .map(|i| i.redis.keys().map(String::as_str).collect())
    }

    pub(crate) fn aws_names(&self) -> Option<Vec<&str>> {
        self.infra
            .map(|i| i.aws.keys().map(String::as_str).collect())
    }
}

/// Reads where the nodes of `text` are, if the reader's structure is the one `spec` was
/// parsed into: every list has its length and every item its name. Otherwise (a file the
/// reader gets wrong) nothing is located, rather than something wrongly.
pub(crate) fn locate(text: &str, spec: &JobSpec) -> Doc {
    let doc = Doc::parse(text);
    let names = |list: &'static str, names: Vec<&str>| {
        let n = doc.len(&[Seg::Key(list)]);
        (n == Some(names.len()) || (names.is_empty() && n.is_none()))
            && names.iter().enumerate().all(|(i, name)| {
                doc.scalar(&[Seg::Key(list), Seg::Index(i), Seg::Key("name")]) == Some(*name)
            })
    };
    let ok = doc.scalar(&[Seg::Key("name")]) == Some(spec.name.as_str())
        && names(
            "sources",
            spec.sources.iter().map(|s| s.name.as_str()).collect(),
        )
        && names(
            "sinks",
            spec.sinks.iter().map(|s| s.name.as_str()).collect(),
        )
        && names(
            "features",
            spec.features.iter().map(|f| f.name.as_str()).collect(),
        );
    if ok {
        doc
    } else {
        Doc::empty()
    }
}

//! Infrastructure profiles (`configs/infra/<env>.yaml`): named Kafka clusters, Redis
//! stores and AWS accounts. A job names them (`cluster: local`, `store: features`,
//! `aws: local`) and says only the topic, stream, bucket or table, so moving a job from
//! a laptop to production changes the profile, not the job.
//!
//! `${VAR}` and `${VAR:-default}` are substituted from the environment before parsing; a
//! variable that is unset and has no default is an error naming its line. Credentials are
//! [`Secret`]s: printed and serialized as `***`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::error::{Diagnostic, Diagnostics, ErrorKind};

/// A credential: kept for connecting, never printed.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

/// A Kafka cluster.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaCluster {
    /// `host:port[,host:port...]`.
    pub bootstrap_servers: String,
    /// Extra librdkafka properties (`security.protocol`, `sasl.mechanism`, ...).
    #[serde(default)]
    pub properties: BTreeMap<String, Secret>,
}

/// A Redis endpoint.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedisStore {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: Secret,
}

/// An AWS account and region (S3, Kinesis, DynamoDB).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AwsAccount {
    /// Region, e.g. `us-east-1`.
    pub region: String,
    /// Endpoint override (a local endpoint such as moto's server).
    pub endpoint: Option<String>,
    /// Static credentials; without them the SDK's default chain is used.
    pub access_key_id: Option<Secret>,
    /// Static credentials.
    pub secret_access_key: Option<Secret>,
    /// Static credentials.
    pub session_token: Option<Secret>,
}

/// A parsed infrastructure profile.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Infra {
    /// Where it was read from (empty when none was given).
    #[serde(skip_deserializing)]
    pub path: PathBuf,
    /// Kafka clusters by name.
    #[serde(default)]
    pub kafka: IndexMap<String, KafkaCluster>,
    /// Redis stores by name.
    #[serde(default)]
    pub redis: IndexMap<String, RedisStore>,
    /// AWS accounts by name.
    #[serde(default)]
    pub aws: IndexMap<String, AwsAccount>,
}

/// Reads an infrastructure profile, substituting environment variables.
pub fn load_infra(path: &Path) -> Result<Infra, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostic::new(
            ErrorKind::Io,
            format!("cannot read infrastructure profile: {e}"),
        )
        .in_file(path)
        .with_hint("pass --infra configs/infra/local.yaml (or set FRESHET_INFRA)")
    })?;
    parse_infra(path, &text, |v| std::env::var(v).ok())
}

/// Parses a profile's text; `env` looks up variables.
pub fn parse_infra(
    path: &Path,
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Infra, Diagnostics> {
    let substituted = substitute(path, text, env)?;
    let mut infra: Infra = serde_norway::from_str(&substituted).map_err(|e| {
        let msg = e.to_string();
        let clean = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        let mut d = Diagnostic::new(ErrorKind::Config, clean.clone());
        d = match e.location() {
            Some(l) => d.at(path, text, l.line(), l.column()),
            None => d.in_file(path),
        };
        if clean.contains("unknown field") {
            d = d.with_hint("check the spelling; a profile has `kafka:`, `redis:` and `aws:` maps of named entries");
        }
        Diagnostics(vec![d])
    })?;
    infra.path = path.to_path_buf();
    Ok(infra)
}

/// Replaces `${VAR}` and `${VAR:-default}` line by line.
fn substitute(
    path: &Path,
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, Diagnostics> {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                let col = line.len() - rest.len() + start + 1;
                return Err(Diagnostics(vec![Diagnostic::new(
                    ErrorKind::Config,
                    "unterminated `${` in the infrastructure profile",
                )
                .at(path, text, i + 1, col)
                .with_hint("write `${NAME}` or `${NAME:-default}`")]));
            };
            let inner = &after[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            match (env(name).filter(|v| !v.is_empty()), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {
                    let col = line.len() - rest.len() + start + 1;
                    return Err(Diagnostics(vec![Diagnostic::new(
                        ErrorKind::Config,
                        format!("environment variable `{name}` is not set"),
                    )
                    .at(path, text, i + 1, col)
                    .with_hint(format!(
                        "export {name}=..., or give a default: `${{{name}:-value}}`"
                    ))]));
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: &str = r#"kafka:
  local: { bootstrap_servers: "${KAFKA_BROKERS:-127.0.0.1:9092}" }
redis:
  features: { url: "${REDIS_URL:-redis://127.0.0.1:6379}" }
aws:
  local:
    region: us-east-1
    endpoint: "${AWS_ENDPOINT_URL:-http://127.0.0.1:5000}"
    access_key_id: ${AWS_KEY}
"#;

    #[test]
    fn variables_and_defaults_are_substituted() {
        let env = |v: &str| match v {
            "KAFKA_BROKERS" => Some("10.0.0.1:9092".to_string()),
            "AWS_KEY" => Some("AKIA".to_string()),
            _ => None,
        };
        let infra = parse_infra(Path::new("local.yaml"), LOCAL, env).unwrap();
        assert_eq!(infra.kafka["local"].bootstrap_servers, "10.0.0.1:9092");
        assert_eq!(infra.redis["features"].url.0, "redis://127.0.0.1:6379");
        let aws = &infra.aws["local"];
        assert_eq!(aws.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(aws.access_key_id.as_ref().unwrap().0, "AKIA");
        // Secrets never print.
        assert!(!format!("{infra:?}").contains("AKIA"));
        assert!(!serde_json::to_string(&infra).unwrap().contains("AKIA"));
    }

    #[test]
    fn an_unset_variable_without_default_is_an_error_at_its_line() {
        let err = parse_infra(Path::new("local.yaml"), LOCAL, |_| None).unwrap_err();
        let d = &err.0[0];
        assert!(d.message.contains("`AWS_KEY` is not set"), "{d}");
        assert_eq!(d.location.as_ref().unwrap().line, 9);
        assert!(
            d.hint.as_ref().unwrap().contains("${AWS_KEY:-value}"),
            "{d}"
        );
    }

    #[test]
    fn a_typo_is_an_error() {
        let bad = "kafka:\n  local: { bootstrap_server: x }\n";
        let err = parse_infra(Path::new("p.yaml"), bad, |_| None).unwrap_err();
        assert!(err.0[0]
            .message
            .contains("unknown field `bootstrap_server`"));
        assert_eq!(err.0[0].location.as_ref().unwrap().line, 2);
    }
}

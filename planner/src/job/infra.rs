//! Infrastructure profiles (`configs/infra/<env>.yaml`): named Kafka clusters, Redis
//! stores and AWS accounts. A job names them (`cluster: local`, `store: features`,
//! `aws: local`) and says only the topic, stream, bucket or table, so moving a job from
//! a laptop to production changes the profile, not the job.
//!
//! `${VAR}` and `${VAR:-default}` in string values are substituted from the environment
//! after the YAML is parsed (never in comments or keys, and a value's characters are never
//! read as YAML); a variable that is unset and has no default is an error naming its
//! line. Credentials are [`Secret`]s: printed and serialized as `***`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_norway::{Mapping, Value};

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
    #[serde(default, deserialize_with = "super::de::unique_map")]
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
    #[serde(default, deserialize_with = "super::de::unique_map")]
    pub kafka: IndexMap<String, KafkaCluster>,
    /// Redis stores by name.
    #[serde(default, deserialize_with = "super::de::unique_map")]
    pub redis: IndexMap<String, RedisStore>,
    /// AWS accounts by name.
    #[serde(default, deserialize_with = "super::de::unique_map")]
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
///
/// `${VAR}` and `${VAR:-default}` are replaced in string values after the YAML is parsed,
/// so a value may hold any characters (`#`, `: `, quotes, backslashes) without being read
/// as YAML, and comments and keys are left alone. A variable set to the empty string
/// counts as unset.
pub fn parse_infra(
    path: &Path,
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Infra, Diagnostics> {
    // The shape first, on the text as written, so a misspelt key is reported where it is.
    serde_norway::from_str::<Infra>(text).map_err(|e| yaml_error(path, text, &e))?;
    let failure = RefCell::new(None);
    let seed = Substitute {
        env: &env,
        failure: &failure,
        key: false,
    };
    let value = seed
        .deserialize(serde_norway::Deserializer::from_str(text))
        .map_err(|e| match failure.take() {
            Some(f) => substitution_error(path, text, &e, f),
            None => yaml_error(path, text, &e),
        })?;
    let mut infra: Infra = serde_norway::from_value(value).map_err(|e| {
        Diagnostics(vec![Diagnostic::new(
            ErrorKind::Config,
            format!("after substituting environment variables: {e}"),
        )
        .in_file(path)
        .with_hint("every setting in a profile is a string; quote it")])
    })?;
    infra.path = path.to_path_buf();
    check_values(&infra, path, text)?;
    Ok(infra)
}

/// Values that cannot work, found now rather than when a run first connects: an empty Kafka
/// bootstrap list or an entry with a bad port, a Redis URL of a scheme the client does not
/// take, an AWS endpoint that is not an `http(s)://` URL. (Values are checked after
/// the environment is substituted: the message shows what was used.)
fn check_values(infra: &Infra, path: &Path, text: &str) -> Result<(), Diagnostics> {
    use super::locate::{Doc, Seg};
    let doc = Doc::parse(text);
    let mut problems = Vec::new();
    let mut report = |segs: [Seg; 3], msg: String, hint: &str| {
        let d = Diagnostic::new(ErrorKind::Config, msg).with_hint(hint);
        let mut d = match doc.find(&segs) {
            Some(found) => d.at(path, text, found.value.0, found.value.1),
            None => d.in_file(path),
        };
        if segs[0] == Seg::Key("redis") {
            d.snippet = None; // the line may hold a password
        }
        problems.push(d);
    };
    for (name, k) in &infra.kafka {
        // librdkafka takes `host` (port 9092) or `host:port`, and skips empty entries.
        let servers: Vec<&str> = k
            .bootstrap_servers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let bad = servers
            .iter()
            .find(|s| match s.rsplit_once(':') {
                // An IPv6 address without a port (`::1`) has colons but no brackets.
                Some((host, port)) if !host.ends_with(':') => {
                    host.is_empty() || port.parse::<u16>().is_err()
                }
                _ => false,
            })
            .copied()
            .or(servers.is_empty().then_some(""));
        if let Some(bad) = bad {
            report(
                [
                    Seg::Key("kafka"),
                    Seg::Key(name),
                    Seg::Key("bootstrap_servers"),
                ],
                format!("kafka cluster `{name}`: bootstrap server `{bad}` is not host:port"),
                "write host:port, several separated by commas, e.g. `127.0.0.1:9092`",
            );
        }
    }
    for (name, r) in &infra.redis {
        let url = r.url.0.as_str();
        if ![
            "redis://",
            "rediss://",
            "unix://",
            "redis+unix://",
            "valkey://",
            "valkeys://",
            "valkey+unix://",
        ]
        .iter()
        .any(|scheme| url.starts_with(scheme))
        {
            // The URL may hold a password: name only its scheme.
            let scheme = url.split_once("://").map_or("no scheme", |(s, _)| s);
            report(
                [Seg::Key("redis"), Seg::Key(name), Seg::Key("url")],
                format!("redis store `{name}`: the url is not a Redis URL ({scheme})"),
                "write redis://[user:password@]host:port[/db] (rediss:// for TLS)",
            );
        }
    }
    for (name, a) in &infra.aws {
        if let Some(e) = a.endpoint.as_deref() {
            let host = e
                .strip_prefix("http://")
                .or_else(|| e.strip_prefix("https://"))
                .filter(|rest| !rest.is_empty() && !rest.starts_with('/'));
            if host.is_none() {
                report(
                    [Seg::Key("aws"), Seg::Key(name), Seg::Key("endpoint")],
                    format!("aws account `{name}`: endpoint `{e}` is not an http(s) URL"),
                    "write the scheme too, e.g. `http://127.0.0.1:5000`",
                );
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(problems))
    }
}

/// A YAML or shape error, at its position.
fn yaml_error(path: &Path, text: &str, e: &serde_norway::Error) -> Diagnostics {
    let msg = e.to_string();
    let clean = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    let mut d = Diagnostic::new(ErrorKind::Config, clean.clone());
    let mut line = "";
    match e.location() {
        Some(l) => {
            let at = (l.line(), l.column());
            let (at_line, at_col) = repeated_key(&clean, text, at).unwrap_or(at);
            d = d.at(path, text, at_line, at_col);
            line = text.lines().nth(l.line().saturating_sub(1)).unwrap_or("");
        }
        None => d = d.in_file(path),
    }
    if let Some(guess) = super::validate::guess(&clean) {
        d = d.with_hint(format!("did you mean `{guess}`?"));
    } else if clean.contains("unknown field") {
        d = d.with_hint(
            "check the spelling; a profile has `kafka:`, `redis:` and `aws:` maps of named entries",
        );
    } else if line.contains("${") {
        // `{ url: ${URL} }`: in a flow mapping the braces of a plain value are YAML.
        d = d.with_hint("quote a value that uses a variable: `key: \"${NAME}\"`");
    }
    Diagnostics(vec![d])
}

/// For "`key` is given twice" in the mapping at `at` (where serde points): the second
/// definition of `key`.
fn repeated_key(message: &str, text: &str, at: (usize, usize)) -> Option<(usize, usize)> {
    let key = message
        .split('`')
        .nth(1)
        .filter(|_| message.contains("is given twice"))?;
    super::locate::Doc::parse(text)
        .repeated_key(at, key)
        .map(|(_, second)| second)
}

/// Why a value's `${...}` could not be replaced.
struct Failure {
    message: String,
    hint: String,
    /// The text to point at within the value's line, when it is there.
    needle: String,
}

/// A failed substitution: the YAML error gives the value's position; the caret goes to
/// the `${` on that line when it is found there (a value continued on later lines keeps
/// the value's start).
fn substitution_error(path: &Path, text: &str, e: &serde_norway::Error, f: Failure) -> Diagnostics {
    let d = Diagnostic::new(ErrorKind::Config, f.message).with_hint(f.hint);
    let d = match e.location() {
        Some(l) => {
            let src = text.lines().nth(l.line().saturating_sub(1)).unwrap_or("");
            let from: usize = src
                .chars()
                .take(l.column().saturating_sub(1))
                .map(char::len_utf8)
                .sum();
            let column = match src.get(from..).and_then(|rest| rest.find(&f.needle)) {
                Some(at) => src[..from + at].chars().count() + 1,
                None => l.column(),
            };
            d.at(path, text, l.line(), column)
        }
        None => d.in_file(path),
    };
    Diagnostics(vec![d])
}

/// Reads any YAML into a [`serde_norway::Value`], replacing `${...}` in string values.
/// Scalars become strings (every setting in a profile is one); keys are names and are
/// kept as written.
#[derive(Clone, Copy)]
struct Substitute<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    /// The first failure; the error returned to serde_norway gets its position from it.
    failure: &'a RefCell<Option<Failure>>,
    key: bool,
}

impl Substitute<'_> {
    fn string<E: de::Error>(self, s: &str) -> Result<Value, E> {
        if self.key {
            return Ok(Value::String(s.to_string()));
        }
        expand(s, self.env).map(Value::String).map_err(|f| {
            let e = E::custom(&f.message);
            *self.failure.borrow_mut() = Some(f);
            e
        })
    }
}

impl<'de> DeserializeSeed<'de> for Substitute<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Substitute<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.string(v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Sequence(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Mapping::new();
        while let Some(k) = map.next_key_seed(Substitute { key: true, ..self })? {
            let v = map.next_value_seed(self)?;
            out.insert(k, v);
        }
        Ok(Value::Mapping(out))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(de::Error::custom(
            "YAML tags (`!name`) are not supported in an infrastructure profile",
        ))
    }
}

/// Replaces `${VAR}` and `${VAR:-default}` in one string value.
fn expand(value: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Failure> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(Failure {
                message: "unterminated `${` in the infrastructure profile".to_string(),
                hint: "write `${NAME}` or `${NAME:-default}`".to_string(),
                needle: "${".to_string(),
            });
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
                return Err(Failure {
                    message: format!("environment variable `{name}` is not set"),
                    hint: format!("export {name}=..., or give a default: `${{{name}:-value}}`"),
                    needle: format!("${{{inner}}}"),
                })
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
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

    /// Values that cannot connect are errors when the profile is read, at the value, each
    /// with its fix (they used to fail a run at its first connection, or retry an empty
    /// broker list for 15 s); a Redis password is never shown.
    #[test]
    fn values_that_cannot_connect_are_errors_at_the_value() {
        let profile = "kafka:\n  a: { bootstrap_servers: \"\" }\n  b: { bootstrap_servers: \"h:1, h2:x\" }\n  ok: { bootstrap_servers: \"h:1,[::1]:9092, kafka,\" }\nredis:\n  r: { url: \"http://user:secret@h:6379\" }\n  ok: { url: \"rediss://h:1/0\" }\n  v: { url: \"valkey://h:1\" }\naws:\n  x: { region: r, endpoint: \"127.0.0.1:5000\" }\n  ok: { region: r, endpoint: \"https://h\" }\n";
        let d = parse_infra(Path::new("p.yaml"), profile, |_| None).expect_err("bad values");
        let got: Vec<(String, usize, usize)> =
            d.0.iter()
                .map(|d| {
                    let l = d.location.as_ref().expect("a location");
                    (d.message.clone(), l.line, l.column)
                })
                .collect();
        assert_eq!(
            got,
            [
                (
                    "kafka cluster `a`: bootstrap server `` is not host:port".to_string(),
                    2,
                    27
                ),
                (
                    "kafka cluster `b`: bootstrap server `h2:x` is not host:port".to_string(),
                    3,
                    27
                ),
                (
                    "redis store `r`: the url is not a Redis URL (http)".to_string(),
                    6,
                    13
                ),
                (
                    "aws account `x`: endpoint `127.0.0.1:5000` is not an http(s) URL".to_string(),
                    10,
                    29
                ),
            ]
        );
        assert!(!d.to_string().contains("secret"), "{d}");
    }

    #[test]
    fn a_name_or_property_given_twice_is_an_error_at_its_line() {
        let env = |_: &str| None;
        for (text, name, line) in [
            (
                "kafka:\n  local: { bootstrap_servers: a:1 }\n  local: { bootstrap_servers: b:1 }\n",
                "local",
                3,
            ),
            ("redis:\n  s: { url: \"redis://a\" }\n  s: { url: \"redis://b\" }\n", "s", 3),
            (
                "kafka:\n  k:\n    bootstrap_servers: a:1\n    properties:\n      linger.ms: \"5\"\n      linger.ms: \"50\"\n",
                "linger.ms",
                6,
            ),
            // Flow style over several lines.
            (
                "kafka:\n  k: { bootstrap_servers: a:1,\n       properties: { linger.ms: \"5\",\n                     linger.ms: \"50\" } }\n",
                "linger.ms",
                4,
            ),
        ] {
            let err = parse_infra(Path::new("p.yaml"), text, env).unwrap_err();
            let d = &err.0[0];
            assert!(
                d.message.contains(&format!("`{name}` is given twice")),
                "{text}: {d}"
            );
            assert_eq!(d.location.as_ref().map(|l| l.line), Some(line), "{text}: {d}");
        }
    }

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
        assert_eq!(
            err.0[0].hint.as_deref(),
            Some("did you mean `bootstrap_servers`?")
        );
    }

    #[test]
    fn a_variable_in_a_comment_is_not_substituted() {
        let profile = "# ${UNSET} is documentation, not a value\n\
kafka:\n  local:\n    bootstrap_servers: \"${BROKERS:-h:1}\"  # ${ALSO_UNSET}\n";
        let infra =
            parse_infra(Path::new("p.yaml"), profile, |_| None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(infra.kafka["local"].bootstrap_servers, "h:1");
    }

    #[test]
    fn a_value_is_never_read_as_yaml() {
        let profile = "kafka:\n  local:\n    bootstrap_servers: \"${BROKERS}\"\n    properties:\n      sasl.password: \"${PASSWORD}\"\n      sasl.username: '${USER}'\n      plain: ${PLAIN}\n";
        let env = |v: &str| match v {
            "BROKERS" => Some("a:9092,b:9092".to_string()),
            "PASSWORD" => Some(r#"p#ss: "q" \n \" x"#.to_string()),
            "USER" => Some("o'brien # not a comment".to_string()),
            "PLAIN" => Some("k: v\nnext: line".to_string()),
            _ => None,
        };
        let infra =
            parse_infra(Path::new("p.yaml"), profile, env).unwrap_or_else(|e| panic!("{e}"));
        let kafka = &infra.kafka["local"];
        assert_eq!(kafka.bootstrap_servers, "a:9092,b:9092");
        assert_eq!(kafka.properties["sasl.password"].0, r#"p#ss: "q" \n \" x"#);
        assert_eq!(
            kafka.properties["sasl.username"].0,
            "o'brien # not a comment"
        );
        assert_eq!(kafka.properties["plain"].0, "k: v\nnext: line");
    }

    #[test]
    fn a_setting_written_as_a_number_or_boolean_is_its_text() {
        let profile = "kafka:\n  local:\n    bootstrap_servers: \"${B:-h:1}\"\n    properties: { linger.ms: 5, enable.idempotence: true }\n";
        let infra = parse_infra(Path::new("p.yaml"), profile, |_| None).unwrap();
        let props = &infra.kafka["local"].properties;
        assert_eq!(props["linger.ms"].0, "5");
        assert_eq!(props["enable.idempotence"].0, "true");
        assert_eq!(infra.kafka["local"].bootstrap_servers, "h:1");
    }

    #[test]
    fn an_unset_variable_is_pointed_at_within_its_value() {
        let profile = "redis:\n  features: { url: \"redis://${HOST:-x}:${PORT}/0\" }\n";
        let err = parse_infra(Path::new("p.yaml"), profile, |_| None).unwrap_err();
        let d = &err.0[0];
        assert!(d.message.contains("`PORT` is not set"), "{d}");
        let loc = d.location.as_ref().unwrap();
        assert_eq!((loc.line, loc.column), (2, 40), "{d}");
        assert!(d.hint.as_ref().unwrap().contains("${PORT:-value}"), "{d}");
        let unterminated = "aws:\n  a: { region: \"${REGION\" }\n";
        let err = parse_infra(Path::new("p.yaml"), unterminated, |_| None).unwrap_err();
        assert!(
            err.0[0].message.contains("unterminated `${`"),
            "{}",
            err.0[0]
        );
        assert_eq!(err.0[0].location.as_ref().unwrap().line, 2);
    }

    #[test]
    fn an_unquoted_variable_in_a_flow_mapping_gets_a_hint() {
        let profile = "redis:\n  features: { url: ${URL} }\n";
        let err = parse_infra(Path::new("p.yaml"), profile, |_| Some("x".into())).unwrap_err();
        let d = &err.0[0];
        assert_eq!(d.location.as_ref().unwrap().line, 2, "{d}");
        assert!(d.hint.as_ref().unwrap().contains("quote a value"), "{d}");
    }
}

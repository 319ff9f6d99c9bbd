//! The AWS connectors: the [`s3`] and [`kinesis`] sources and the [`dynamodb`] sink.
//!
//! Each reader or sink owns a small current-thread tokio runtime ([`Aws`]) and blocks on
//! the SDK's calls, so the dataflow stays free of async. Clients are configured from the
//! infrastructure profile's [`AwsAccount`]: its region; its `endpoint` override (a local
//! endpoint such as moto's server); its static credentials when given, else dummy ones
//! when an endpoint is set (local servers accept anything), else the SDK's default chain
//! (environment, profile, web identity, container, instance metadata). TLS is rustls with
//! ring; S3 uses path-style addressing so local endpoints work without DNS tricks.

pub mod dynamodb;
pub mod kinesis;
pub mod local;
pub mod s3;

use std::future::Future;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use aws_smithy_http_client::tls;
use planner::job::{AwsAccount, Infra};

/// Per-call limits: a connect that hangs is an unreachable endpoint, not a stall.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);

/// A runtime and the SDK configuration of one AWS account.
pub struct Aws {
    rt: tokio::runtime::Runtime,
    config: SdkConfig,
    /// The account's name in the infrastructure profile (for messages).
    pub account: String,
    /// The endpoint override, if any (for messages).
    pub endpoint: Option<String>,
}

impl Aws {
    /// Looks up account `name` in `infra` and builds its configuration.
    pub fn open(infra: &Infra, name: &str) -> Result<Self, String> {
        let account = infra.aws.get(name).ok_or_else(|| {
            let known: Vec<&str> = infra.aws.keys().map(|k| k.as_str()).collect();
            format!(
                "AWS account `{name}` is not in the infrastructure profile{} (known: {}); add it under `aws:` (region, and endpoint for a local server)",
                if infra.path.as_os_str().is_empty() { String::new() } else { format!(" {}", infra.path.display()) },
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )
        })?;
        Self::from_account(name, account)
    }

    /// Builds the configuration of `account`.
    pub fn from_account(name: &str, account: &AwsAccount) -> Result<Self, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the AWS client runtime: {e}"))?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(account.region.clone()))
            .http_client(http)
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            );
        if let Some(ep) = &account.endpoint {
            loader = loader.endpoint_url(ep);
        }
        let creds = match (&account.access_key_id, &account.secret_access_key) {
            (Some(id), Some(secret)) => Some(Credentials::new(
                &id.0,
                &secret.0,
                account.session_token.as_ref().map(|t| t.0.clone()),
                None,
                "freshet-infra-profile",
            )),
            (Some(_), None) | (None, Some(_)) => {
                return Err(format!(
                    "AWS account `{name}`: give both access_key_id and secret_access_key, or neither (to use the default credential chain)"
                ))
            }
            (None, None) if account.endpoint.is_some() => Some(Credentials::new(
                "test",
                "test",
                None,
                None,
                "freshet-local-endpoint",
            )),
            (None, None) => None,
        };
        if let Some(c) = creds {
            loader = loader.credentials_provider(SharedCredentialsProvider::new(c));
        }
        let config = rt.block_on(loader.load());
        Ok(Aws {
            rt,
            config,
            account: name.to_string(),
            endpoint: account.endpoint.clone(),
        })
    }

    /// Runs a future to completion on this runtime.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The shared SDK configuration.
    pub fn config(&self) -> &SdkConfig {
        &self.config
    }

    /// An S3 client (path-style addressing).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// A Kinesis client.
    pub fn kinesis(&self) -> aws_sdk_kinesis::Client {
        aws_sdk_kinesis::Client::new(&self.config)
    }

    /// A DynamoDB client.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.config)
    }

    /// `account `x` (endpoint ...)`: where a failing call went, for messages.
    pub fn describe(&self) -> String {
        match &self.endpoint {
            Some(ep) => format!("AWS account `{}` at {ep}", self.account),
            None => format!("AWS account `{}`", self.account),
        }
    }
}

/// An SDK error with its whole cause chain (the SDK's `Display` alone says only
/// "service error" or "dispatch failure").
pub fn error_text<E: std::error::Error>(e: &E) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Whether an SDK error is a failure to reach the service (connect, timeout, I/O): worth
/// retrying, and at open worth a hint about the endpoint.
pub fn is_transport<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> bool {
    use aws_sdk_s3::error::SdkError;
    matches!(
        e,
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_)
    )
}

/// A stable 64-bit FNV-1a hash (for deterministic work assignment across workers).
pub(crate) fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

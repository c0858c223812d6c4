//! AWS access: one place builds the SDK configuration (default credential
//! chain, region precedence, endpoint override, retries) and one place turns
//! SDK errors into ecsx's one-line errors.

use std::error::Error as StdError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_types::SdkConfig;

use crate::error::{Error, Result};
use crate::exec::channel::{AwsBackend, ChannelConfig, SessionBackend};

static DEBUG: AtomicBool = AtomicBool::new(false);

/// Turn `--debug` output on.
pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

/// Whether `--debug` is on.
pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// Print a debug line on stderr. Callers never pass credentials or tokens.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::aws::debug_enabled() {
            eprintln!("[debug] {}", format!($($arg)*));
        }
    };
}

/// What to build the SDK configuration from.
#[derive(Debug, Default, Clone)]
pub struct AwsSettings {
    /// `--region`, then the config's `region:`; `None` leaves it to the SDK
    /// (AWS_REGION, then the profile).
    pub region: Option<String>,
    pub profile: Option<String>,
    /// `--endpoint-url`; the SDK itself honours AWS_ENDPOINT_URL.
    pub endpoint_url: Option<String>,
    /// Sandbox mode: fixed fake credentials, region defaulting to us-east-1.
    pub sandbox: bool,
    /// For error messages: the config file.
    pub config_label: String,
}

/// The loaded SDK configuration plus what ecsx needs to explain failures.
#[derive(Clone, Debug)]
pub struct Aws {
    pub sdk: SdkConfig,
    pub region: String,
    /// For `--debug`: the override, or ECS's regional endpoint.
    pub endpoint: String,
    /// Service clients, made once and shared by clones: every
    /// `Client::new` loads and parses the system's root certificates (the
    /// SDK checks its HTTP client that way), which showed when a command ran
    /// on a hundred tasks.
    clients: Arc<Clients>,
}

#[derive(Debug, Default)]
struct Clients {
    ecs: OnceLock<aws_sdk_ecs::Client>,
    ssm: OnceLock<aws_sdk_ssm::Client>,
    backend: OnceLock<Arc<AwsBackend>>,
}

impl Aws {
    /// Build the SDK configuration.
    pub async fn load(settings: &AwsSettings) -> Result<Aws> {
        let max_attempts = std::env::var("AWS_MAX_ATTEMPTS")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(5);
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(max_attempts)
                    .with_initial_backoff(Duration::from_millis(50))
                    .with_max_backoff(Duration::from_secs(5)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .build(),
            );
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if settings.sandbox {
            loader = loader.credentials_provider(aws_sdk_ecs::config::Credentials::new(
                "AKIDSANDBOXEXAMPLE",
                "sandbox-secret-access-key",
                None,
                None,
                "ecsx-sandbox",
            ));
            if settings.region.is_none() && std::env::var_os("AWS_REGION").is_none() {
                loader = loader.region(Region::new("us-east-1"));
            }
        }
        let sdk = loader.load().await;
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| Error::NoRegion {
                config: settings.config_label.clone(),
            })?;
        let endpoint = sdk
            .endpoint_url()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("https://ecs.{region}.amazonaws.com"));
        crate::debug!(
            "region {region}, endpoint {endpoint}, profile {}",
            settings.profile.as_deref().unwrap_or("(default chain)")
        );
        Ok(Aws::new(sdk, region, endpoint))
    }

    /// From an SDK configuration already loaded.
    pub fn new(sdk: SdkConfig, region: String, endpoint: String) -> Aws {
        Aws {
            sdk,
            region,
            endpoint,
            clients: Arc::default(),
        }
    }

    pub fn ssm(&self) -> aws_sdk_ssm::Client {
        let sdk = &self.sdk;
        self.clients
            .ssm
            .get_or_init(|| aws_sdk_ssm::Client::new(sdk))
            .clone()
    }

    /// A data channel's configuration, with this process's shared SSM and
    /// KMS clients for resume, terminate and KMS keys.
    pub fn channel_config(&self) -> ChannelConfig {
        let mut config = ChannelConfig::new(self.sdk.clone());
        let backend = self
            .clients
            .backend
            .get_or_init(|| Arc::new(AwsBackend::new(&self.sdk)));
        config.backend = Some(Arc::clone(backend) as Arc<dyn SessionBackend>);
        config
    }

    pub fn ecs(&self) -> aws_sdk_ecs::Client {
        let sdk = &self.sdk;
        self.clients
            .ecs
            .get_or_init(|| aws_sdk_ecs::Client::new(sdk))
            .clone()
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.sdk)
    }

    /// Turn an SDK error into ecsx's error. Service errors keep their code
    /// so that callers can match on it (`ClusterNotFoundException`).
    pub fn error<E, R>(&self, operation: &'static str, err: SdkError<E, R>) -> Error
    where
        E: ProvideErrorMetadata + StdError + 'static,
        R: std::fmt::Debug,
    {
        sdk_error(&self.sdk, operation, &err)
    }
}

/// The endpoint an operation goes to: the override, else AWS's regional one.
pub fn endpoint_for(sdk: &SdkConfig, operation: &str) -> String {
    match sdk.endpoint_url() {
        Some(url) => url.to_string(),
        None => {
            let action = crate::error::iam_action(operation);
            let service = action.split(':').next().unwrap_or("ecs");
            let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
            format!("https://{service}.{region}.amazonaws.com")
        }
    }
}

/// Turn any SDK failure into ecsx's error: AWS's code and message for
/// service errors, "cannot reach" for the network, missing credentials as
/// such; never the SDK's `Debug` text (that goes to `--debug` only, and
/// holds no credentials).
pub fn sdk_error<E, R>(sdk: &SdkConfig, operation: &'static str, err: &SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            Error::Aws {
                operation,
                code: inner.code().unwrap_or("Unknown").to_string(),
                message: one_line(inner.message().unwrap_or("no message")),
            }
        }
        _ => {
            let chain = error_chain(err);
            crate::debug!("{operation}: {chain}");
            let lower = chain.to_ascii_lowercase();
            if lower.contains("credential")
                && (lower.contains("no credentials")
                    || lower.contains("failed to load")
                    || lower.contains("not loaded")
                    || lower.contains("provider"))
            {
                Error::NoCredentials
            } else if let SdkError::TimeoutError(_) = err {
                Error::Unreachable {
                    endpoint: endpoint_for(sdk, operation),
                    operation,
                    message: "timed out".into(),
                }
            } else if let SdkError::DispatchFailure(_) = err {
                Error::Unreachable {
                    endpoint: endpoint_for(sdk, operation),
                    operation,
                    message: short_cause(&chain),
                }
            } else {
                Error::Aws {
                    operation,
                    code: "ClientError".into(),
                    message: short_cause(&chain),
                }
            }
        }
    }
}

/// The cause of an SDK failure without the operation, for messages that
/// name it themselves: `AccessDeniedException: ...`, `cannot reach URL:
/// Connection refused (os error 111)`.
pub fn sdk_cause<E, R>(sdk: &SdkConfig, operation: &'static str, err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: std::fmt::Debug,
{
    match sdk_error(sdk, operation, err) {
        Error::Aws { code, message, .. } => format!("{code}: {message}"),
        Error::Unreachable {
            endpoint, message, ..
        } => format!("cannot reach {endpoint}: {message}"),
        other => other.to_string(),
    }
}

/// Text on one line: newlines and runs of blanks become one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every message down an error's source chain, joined.
fn error_chain(err: &dyn StdError) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// The innermost, most specific part of a chain (`Connection refused`).
fn short_cause(chain: &str) -> String {
    chain
        .rsplit(": ")
        .find(|p| !p.trim().is_empty())
        .unwrap_or(chain)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Data channels, and clones of `Aws` (one per session in a fan-out),
    /// share one SSM/KMS backend instead of making clients per session.
    #[tokio::test]
    async fn clones_share_one_channel_backend() {
        let aws = Aws::load(&AwsSettings {
            endpoint_url: Some("http://127.0.0.1:9".into()),
            sandbox: true,
            ..AwsSettings::default()
        })
        .await
        .unwrap();
        let copy = aws.clone();
        let (a, b) = (aws.channel_config(), copy.channel_config());
        assert!(Arc::ptr_eq(
            a.backend.as_ref().unwrap(),
            b.backend.as_ref().unwrap()
        ));
    }

    #[test]
    fn messages_are_made_one_line() {
        assert_eq!(one_line("a\n  b\tc  "), "a b c");
    }

    #[test]
    fn the_endpoint_named_is_the_operations_service() {
        let sdk = SdkConfig::builder()
            .region(Region::new("eu-west-1"))
            .build();
        assert_eq!(
            endpoint_for(&sdk, "ResumeSession"),
            "https://ssm.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            endpoint_for(&sdk, "ListTasks"),
            "https://ecs.eu-west-1.amazonaws.com"
        );
        let sdk = SdkConfig::builder()
            .region(Region::new("eu-west-1"))
            .endpoint_url("http://127.0.0.1:4566")
            .build();
        assert_eq!(endpoint_for(&sdk, "GetRole"), "http://127.0.0.1:4566");
    }
}

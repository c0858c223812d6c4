//! AWS lookups made while rendering templates: `ssm` (SSM GetParameter,
//! decrypted), `secretsmanager_arn` (Secrets Manager DescribeSecret) and
//! tfstate on `s3://` (S3 GetObject, a SigV4-signed GET over hyper; see
//! docs/design.md for why not aws-sdk-s3).
//!
//! Rendering is synchronous and may run inside ecsx's async runtime, so the
//! calls run on a runtime of their own, driven from a short-lived thread.
//! The SDK configuration is loaded on the first lookup only: a template
//! without these functions never touches credentials. Answers are cached
//! for the whole run. With `--debug` each call is counted and named, never
//! with a parameter's value.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use axum::body::Bytes;
use http_body_util::{BodyExt, Empty};

use crate::aws::{Aws, AwsSettings};
use crate::template::Remote;

type Cache<T> = Mutex<HashMap<String, Result<T, String>>>;

/// The [`Remote`] of a real run: the user's credentials and endpoints.
pub struct AwsRemote {
    settings: AwsSettings,
    /// Why lookups are refused (e.g. under `--sandbox`), if they are.
    refused: Option<String>,
    runtime: OnceLock<Result<tokio::runtime::Runtime, String>>,
    aws: OnceLock<Result<Aws, String>>,
    parameters: Cache<(String, String)>,
    secrets: Cache<String>,
    objects: Cache<Vec<u8>>,
    calls: Mutex<BTreeMap<&'static str, u64>>,
}

impl AwsRemote {
    pub fn new(settings: AwsSettings) -> AwsRemote {
        AwsRemote {
            settings,
            refused: None,
            runtime: OnceLock::new(),
            aws: OnceLock::new(),
            parameters: Mutex::new(HashMap::new()),
            secrets: Mutex::new(HashMap::new()),
            objects: Mutex::new(HashMap::new()),
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    /// A remote that answers every lookup with `reason`.
    pub fn refusing(reason: impl Into<String>) -> AwsRemote {
        let mut r = AwsRemote::new(AwsSettings::default());
        r.refused = Some(reason.into());
        r
    }

    /// AWS calls made so far, per `service:Operation`.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn count(&self, key: &'static str, what: &str) {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        *calls.entry(key).or_default() += 1;
        let total: u64 = calls.values().sum();
        crate::debug!("render: AWS call {total}: {key} {what}");
    }

    /// Runs `fut` to completion on this remote's runtime, from a thread of
    /// its own (the caller may be inside another runtime).
    fn block<F>(&self, fut: F) -> Result<F::Output, String>
    where
        F: Future + Send,
        F::Output: Send,
    {
        let rt = self
            .runtime
            .get_or_init(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start the async runtime: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)?;
        std::thread::scope(|s| {
            s.spawn(|| rt.block_on(fut))
                .join()
                .map_err(|_| "an AWS lookup thread failed".to_string())
        })
    }

    fn aws(&self) -> Result<&Aws, String> {
        if let Some(reason) = &self.refused {
            return Err(reason.clone());
        }
        self.aws
            .get_or_init(|| {
                self.block(Aws::load(&self.settings))?
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn cached<T: Clone>(
        cache: &Cache<T>,
        key: &str,
        fetch: impl FnOnce() -> Result<T, String>,
    ) -> Result<T, String> {
        if let Some(hit) = cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
        {
            return hit.clone();
        }
        let got = fetch();
        cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_string(), got.clone());
        got
    }
}

impl Drop for AwsRemote {
    fn drop(&mut self) {
        // Dropping a runtime inside another one panics; this does not.
        if let Some(Ok(rt)) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Remote for AwsRemote {
    fn ssm_parameter(&self, name: &str) -> Result<(String, String), String> {
        Self::cached(&self.parameters, name, || {
            let aws = self.aws()?;
            self.count("ssm:GetParameter", name);
            let client = aws.ssm();
            let out = self
                .block(
                    client
                        .get_parameter()
                        .name(name)
                        .with_decryption(true)
                        .send(),
                )?
                .map_err(|e| aws.error("GetParameter", e).to_string())?;
            let p = out
                .parameter()
                .ok_or("GetParameter answered without a parameter")?;
            let kind = p
                .r#type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_else(|| "String".into());
            crate::debug!("render: ssm parameter {name} is a {kind} (value not shown)");
            Ok((kind, p.value().unwrap_or_default().to_string()))
        })
    }

    fn secret_arn(&self, id: &str) -> Result<String, String> {
        Self::cached(&self.secrets, id, || {
            let aws = self.aws()?;
            self.count("secretsmanager:DescribeSecret", id);
            let client = aws_sdk_secretsmanager::Client::new(&aws.sdk);
            let out = self
                .block(client.describe_secret().secret_id(id).send())?
                .map_err(|e| aws.error("DescribeSecret", e).to_string())?;
            out.arn()
                .map(str::to_owned)
                .ok_or_else(|| "DescribeSecret answered without an ARN".to_string())
        })
    }

    fn s3_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
        let id = format!("s3://{bucket}/{key}");
        Self::cached(&self.objects, &id, || {
            let aws = self.aws()?;
            self.count("s3:GetObject", &id);
            let endpoint = s3_endpoint(self.settings.endpoint_url.as_deref());
            self.block(get_object(aws, endpoint, bucket, key))?
        })
    }
}

/// The S3 endpoint: AWS_ENDPOINT_URL_S3, else `--endpoint-url`, else
/// AWS_ENDPOINT_URL; `None` is AWS itself.
fn s3_endpoint(flag: Option<&str>) -> Option<String> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    env("AWS_ENDPOINT_URL_S3")
        .or_else(|| flag.map(str::to_owned))
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .map(|u| u.trim_end_matches('/').to_string())
}

/// Percent-encodes a key for a URL path, keeping `/`.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// S3 GetObject: path-style on a custom endpoint, virtual-hosted on AWS.
/// A bucket in another region is followed once (S3's 301 names it).
async fn get_object(
    aws: &Aws,
    endpoint: Option<String>,
    bucket: &str,
    key: &str,
) -> Result<Vec<u8>, String> {
    let credentials = match aws.sdk.credentials_provider() {
        Some(p) => p
            .provide_credentials()
            .await
            .map_err(|_| crate::error::Error::NoCredentials.to_string())?,
        None => return Err(crate::error::Error::NoCredentials.to_string()),
    };
    let identity: Identity = credentials.into();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| format!("TLS setup: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Empty<Bytes>>(connector);
    let mut region = aws.region.clone();
    for _ in 0..2 {
        let url = match &endpoint {
            Some(e) => format!("{e}/{bucket}/{}", encode_key(key)),
            None => format!(
                "https://{bucket}.s3.{region}.amazonaws.com/{}",
                encode_key(key)
            ),
        };
        let uri: axum::http::Uri = url.parse().map_err(|e| format!("bad S3 URL {url}: {e}"))?;
        let host = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| format!("cannot sign the request: {e}"))?
            .into();
        let headers = [("host", host.as_str())];
        let signable = SignableRequest::new(
            "GET",
            url.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(&[]),
        )
        .map_err(|e| format!("cannot sign the request: {e}"))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| format!("cannot sign the request: {e}"))?
            .into_parts();
        let mut request = axum::http::Request::get(uri).header("host", &host);
        let (signed, _) = instructions.into_parts();
        for h in signed {
            request = request.header(h.name(), h.value());
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let shown = endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let response = match tokio::time::timeout(Duration::from_secs(60), client.request(request)).await {
            Err(_) => return Err(format!("cannot reach {shown} (S3 GetObject): timed out; check AWS_ENDPOINT_URL_S3 and your network")),
            Ok(Err(e)) => {
                let mut cause = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    cause = s.to_string();
                    src = s.source();
                }
                return Err(format!("cannot reach {shown} (S3 GetObject): {cause}; check AWS_ENDPOINT_URL_S3 and your network"));
            }
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        let moved_to = response
            .headers()
            .get("x-amz-bucket-region")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .map_err(|e| format!("S3 GetObject: reading the answer: {e}"))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        if let (true, Some(r), None) = (status.as_u16() == 301, &moved_to, &endpoint) {
            if *r != region {
                crate::debug!("render: bucket {bucket} is in {r}; asking there");
                region = r.clone();
                continue;
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let tag = |t: &str| {
            let open = format!("<{t}>");
            let start = text.find(&open)? + open.len();
            let end = text[start..].find(&format!("</{t}>"))?;
            Some(text[start..start + end].to_string())
        };
        let code = tag("Code").unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        let message = tag("Message").unwrap_or_default();
        return Err(format!("S3 GetObject failed: {code}: {message}"));
    }
    Err(format!(
        "S3 GetObject: bucket {bucket} keeps moving between regions"
    ))
}

//! The AWS calls the channel needs besides the WebSocket itself:
//! `ssm:ResumeSession` (a fresh token after a dropped socket),
//! `ssm:TerminateSession`, and `kms:GenerateDataKey` (KMS handshake). Behind
//! a trait so tests can stand in for AWS.

use std::collections::HashMap;
use std::fmt;

use aws_types::SdkConfig;
use futures::future::BoxFuture;

/// A KMS data key: what GenerateDataKey returns. `Debug` hides `plaintext`.
#[derive(Clone)]
pub struct DataKey {
    /// The encrypted key, sent to the agent.
    pub ciphertext_blob: Vec<u8>,
    /// The 64 plaintext bytes the session keys come from.
    pub plaintext: Vec<u8>,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field(
                "ciphertext_blob",
                &format_args!("<{} bytes>", self.ciphertext_blob.len()),
            )
            .field("plaintext", &"<redacted>")
            .finish()
    }
}

/// The session-control calls, as text errors ready for a message: the
/// cause in one short line (`AccessDeniedException: ...`, `cannot reach URL:
/// Connection refused`), never the SDK's `Debug` text.
pub trait SessionBackend: Send + Sync + 'static {
    /// `ssm:ResumeSession`: `Ok(None)` when the service returns no token
    /// (the session has ended or timed out).
    fn resume_session<'a>(
        &'a self,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, String>>;

    /// `ssm:TerminateSession`.
    fn terminate_session<'a>(&'a self, session_id: &'a str) -> BoxFuture<'a, Result<(), String>>;

    /// `kms:GenerateDataKey(KeyId, NumberOfBytes = 64, EncryptionContext)`.
    fn generate_data_key<'a>(
        &'a self,
        key_id: &'a str,
        encryption_context: HashMap<String, String>,
    ) -> BoxFuture<'a, Result<DataKey, String>>;
}

/// The production backend: aws-sdk-ssm and aws-sdk-kms on the caller's
/// [`SdkConfig`] (region, credentials, endpoint overrides).
#[derive(Debug, Clone)]
pub struct AwsBackend {
    ssm: aws_sdk_ssm::Client,
    kms: aws_sdk_kms::Client,
    /// For error messages: region and endpoint override.
    sdk: SdkConfig,
}

impl AwsBackend {
    /// Clients for `sdk`.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            ssm: aws_sdk_ssm::Client::new(sdk),
            kms: aws_sdk_kms::Client::new(sdk),
            sdk: sdk.clone(),
        }
    }
}

impl SessionBackend for AwsBackend {
    fn resume_session<'a>(
        &'a self,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move {
            let out = self
                .ssm
                .resume_session()
                .session_id(session_id)
                .send()
                .await
                .map_err(|e| crate::aws::sdk_cause(&self.sdk, "ResumeSession", &e))?;
            Ok(out
                .token_value()
                .filter(|t| !t.is_empty())
                .map(str::to_owned))
        })
    }

    fn terminate_session<'a>(&'a self, session_id: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.ssm
                .terminate_session()
                .session_id(session_id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| crate::aws::sdk_cause(&self.sdk, "TerminateSession", &e))
        })
    }

    fn generate_data_key<'a>(
        &'a self,
        key_id: &'a str,
        encryption_context: HashMap<String, String>,
    ) -> BoxFuture<'a, Result<DataKey, String>> {
        Box::pin(async move {
            let out = self
                .kms
                .generate_data_key()
                .key_id(key_id)
                .number_of_bytes(super::crypto::DATA_KEY_LEN as i32)
                .set_encryption_context(Some(encryption_context))
                .send()
                .await
                .map_err(|e| crate::aws::sdk_cause(&self.sdk, "GenerateDataKey", &e))?;
            let ciphertext_blob = out
                .ciphertext_blob()
                .map(|b| b.as_ref().to_vec())
                .ok_or("GenerateDataKey returned no CiphertextBlob")?;
            let plaintext = out
                .plaintext()
                .map(|b| b.as_ref().to_vec())
                .ok_or("GenerateDataKey returned no Plaintext")?;
            Ok(DataKey {
                ciphertext_blob,
                plaintext,
            })
        })
    }
}

//! How AWS services speak over HTTP, as far as the sandbox needs: telling
//! which service and operation a request is for, and writing answers and
//! errors the way the SDKs and the aws CLI parse them.
//!
//! - awsJson1_0/1_1 (ECS, SSM, KMS now; Logs, ECR, Secrets Manager later):
//!   `X-Amz-Target: <prefix>.<Operation>`, JSON body; errors are 400 with
//!   `{"__type": code, "message": ...}` and an `x-amzn-ErrorType` header.
//! - awsQuery (STS now, IAM later): form body `Action=...&Version=...`; XML
//!   answers in the service's namespace; errors as `<ErrorResponse>`. Which
//!   query service is meant comes from the SigV4 credential scope, else from
//!   the action name.
//!
//! Nothing here reads or keeps credentials: of the Authorization header only
//! the service name of the credential scope is looked at.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The `X-Amz-Target` prefix of ECS.
pub(crate) const ECS_TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113";
/// The `X-Amz-Target` prefix of SSM.
pub(crate) const SSM_TARGET_PREFIX: &str = "AmazonSSM";
/// The `X-Amz-Target` prefix of KMS.
pub(crate) const KMS_TARGET_PREFIX: &str = "TrentService";
/// The XML namespace of STS answers.
pub(crate) const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// An AWS service the sandbox can tell apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ServiceId {
    Ecs,
    Sts,
    Ssm,
    Kms,
    /// A JSON target prefix or query service the sandbox does not emulate.
    Other(String),
}

impl ServiceId {
    /// Short name, as in IAM actions (`ecs`, `sts`).
    pub(crate) fn name(&self) -> &str {
        match self {
            ServiceId::Ecs => "ecs",
            ServiceId::Sts => "sts",
            ServiceId::Ssm => "ssm",
            ServiceId::Kms => "kms",
            ServiceId::Other(s) => s,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// awsJson; the content type to answer with (`application/x-amz-json-1.1`).
    Json { content_type: String },
    /// awsQuery; the XML namespace to answer in.
    Query { namespace: String },
}

/// One AWS call, identified.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub service: ServiceId,
    pub operation: String,
    pub protocol: Protocol,
    /// Form parameters of a query call (empty for JSON calls).
    pub params: Vec<(String, String)>,
}

impl Call {
    /// `service:Operation`, the key of the sandbox's call counters.
    pub(crate) fn key(&self) -> String {
        format!("{}:{}", self.service.name(), self.operation)
    }
}

/// An error answer: a code the SDKs match on, and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// The caller's fault (`Sender`) or the service's (`Receiver`).
    pub sender: bool,
}

impl ApiError {
    pub(crate) fn new(code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: code.to_string(),
            message: message.into(),
            sender: true,
        }
    }

    pub(crate) fn invalid_parameter(message: impl Into<String>) -> ApiError {
        ApiError::new("InvalidParameterException", message)
    }

    pub(crate) fn client(message: impl Into<String>) -> ApiError {
        ApiError::new("ClientException", message)
    }

    pub(crate) fn serialization(message: impl Into<String>) -> ApiError {
        ApiError::new("SerializationException", message)
    }

    pub(crate) fn unknown_operation(service: &ServiceId, operation: &str) -> ApiError {
        ApiError::new(
            "UnknownOperationException",
            format!(
                "The ecsx sandbox does not implement {}:{operation}",
                service.name()
            ),
        )
    }

    /// What a query service answers for an action it does not have.
    pub(crate) fn invalid_action(action: &str) -> ApiError {
        ApiError::new(
            "InvalidAction",
            format!("The action {action} is not valid for this web service (ecsx sandbox)."),
        )
    }

    /// The throttling error of a protocol: both SDKs retry either code.
    pub(crate) fn throttling(protocol: &Protocol) -> ApiError {
        let code = match protocol {
            Protocol::Json { .. } => "ThrottlingException",
            Protocol::Query { .. } => "Throttling",
        };
        ApiError::new(code, "Rate exceeded")
    }
}

/// Which service and operation a request is for; `None` when it is no AWS call
/// (no `X-Amz-Target`, no `Action`).
pub(crate) fn identify(headers: &HeaderMap, body: &[u8]) -> Option<Call> {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let (prefix, operation) = target.rsplit_once('.').unwrap_or((target, ""));
        let service = match prefix {
            ECS_TARGET_PREFIX => ServiceId::Ecs,
            SSM_TARGET_PREFIX => ServiceId::Ssm,
            KMS_TARGET_PREFIX => ServiceId::Kms,
            other => ServiceId::Other(other.to_string()),
        };
        let content_type = match header_str(headers, header::CONTENT_TYPE.as_str()) {
            Some(ct) if ct.starts_with("application/x-amz-json-1.0") => {
                "application/x-amz-json-1.0"
            }
            _ => "application/x-amz-json-1.1",
        };
        return Some(Call {
            service,
            operation: operation.to_string(),
            protocol: Protocol::Json {
                content_type: content_type.to_string(),
            },
            params: Vec::new(),
        });
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let action = params
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.clone())?;
    let service = match signing_service(headers).as_deref() {
        Some("sts") => ServiceId::Sts,
        Some(other) => ServiceId::Other(other.to_string()),
        None if is_sts_action(&action) => ServiceId::Sts,
        None => ServiceId::Other("unknown".to_string()),
    };
    let namespace = match service {
        ServiceId::Sts => STS_NAMESPACE.to_string(),
        ServiceId::Other(ref s) if s == "iam" => {
            "https://iam.amazonaws.com/doc/2010-05-08/".to_string()
        }
        _ => String::new(),
    };
    Some(Call {
        service,
        operation: action,
        protocol: Protocol::Query { namespace },
        params,
    })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The service of the SigV4 (or SigV4a) credential scope:
/// `Credential=AKID/20260101/us-east-1/sts/aws4_request` gives `sts`.
/// Only that one field is taken from the header.
pub(crate) fn signing_service(headers: &HeaderMap) -> Option<String> {
    let auth = header_str(headers, header::AUTHORIZATION.as_str())?;
    let start = auth.find("Credential=")? + "Credential=".len();
    let credential = auth[start..].split([',', ' ']).next()?;
    let mut parts = credential.rsplit('/');
    if parts.next()? != "aws4_request" {
        return None;
    }
    let service = parts.next()?;
    (!service.is_empty()).then(|| service.to_ascii_lowercase())
}

/// Actions of STS, to route a query call that carries no credential scope.
fn is_sts_action(action: &str) -> bool {
    matches!(
        action,
        "GetCallerIdentity"
            | "AssumeRole"
            | "AssumeRoleWithSAML"
            | "AssumeRoleWithWebIdentity"
            | "AssumeRoot"
            | "DecodeAuthorizationMessage"
            | "GetAccessKeyInfo"
            | "GetFederationToken"
            | "GetSessionToken"
    )
}

fn with_common_headers(mut response: Response, content_type: &str, request_id: &str) -> Response {
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", v);
    }
    response
}

/// A 200 awsJson answer.
pub(crate) fn json_ok(content_type: &str, request_id: &str, body: &Value) -> Response {
    let response = (StatusCode::OK, body.to_string()).into_response();
    with_common_headers(response, content_type, request_id)
}

/// An awsJson error answer.
pub(crate) fn json_error(content_type: &str, request_id: &str, error: &ApiError) -> Response {
    let body = serde_json::json!({"__type": error.code, "message": error.message});
    let mut response = with_common_headers(
        (error.status, body.to_string()).into_response(),
        content_type,
        request_id,
    );
    if let Ok(v) = HeaderValue::from_str(&error.code) {
        response.headers_mut().insert("x-amzn-ErrorType", v);
    }
    response
}

/// A 200 awsQuery answer: `result` is the XML inside `<{action}Result>`.
pub(crate) fn query_ok(namespace: &str, action: &str, request_id: &str, result: &str) -> Response {
    let body = format!(
        "<{action}Response xmlns=\"{namespace}\">\n  <{action}Result>\n{result}  </{action}Result>\n  \
         <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n"
    );
    with_common_headers(
        (StatusCode::OK, body).into_response(),
        "text/xml",
        request_id,
    )
}

/// An awsQuery error answer.
pub(crate) fn query_error(namespace: &str, request_id: &str, error: &ApiError) -> Response {
    let xmlns = if namespace.is_empty() {
        String::new()
    } else {
        format!(" xmlns=\"{namespace}\"")
    };
    let body = format!(
        "<ErrorResponse{xmlns}>\n  <Error>\n    <Type>{}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  \
         </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
        if error.sender { "Sender" } else { "Receiver" },
        xml_escape(&error.code),
        xml_escape(&error.message),
    );
    with_common_headers((error.status, body).into_response(), "text/xml", request_id)
}

/// An error answer in the call's protocol.
pub(crate) fn error(protocol: &Protocol, request_id: &str, error: &ApiError) -> Response {
    match protocol {
        Protocol::Json { content_type } => json_error(content_type, request_id, error),
        Protocol::Query { namespace } => query_error(namespace, request_id, error),
    }
}

/// Escape text for an XML element.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A timestamp as awsJson writes it: epoch seconds, milliseconds as a fraction.
pub(crate) fn timestamp(t: DateTime<Utc>) -> Value {
    let seconds = t.timestamp_millis() as f64 / 1000.0;
    serde_json::Number::from_f64(seconds).map_or(Value::Null, Value::Number)
}

/// The JSON input of an awsJson call; an empty body is `{}`.
pub(crate) fn json_input<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| ApiError::serialization(format!("Cannot parse the request: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn identifies_ecs_by_target() {
        let h = headers(&[
            (
                "x-amz-target",
                "AmazonEC2ContainerServiceV20141113.ListTasks",
            ),
            ("content-type", "application/x-amz-json-1.1"),
        ]);
        let call = identify(&h, b"{}").unwrap();
        assert_eq!(call.service, ServiceId::Ecs);
        assert_eq!(call.operation, "ListTasks");
        assert_eq!(call.key(), "ecs:ListTasks");
    }

    #[test]
    fn identifies_sts_by_scope_then_by_action() {
        let body = b"Action=GetCallerIdentity&Version=2011-06-15";
        let signed = headers(&[(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDSANDBOX/20260101/us-east-1/sts/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc",
        )]);
        assert_eq!(identify(&signed, body).unwrap().service, ServiceId::Sts);
        assert_eq!(
            identify(&HeaderMap::new(), body).unwrap().service,
            ServiceId::Sts
        );
        let iam = headers(&[(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/iam/aws4_request",
        )]);
        let call = identify(&iam, b"Action=GetUser&Version=2010-05-08").unwrap();
        assert_eq!(call.service, ServiceId::Other("iam".into()));
    }

    #[test]
    fn sigv4a_scope_has_no_region() {
        let h = headers(&[(
            "authorization",
            "AWS4-ECDSA-P256-SHA256 Credential=AKID/20260101/sts/aws4_request",
        )]);
        assert_eq!(signing_service(&h).as_deref(), Some("sts"));
    }

    #[test]
    fn no_target_no_action_is_no_call() {
        assert!(identify(&HeaderMap::new(), b"").is_none());
    }

    #[test]
    fn escapes_xml() {
        assert_eq!(xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
    }

    #[test]
    fn timestamps_are_epoch_seconds() {
        let t = DateTime::parse_from_rfc3339("2026-01-01T00:00:00.250Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(timestamp(t).to_string(), "1767225600.25");
    }
}

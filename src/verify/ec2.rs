//! Row 16 (the ssmmessages VPC endpoint) and the two EC2 calls it needs,
//! `DescribeSubnets` and `DescribeVpcEndpoints`, spoken as ec2Query by hand:
//! a form POST signed with SigV4 (aws-sigv4) over hyper, and the XML answer
//! read for the few fields needed. aws-sdk-ec2 would do the same but is one
//! of the largest crates there is to compile; see docs/design.md.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_ecs::types::{Service, Task};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use axum::body::Bytes;
use http_body_util::{BodyExt, Full};

use super::{CheckResult, Group};
use crate::aws::Aws;
use crate::error::{Error, Result};

const API_VERSION: &str = "2016-11-15";

/// `<tag>text</tag>` values, in document order.
pub(super) fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        rest = &rest[start + open.len()..];
        let Some(end) = rest.find(&close) else { break };
        out.push(unescape(&rest[..end]));
        rest = &rest[end + close.len()..];
    }
    out
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// One ec2Query call; returns the XML answer. Throttling and 5xx answers
/// are retried with backoff, as the SDK's standard mode does.
pub(super) async fn call(
    aws: &Aws,
    operation: &'static str,
    params: &[(String, String)],
) -> Result<String> {
    let mut body = format!("Action={operation}&Version={API_VERSION}");
    for (k, v) in params {
        body.push('&');
        body.push_str(&encode(k));
        body.push('=');
        body.push_str(&encode(v));
    }
    let endpoint = aws
        .sdk
        .endpoint_url()
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("https://ec2.{}.amazonaws.com", aws.region));
    let url = format!("{endpoint}/");
    let uri: axum::http::Uri = url.parse().map_err(|e| Error::Aws {
        operation,
        code: "ClientError".into(),
        message: format!("bad endpoint {endpoint}: {e}"),
    })?;
    let host = uri.authority().map(|a| a.to_string()).unwrap_or_default();
    let credentials = match aws.sdk.credentials_provider() {
        Some(p) => p
            .provide_credentials()
            .await
            .map_err(|_| Error::NoCredentials)?,
        None => return Err(Error::NoCredentials),
    };
    let attempts = std::env::var("AWS_MAX_ATTEMPTS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(5);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| Error::Aws {
            operation,
            code: "ClientError".into(),
            message: format!("TLS setup: {e}"),
        })?
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Full<Bytes>>(connector);
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let mut attempt = 0;
    loop {
        attempt += 1;
        let identity: Identity = credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&aws.region)
            .name("ec2")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| sign_error(operation, e))?
            .into();
        let headers = [("host", host.as_str()), ("content-type", content_type)];
        let signable = SignableRequest::new(
            "POST",
            url.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| sign_error(operation, e))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| sign_error(operation, e))?
            .into_parts();
        let mut request = axum::http::Request::post(uri.clone())
            .header("host", &host)
            .header("content-type", content_type);
        let (signed, _) = instructions.into_parts();
        for h in signed {
            request = request.header(h.name(), h.value());
        }
        let request = request
            .body(Full::new(Bytes::from(body.clone())))
            .map_err(|e| sign_error(operation, e))?;
        let sent = tokio::time::timeout(Duration::from_secs(30), client.request(request)).await;
        let response = match sent {
            Err(_) => Err(Error::Unreachable {
                endpoint: endpoint.clone(),
                operation,
                message: "timed out".into(),
            }),
            Ok(Err(e)) => Err(Error::Unreachable {
                endpoint: endpoint.clone(),
                operation,
                message: e.to_string(),
            }),
            Ok(Ok(r)) => Ok(r),
        };
        let response = match response {
            Ok(r) => r,
            Err(e) if attempt < attempts => {
                crate::debug!("{operation}: {e}; retrying");
                backoff(attempt).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if status.is_success() {
            return Ok(text);
        }
        let code = xml_values(&text, "Code")
            .into_iter()
            .next()
            .unwrap_or_else(|| format!("HTTP{}", status.as_u16()));
        let message = xml_values(&text, "Message")
            .into_iter()
            .next()
            .unwrap_or_default();
        let retryable = status.is_server_error()
            || matches!(
                code.as_str(),
                "Throttling" | "ThrottlingException" | "RequestLimitExceeded"
            );
        if retryable && attempt < attempts {
            crate::debug!("{operation}: {code}; retrying");
            backoff(attempt).await;
            continue;
        }
        return Err(Error::Aws {
            operation,
            code,
            message,
        });
    }
}

async fn backoff(attempt: u32) {
    let ms = (50u64 << attempt.min(6)).min(5000);
    // A little jitter without a random crate: the clock's nanoseconds.
    let jitter = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()) % (ms / 2 + 1))
        .unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(ms / 2 + jitter)).await;
}

fn sign_error(operation: &'static str, e: impl std::fmt::Display) -> Error {
    Error::Aws {
        operation,
        code: "ClientError".into(),
        message: format!("cannot sign the request: {e}"),
    }
}

/// The subnets the tasks run in (their ENIs), else the service's.
fn subnets(tasks: &[Task], service: Option<&Service>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tasks {
        for a in t.attachments() {
            for d in a.details() {
                if d.name() == Some("subnetId") {
                    if let Some(v) = d.value() {
                        if !out.iter().any(|s| s == v) {
                            out.push(v.to_string());
                        }
                    }
                }
            }
        }
    }
    if out.is_empty() {
        if let Some(vpc) = service
            .and_then(|s| s.network_configuration())
            .and_then(|n| n.awsvpc_configuration())
        {
            out.extend(vpc.subnets().iter().cloned());
        }
    }
    out
}

/// Row 16: where the VPC uses interface endpoints, one for ssmmessages.
pub(super) async fn row(aws: &Aws, tasks: &[Task], service: Option<&Service>) -> Vec<CheckResult> {
    let subnets = subnets(tasks, service);
    let check = |resource: &str| {
        CheckResult::new(
            "exec.network.ssmmessages_endpoint",
            Group::Network,
            resource,
        )
        .row(16)
    };
    if subnets.is_empty() {
        return vec![check("vpc").skip("no awsvpc subnets known (not awsvpc, or no tasks)")];
    }
    let params: Vec<(String, String)> = subnets
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("SubnetId.{}", i + 1), s.clone()))
        .collect();
    let xml = match call(aws, "DescribeSubnets", &params).await {
        Ok(x) => x,
        Err(e) => return vec![check(&subnets.join(",")).could_not_check(&e, "ec2:DescribeSubnets")],
    };
    let mut vpcs = xml_values(&xml, "vpcId");
    vpcs.sort();
    vpcs.dedup();
    if vpcs.is_empty() {
        return vec![check(&subnets.join(",")).warn(
            format!("subnets {} were not found", subnets.join(", ")),
            "check the service's networkConfiguration subnets",
        )];
    }
    let service_name = format!("com.amazonaws.{}.ssmmessages", aws.region);
    let subnets = &subnets;
    let calls = vpcs.iter().map(|vpc| {
        let service_name = service_name.clone();
        async move {
            let params = vec![
                ("Filter.1.Name".to_string(), "vpc-id".to_string()),
                ("Filter.1.Value.1".to_string(), vpc.clone()),
            ];
            let c = check(vpc);
            match call(aws, "DescribeVpcEndpoints", &params).await {
                Err(e) => c.could_not_check(&e, "ec2:DescribeVpcEndpoints"),
                Ok(xml) => {
                    let names = xml_values(&xml, "serviceName");
                    let types = xml_values(&xml, "vpcEndpointType");
                    let interface: Vec<&String> = names
                        .iter()
                        .zip(types.iter())
                        .filter(|(_, t)| t.as_str() == "Interface")
                        .map(|(n, _)| n)
                        .collect();
                    if interface.iter().any(|n| **n == service_name) {
                        c.ok(format!("{vpc} has an interface endpoint for {service_name}"))
                    } else if interface.is_empty() {
                        c.ok(format!("{vpc} uses no interface endpoints; ssmmessages is reached through its public endpoint"))
                    } else {
                        c.warn(
                            format!("{vpc} uses interface endpoints but none for {service_name}"),
                            format!(
                                "aws ec2 create-vpc-endpoint --vpc-id {vpc} --vpc-endpoint-type Interface --service-name {service_name} --subnet-ids {} --security-group-ids <sg allowing 443 from the tasks> --private-dns-enabled",
                                subnets.join(" ")
                            ),
                        )
                    }
                }
            }
        }
    });
    futures::future::join_all(calls).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_fields_in_order() {
        let xml = "<DescribeVpcEndpointsResponse><vpcEndpointSet><item><vpcEndpointId>vpce-1</vpcEndpointId><vpcEndpointType>Interface</vpcEndpointType><serviceName>com.amazonaws.us-east-1.ssm</serviceName><subnetIdSet><item>subnet-1</item></subnetIdSet></item><item><vpcEndpointType>Gateway</vpcEndpointType><serviceName>com.amazonaws.us-east-1.s3</serviceName></item></vpcEndpointSet></DescribeVpcEndpointsResponse>";
        assert_eq!(
            xml_values(xml, "serviceName"),
            vec!["com.amazonaws.us-east-1.ssm", "com.amazonaws.us-east-1.s3"]
        );
        assert_eq!(
            xml_values(xml, "vpcEndpointType"),
            vec!["Interface", "Gateway"]
        );
        assert_eq!(xml_values("<Code>A&amp;B</Code>", "Code"), vec!["A&B"]);
    }
}

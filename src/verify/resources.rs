//! ecspresso's resource checks on the rendered task definition: ECR images,
//! secrets (Secrets Manager and SSM Parameter Store), awslogs log groups, and
//! the service definition's target groups.

use std::collections::BTreeMap;

use aws_config::Region;
use aws_sdk_ecs::types::Service;
use aws_types::SdkConfig;
use serde_json::Value;

use super::taskdef::TaskDef;
use super::{error_code, CheckResult, Group};
use crate::aws::Aws;

/// The SDK configuration for another region (ECR images, secrets and log
/// groups may live elsewhere).
fn in_region(aws: &Aws, region: &str) -> SdkConfig {
    if region == aws.region || region.is_empty() {
        aws.sdk.clone()
    } else {
        aws.sdk
            .to_builder()
            .region(Region::new(region.to_string()))
            .build()
    }
}

/// An ECR image reference.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct EcrImage {
    pub registry: String,
    pub region: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// Parse `<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repo>[:tag][@digest]`.
pub(super) fn parse_ecr(image: &str) -> Option<EcrImage> {
    let (host, rest) = image.split_once('/')?;
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 6
        || labels[1] != "dkr"
        || !labels[2].starts_with("ecr")
        || labels[4] != "amazonaws"
        || labels[0].len() != 12
        || !labels[0].chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let (rest, digest) = match rest.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (rest, None),
    };
    let (repository, tag) = match rest.rfind(':') {
        Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(rest[i + 1..].to_string())),
        _ => (rest, None),
    };
    let tag = if tag.is_none() && digest.is_none() {
        Some("latest".to_string())
    } else {
        tag
    };
    Some(EcrImage {
        registry: labels[0].to_string(),
        region: labels[3].to_string(),
        repository: repository.to_string(),
        tag,
        digest,
    })
}

/// Where a secret's `valueFrom` points.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum SecretRef {
    /// Secrets Manager: the secret's ARN (without a JSON key suffix) and region.
    SecretsManager {
        id: String,
        region: String,
        json_key: Option<String>,
    },
    /// Parameter Store: the name or ARN, and region.
    Ssm { name: String, region: String },
}

pub(super) fn parse_secret(value_from: &str, default_region: &str) -> SecretRef {
    let fields: Vec<&str> = value_from.split(':').collect();
    if value_from.starts_with("arn:") && fields.len() >= 6 {
        let region = fields[3].to_string();
        if fields[2] == "secretsmanager" {
            let id = fields[..fields.len().min(7)].join(":");
            let json_key = fields
                .get(7)
                .filter(|k| !k.is_empty())
                .map(|k| k.to_string());
            return SecretRef::SecretsManager {
                id,
                region,
                json_key,
            };
        }
        return SecretRef::Ssm {
            name: value_from.to_string(),
            region,
        };
    }
    SecretRef::Ssm {
        name: value_from.to_string(),
        region: default_region.to_string(),
    }
}

/// Every resource row.
pub(super) async fn rows(
    aws: &Aws,
    td: Option<&TaskDef>,
    service_definition: Option<&Value>,
    service: Option<&Service>,
    only: Option<&str>,
) -> Vec<CheckResult> {
    let Some(td) = td else {
        return Vec::new();
    };
    let (images, secrets, logs, tgs) = tokio::join!(
        futures::future::join_all(
            td.containers(only)
                .map(|c| image_row(aws, &c.name, &c.image))
        ),
        secret_rows(aws, td, only),
        futures::future::join_all(
            td.containers(only)
                .filter(|c| c.log_driver.as_deref() == Some("awslogs"))
                .map(|c| log_group_row(aws, &c.name, &c.log_options))
        ),
        target_group_rows(aws, td, service_definition, service),
    );
    let mut out = images;
    out.extend(secrets);
    out.extend(logs);
    out.extend(tgs);
    out
}

async fn image_row(aws: &Aws, container: &str, image: &str) -> CheckResult {
    let check = CheckResult::new("resource.image.exists", Group::Image, image).container(container);
    let Some(ecr) = parse_ecr(image) else {
        return check.skip("not an ECR image: ecsx checks ECR images only");
    };
    let id = match (&ecr.digest, &ecr.tag) {
        (Some(d), _) => aws_sdk_ecr::types::ImageIdentifier::builder()
            .image_digest(d)
            .build(),
        (None, t) => aws_sdk_ecr::types::ImageIdentifier::builder()
            .image_tag(t.clone().unwrap_or_else(|| "latest".into()))
            .build(),
    };
    let out = aws_sdk_ecr::Client::new(&in_region(aws, &ecr.region))
        .describe_images()
        .registry_id(&ecr.registry)
        .repository_name(&ecr.repository)
        .image_ids(id)
        .send()
        .await
        .map_err(|e| aws.error("DescribeImages", e));
    match out {
        Ok(o) if !o.image_details().is_empty() => check.ok("the image exists in ECR"),
        Err(e) if error_code(&e) == Some("RepositoryNotFoundException") => check.ng(
            format!("ECR repository {} does not exist in {}", ecr.repository, ecr.region),
            format!(
                "aws ecr create-repository --repository-name {} --region {} and push the image, or fix the image of container {container}",
                ecr.repository, ecr.region
            ),
        ),
        Err(e) if error_code(&e) == Some("ImageNotFoundException") => check.ng(
            format!("image {image} is not in ECR"),
            format!("push it (docker push {image}) or fix the image of container {container} in the task definition"),
        ),
        Err(e) => check.could_not_check(&e, "ecr:DescribeImages"),
        Ok(_) => check.ng(
            format!("image {image} is not in ECR"),
            format!("push it (docker push {image}) or fix the image of container {container} in the task definition"),
        ),
    }
}

async fn secret_rows(aws: &Aws, td: &TaskDef, only: Option<&str>) -> Vec<CheckResult> {
    // Secrets Manager: one DescribeSecret per secret; SSM: GetParameters by
    // region, ten names a call.
    let mut sm: Vec<(String, String, String, String, Option<String>)> = Vec::new();
    let mut ssm: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    for c in td.containers(only) {
        for (name, value_from) in &c.secrets {
            match parse_secret(value_from, &aws.region) {
                SecretRef::SecretsManager {
                    id,
                    region,
                    json_key,
                } => sm.push((c.name.clone(), value_from.clone(), id, region, json_key)),
                SecretRef::Ssm {
                    name: param,
                    region,
                } => ssm.entry(region).or_default().push((
                    c.name.clone(),
                    format!("{name}={value_from}"),
                    param,
                )),
            }
        }
    }
    let sm_rows = futures::future::join_all(sm.iter().map(|(container, value_from, id, region, key)| async move {
        let check = CheckResult::new("resource.secret.exists", Group::Secret, value_from.as_str()).container(container.as_str());
        let out = aws_sdk_secretsmanager::Client::new(&in_region(aws, region))
            .describe_secret()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| aws.error("DescribeSecret", e));
        let key_note = key
            .as_ref()
            .map(|k| format!(" (JSON key {k} not read: DescribeSecret does not show values)"))
            .unwrap_or_default();
        match out {
            Ok(o) if o.deleted_date().is_some() => check.ng(
                format!("secret {id} is scheduled for deletion"),
                format!("aws secretsmanager restore-secret --secret-id {id}"),
            ),
            Ok(_) => check.ok(format!("the secret exists{key_note}")),
            Err(e) if error_code(&e) == Some("ResourceNotFoundException") => check.ng(
                format!("secret {id} does not exist"),
                format!("create it (aws secretsmanager create-secret --name <name> --secret-string ...) or fix valueFrom of container {container}"),
            ),
            Err(e) => check.could_not_check(&e, "secretsmanager:DescribeSecret"),
        }
    }));
    let mut calls = Vec::new();
    for (region, list) in &ssm {
        for chunk in list.chunks(10) {
            calls.push(async move {
                let names: Vec<String> = chunk.iter().map(|(_, _, n)| n.clone()).collect();
                let out = aws_sdk_ssm::Client::new(&in_region(aws, region))
                    .get_parameters()
                    .set_names(Some(names))
                    .with_decryption(false)
                    .send()
                    .await
                    .map_err(|e| aws.error("GetParameters", e));
                chunk
                    .iter()
                    .map(|(container, label, name)| {
                        let value_from = label.split_once('=').map(|(_, v)| v).unwrap_or(label);
                        let check = CheckResult::new("resource.secret.exists", Group::Secret, value_from)
                            .container(container.as_str());
                        match &out {
                            Err(e) => check.could_not_check(e, "ssm:GetParameters"),
                            Ok(o) if o.invalid_parameters().iter().any(|p| p == name) => check.ng(
                                format!("SSM parameter {name} does not exist in {region}"),
                                format!("aws ssm put-parameter --name {name} --type SecureString --value ... --region {region}, or fix valueFrom of container {container}"),
                            ),
                            Ok(_) => check.ok("the parameter exists"),
                        }
                    })
                    .collect::<Vec<_>>()
            });
        }
    }
    let (mut out, ssm_rows) = tokio::join!(sm_rows, futures::future::join_all(calls));
    out.extend(ssm_rows.into_iter().flatten());
    out
}

async fn log_group_row(
    aws: &Aws,
    container: &str,
    options: &BTreeMap<String, String>,
) -> CheckResult {
    let group = options.get("awslogs-group").cloned().unwrap_or_default();
    let region = options
        .get("awslogs-region")
        .cloned()
        .unwrap_or_else(|| aws.region.clone());
    let check = CheckResult::new(
        "resource.log_group.exists",
        Group::LogGroup,
        format!("{group} ({region})"),
    )
    .container(container);
    if group.is_empty() {
        return check.ng(
            format!("container {container} uses awslogs without awslogs-group"),
            format!("set logConfiguration.options.awslogs-group for container {container}"),
        );
    }
    let create = options
        .get("awslogs-create-group")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let out = aws_sdk_cloudwatchlogs::Client::new(&in_region(aws, &region))
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .map_err(|e| aws.error("DescribeLogGroups", e));
    match out {
        Ok(o)
            if o.log_groups()
                .iter()
                .any(|g| g.log_group_name() == Some(group.as_str())) =>
        {
            check.ok("the log group exists")
        }
        Ok(_) if create => {
            check.ok("the log group does not exist yet; awslogs-create-group creates it")
        }
        Ok(_) => check.ng(
            format!("log group {group} does not exist in {region}"),
            format!("aws logs create-log-group --log-group-name {group} --region {region}"),
        ),
        Err(e) => check.could_not_check(&e, "logs:DescribeLogGroups"),
    }
}

/// A load balancer entry: target group ARN (or classic name), container, port.
type LoadBalancer = (Option<String>, Option<String>, Option<String>, Option<i32>);

async fn target_group_rows(
    aws: &Aws,
    td: &TaskDef,
    service_definition: Option<&Value>,
    service: Option<&Service>,
) -> Vec<CheckResult> {
    let lbs: Vec<LoadBalancer> = match service_definition
        .and_then(|s| s.get("loadBalancers"))
        .and_then(Value::as_array)
    {
        Some(list) => list
            .iter()
            .map(|lb| {
                let s = |k: &str| lb.get(k).and_then(Value::as_str).map(str::to_owned);
                (
                    s("targetGroupArn"),
                    s("loadBalancerName"),
                    s("containerName"),
                    lb.get("containerPort")
                        .and_then(Value::as_i64)
                        .map(|p| p as i32),
                )
            })
            .collect(),
        None => service
            .map(|s| {
                s.load_balancers()
                    .iter()
                    .map(|lb| {
                        (
                            lb.target_group_arn().map(str::to_owned),
                            lb.load_balancer_name().map(str::to_owned),
                            lb.container_name().map(str::to_owned),
                            lb.container_port,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    let calls = lbs.into_iter().map(|(tg, classic, container, port)| async move {
        let label = tg.clone().or(classic.clone()).unwrap_or_default();
        let exists = CheckResult::new("resource.target_group.exists", Group::TargetGroup, label.as_str());
        let target = CheckResult::new("resource.target_group.container_port", Group::TargetGroup, label.as_str());
        let container_name = container.clone().unwrap_or_default();
        let port_text = port.map(|p| p.to_string()).unwrap_or_else(|| "?".into());
        let target = match td.containers.iter().find(|c| c.name == container_name) {
            None => target.ng(
                format!("the task definition has no container {container_name:?}"),
                format!(
                    "set loadBalancers[].containerName to one of: {}",
                    td.containers.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ),
            Some(c) if port.is_some_and(|p| c.ports.contains(&p)) => {
                target.ok(format!("container {container_name} maps port {port_text}"))
            }
            Some(c) => target.ng(
                format!("container {container_name} has no portMapping for containerPort {port_text}"),
                format!(
                    "add {{\"containerPort\": {port_text}}} to container {container_name}'s portMappings, or set loadBalancers[].containerPort to one of: {}",
                    c.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
                ),
            ),
        };
        let Some(arn) = tg else {
            return vec![exists.skip("a Classic Load Balancer: not checked"), target];
        };
        let out = aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk)
            .describe_target_groups()
            .target_group_arns(&arn)
            .send()
            .await
            .map_err(|e| aws.error("DescribeTargetGroups", e));
        let exists = match out {
            Ok(o) if !o.target_groups().is_empty() => exists.ok("the target group exists"),
            Ok(_) => exists.ng(
                format!("target group {arn} does not exist"),
                "fix loadBalancers[].targetGroupArn in the service definition, or create the target group",
            ),
            Err(e) if error_code(&e) == Some("TargetGroupNotFound") => exists.ng(
                format!("target group {arn} does not exist"),
                "fix loadBalancers[].targetGroupArn in the service definition, or create the target group",
            ),
            Err(e) => exists.could_not_check(&e, "elasticloadbalancing:DescribeTargetGroups"),
        };
        vec![exists, target]
    });
    futures::future::join_all(calls)
        .await
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_images() {
        assert_eq!(
            parse_ecr("123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/web:v1.2.3"),
            Some(EcrImage {
                registry: "123456789012".into(),
                region: "ap-northeast-1".into(),
                repository: "web".into(),
                tag: Some("v1.2.3".into()),
                digest: None
            })
        );
        let i =
            parse_ecr("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app@sha256:abc").unwrap();
        assert_eq!(
            (i.repository.as_str(), i.tag, i.digest.as_deref()),
            ("team/app", None, Some("sha256:abc"))
        );
        let i = parse_ecr("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app").unwrap();
        assert_eq!(i.tag.as_deref(), Some("latest"));
        assert_eq!(parse_ecr("public.ecr.aws/nginx/nginx:1.27"), None);
        assert_eq!(parse_ecr("nginx:latest"), None);
    }

    #[test]
    fn secret_references() {
        assert_eq!(
            parse_secret(
                "arn:aws:secretsmanager:us-east-1:123:secret:db-AbCdEf:password::",
                "x"
            ),
            SecretRef::SecretsManager {
                id: "arn:aws:secretsmanager:us-east-1:123:secret:db-AbCdEf".into(),
                region: "us-east-1".into(),
                json_key: Some("password".into())
            }
        );
        assert_eq!(
            parse_secret("arn:aws:ssm:eu-west-1:123:parameter/app/db", "x"),
            SecretRef::Ssm {
                name: "arn:aws:ssm:eu-west-1:123:parameter/app/db".into(),
                region: "eu-west-1".into()
            }
        );
        assert_eq!(
            parse_secret("/app/db", "us-east-1"),
            SecretRef::Ssm {
                name: "/app/db".into(),
                region: "us-east-1".into()
            }
        );
    }
}

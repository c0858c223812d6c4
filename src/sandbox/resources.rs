//! The resources a task definition names, as far as `ecsx verify` asks about
//! them: ECR images (DescribeImages), Secrets Manager secrets
//! (DescribeSecret), SSM parameters (GetParameters), CloudWatch Logs groups
//! (DescribeLogGroups), ELBv2 target groups (DescribeTargetGroups, awsQuery)
//! and EC2 subnets and VPC endpoints (DescribeSubnets, DescribeVpcEndpoints,
//! ec2Query). The derived world has every resource the config names.
//! Templates read parameter values (SSM GetParameter), secret ARNs
//! (DescribeSecret) and Terraform states in S3 (GetObject, path-style).

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::wire::{json_input, xml_escape, ApiError};
use super::world::{hex_id, World};

/// The `X-Amz-Target` prefixes of the JSON services here.
pub(crate) const ECR_PREFIX: &str = "AmazonEC2ContainerRegistry_V20150921";
pub(crate) const SECRETS_PREFIX: &str = "secretsmanager";
pub(crate) const LOGS_PREFIX: &str = "Logs_20140328";
/// The XML namespaces of the query services here.
pub(crate) const ELB_NAMESPACE: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";
pub(crate) const EC2_NAMESPACE: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resources {
    /// `(repository, tag or digest)`; a repository exists when any image does
    /// or it is listed with an empty reference.
    pub images: Vec<(String, String)>,
    /// Secret names (`web/db`); ARNs get a `-AbCdEf` suffix.
    pub secrets: Vec<String>,
    /// SSM parameter names (`/web/api-key`).
    pub parameters: Vec<String>,
    /// Log group names.
    pub log_groups: Vec<String>,
    /// Target group ARNs.
    pub target_groups: Vec<String>,
    /// `(subnet id, vpc id)`.
    pub subnets: Vec<(String, String)>,
    /// `(vpc id, service name, type)`.
    pub vpc_endpoints: Vec<(String, String, String)>,
    /// EC2 container instances: `(id, ECS agent version)`.
    pub container_instances: Vec<(String, String)>,
    /// Parameter values given in the world file: name → (type, value).
    /// Other parameters answer a SecureString `sandbox-value`.
    pub parameter_values: BTreeMap<String, (String, String)>,
    /// Secret ARNs given in the world file: name → ARN.
    pub secret_arns: BTreeMap<String, String>,
    /// S3 objects: (bucket, key) → contents.
    pub s3_objects: BTreeMap<(String, String), Vec<u8>>,
}

fn push(list: &mut Vec<String>, v: String) {
    if !list.contains(&v) {
        list.push(v);
    }
}

impl Resources {
    /// Every resource a rendered task and service definition names.
    pub fn derive(td: &Value, service_definition: Option<&Value>) -> Resources {
        let mut r = Resources::default();
        let containers = td
            .get("containerDefinitions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for c in &containers {
            if let Some(image) = c.get("image").and_then(Value::as_str) {
                if let Some((host, rest)) = image.split_once('/') {
                    if host.contains(".dkr.ecr.") {
                        let (repo, reference) = split_image(rest);
                        if !r.images.contains(&(repo.clone(), reference.clone())) {
                            r.images.push((repo, reference));
                        }
                    }
                }
            }
            for s in c
                .get("secrets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let from = s.get("valueFrom").and_then(Value::as_str).unwrap_or("");
                let fields: Vec<&str> = from.split(':').collect();
                if from.starts_with("arn:") && fields.get(2) == Some(&"secretsmanager") {
                    let name = fields.get(6).copied().unwrap_or("");
                    push(&mut r.secrets, strip_suffix(name).to_string());
                } else if from.starts_with("arn:") {
                    let name = fields.get(5).copied().unwrap_or("");
                    let name = name.trim_start_matches("parameter");
                    let name = if name.matches('/').count() > 1 {
                        name
                    } else {
                        name.trim_start_matches('/')
                    };
                    push(&mut r.parameters, name.to_string());
                } else if !from.is_empty() {
                    push(&mut r.parameters, from.to_string());
                }
            }
            if let Some(group) = c
                .pointer("/logConfiguration/options/awslogs-group")
                .and_then(Value::as_str)
            {
                push(&mut r.log_groups, group.to_string());
            }
        }
        if let Some(sd) = service_definition {
            for lb in sd
                .get("loadBalancers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(arn) = lb.get("targetGroupArn").and_then(Value::as_str) {
                    push(&mut r.target_groups, arn.to_string());
                }
            }
            for s in sd
                .pointer("/networkConfiguration/awsvpcConfiguration/subnets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let vpc = format!("vpc-{}", hex_id("vpc/default", 17));
                if !r.subnets.iter().any(|(id, _)| id == s) {
                    r.subnets.push((s.to_string(), vpc));
                }
            }
        }
        r
    }
}

/// `repo[:tag][@digest]` → (repo, tag or digest; default `latest`).
fn split_image(rest: &str) -> (String, String) {
    if let Some((repo, digest)) = rest.split_once('@') {
        let repo = repo.rsplit_once(':').map_or(repo, |(r, _)| r);
        return (repo.to_string(), digest.to_string());
    }
    match rest.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (rest.to_string(), "latest".to_string()),
    }
}

/// A secret ARN's name without the six random characters Secrets Manager adds.
fn strip_suffix(name: &str) -> &str {
    match name.rsplit_once('-') {
        Some((base, suffix))
            if suffix.len() == 6 && suffix.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            base
        }
        _ => name,
    }
}

fn secret_arn(world: &World, name: &str) -> String {
    if let Some(arn) = world.resources.secret_arns.get(name) {
        return arn.clone();
    }
    format!(
        "arn:aws:secretsmanager:{}:{}:secret:{name}-{}",
        world.region,
        world.account,
        &hex_id(&format!("secret/{name}"), 6)[..6]
    )
}

/// A JSON call of ECR, Secrets Manager, SSM GetParameters or Logs.
pub(crate) fn handle_json(
    world: &World,
    prefix: &str,
    operation: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    let input: Value = json_input(body)?;
    let r = &world.resources;
    let s = |k: &str| {
        input
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    match (prefix, operation) {
        (ECR_PREFIX, "DescribeImages") => {
            let repo = s("repositoryName");
            if !r.images.iter().any(|(rp, _)| *rp == repo) {
                return Err(ApiError::new(
                    "RepositoryNotFoundException",
                    format!("The repository with name '{repo}' does not exist in the registry with id '{}'", world.account),
                ));
            }
            let wanted: Vec<String> = input
                .get("imageIds")
                .and_then(Value::as_array)
                .map(|ids| {
                    ids.iter()
                        .filter_map(|i| {
                            i.get("imageTag")
                                .or(i.get("imageDigest"))
                                .and_then(Value::as_str)
                        })
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let mut details = Vec::new();
            for (rp, reference) in r
                .images
                .iter()
                .filter(|(rp, re)| *rp == repo && !re.is_empty())
            {
                if !wanted.is_empty() && !wanted.contains(reference) {
                    continue;
                }
                let digest = if reference.starts_with("sha256:") {
                    reference.clone()
                } else {
                    format!("sha256:{}", hex_id(&format!("image/{rp}:{reference}"), 64))
                };
                let tags: Vec<&str> = if reference.starts_with("sha256:") {
                    vec![]
                } else {
                    vec![reference.as_str()]
                };
                details.push(json!({
                    "registryId": world.account, "repositoryName": rp, "imageDigest": digest,
                    "imageTags": tags, "imageSizeInBytes": 31_457_280,
                    "imagePushedAt": world.epoch.timestamp() as f64 - 86_400.0,
                    "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
                }));
            }
            if let Some(missing) = wanted
                .iter()
                .find(|w| !r.images.contains(&(repo.clone(), (*w).clone())))
            {
                return Err(ApiError::new(
                    "ImageNotFoundException",
                    format!("The image with imageId {{imageTag:'{missing}'}} does not exist within the repository with name '{repo}' in the registry with id '{}'", world.account),
                ));
            }
            Ok(json!({"imageDetails": details}))
        }
        (SECRETS_PREFIX, "DescribeSecret") => {
            let id = s("SecretId");
            let explicit = r
                .secret_arns
                .iter()
                .find(|(_, arn)| **arn == id)
                .map(|(n, _)| n.clone());
            let name = if let Some(n) = explicit {
                n
            } else if id.starts_with("arn:") {
                strip_suffix(id.split(':').nth(6).unwrap_or("")).to_string()
            } else {
                id.clone()
            };
            if !r.secrets.contains(&name) {
                return Err(ApiError::new(
                    "ResourceNotFoundException",
                    "Secrets Manager can't find the specified secret.",
                ));
            }
            Ok(json!({
                "ARN": secret_arn(world, &name), "Name": name,
                "LastChangedDate": world.epoch.timestamp() as f64 - 86_400.0,
                "CreatedDate": world.epoch.timestamp() as f64 - 30.0 * 86_400.0,
                "VersionIdsToStages": {},
            }))
        }
        ("AmazonSSM", "GetParameters") => {
            let names: Vec<String> = input
                .get("Names")
                .and_then(Value::as_array)
                .map(|n| {
                    n.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            if names.is_empty() || names.len() > 10 {
                return Err(ApiError::new(
                    "ValidationException",
                    "Names must have 1 to 10 members",
                ));
            }
            let mut found = Vec::new();
            let mut invalid = Vec::new();
            for n in &names {
                let bare = parameter_name(n);
                if r.parameters.contains(&bare) {
                    found.push(parameter(world, n, &bare, decrypt(&input)));
                } else {
                    invalid.push(n.clone());
                }
            }
            Ok(json!({"Parameters": found, "InvalidParameters": invalid}))
        }
        ("AmazonSSM", "GetParameter") => {
            let n = s("Name");
            if n.is_empty() {
                return Err(ApiError::new(
                    "ValidationException",
                    "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null",
                ));
            }
            let bare = parameter_name(&n);
            if !r.parameters.contains(&bare) {
                return Err(ApiError::new("ParameterNotFound", ""));
            }
            Ok(json!({"Parameter": parameter(world, &n, &bare, decrypt(&input))}))
        }
        (LOGS_PREFIX, "DescribeLogGroups") => {
            let prefix_name = s("logGroupNamePrefix");
            let groups: Vec<Value> = r
                .log_groups
                .iter()
                .filter(|g| g.starts_with(&prefix_name))
                .map(|g| json!({
                    "logGroupName": g,
                    "arn": format!("arn:aws:logs:{}:{}:log-group:{g}:*", world.region, world.account),
                    "creationTime": (world.epoch.timestamp() - 86_400) * 1000,
                    "storedBytes": 0, "metricFilterCount": 0, "logGroupClass": "STANDARD",
                }))
                .collect();
            Ok(json!({"logGroups": groups}))
        }
        _ => Err(ApiError::new(
            "UnknownOperationException",
            format!("The ecsx sandbox does not implement {prefix}.{operation}"),
        )),
    }
}

/// A parameter name or ARN as the name the world lists.
fn parameter_name(n: &str) -> String {
    if !n.starts_with("arn:") {
        return n.to_string();
    }
    let res = n
        .splitn(6, ':')
        .nth(5)
        .unwrap_or("")
        .trim_start_matches("parameter");
    if res.matches('/').count() > 1 {
        res.to_string()
    } else {
        res.trim_start_matches('/').to_string()
    }
}

fn decrypt(input: &Value) -> bool {
    input
        .get("WithDecryption")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// A parameter as SSM describes it. A SecureString read without decryption
/// gives a stand-in for its ciphertext, never the value.
fn parameter(world: &World, asked: &str, bare: &str, decrypt: bool) -> Value {
    let (kind, value) = world
        .resources
        .parameter_values
        .get(bare)
        .cloned()
        .unwrap_or_else(|| ("SecureString".into(), "sandbox-value".into()));
    let value = if kind == "SecureString" && !decrypt {
        format!(
            "AQICAH{}",
            hex_id(&format!("ciphertext/{bare}/{value}"), 40)
        )
    } else {
        value
    };
    let path = if bare.starts_with('/') {
        bare.to_string()
    } else {
        format!("/{bare}")
    };
    json!({
        "Name": asked, "Type": kind, "Value": value, "Version": 1,
        "ARN": format!("arn:aws:ssm:{}:{}:parameter{path}", world.region, world.account),
        "DataType": "text", "LastModifiedDate": world.epoch.timestamp() as f64 - 86_400.0,
    })
}

/// S3 GetObject, path-style (`/BUCKET/KEY`): the object, or S3's XML error.
pub(crate) fn get_object(world: &World, path: &str, request_id: &str) -> Response {
    let path = crate::template::percent_decode(path.trim_start_matches('/'));
    let (bucket, key) = path.split_once('/').unwrap_or((path.as_str(), ""));
    let objects = &world.resources.s3_objects;
    let error = |status: StatusCode, code: &str, message: &str| {
        let mut resp = (
            status,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><BucketName>{}</BucketName><RequestId>{request_id}</RequestId></Error>",
                xml_escape(message),
                xml_escape(bucket)
            ),
        )
            .into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        resp
    };
    if !objects.keys().any(|(b, _)| b == bucket) {
        return error(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
        );
    }
    match objects.get(&(bucket.to_string(), key.to_string())) {
        Some(body) => {
            let mut resp = (StatusCode::OK, body.clone()).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            if let Ok(v) = HeaderValue::from_str(request_id) {
                resp.headers_mut().insert("x-amz-request-id", v);
            }
            resp
        }
        None => error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        ),
    }
}

fn members(params: &[(String, String)], prefix: &str) -> Vec<String> {
    let mut out: Vec<(usize, String)> = params
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(prefix)
                .and_then(|n| n.parse().ok())
                .map(|n: usize| (n, v.clone()))
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, v)| v).collect()
}

/// ECS DescribeContainerInstances: the world's instances by id or ARN;
/// others are failures MISSING.
pub(crate) fn describe_container_instances(world: &World, body: &[u8]) -> Result<Value, ApiError> {
    let input: Value = json_input(body)?;
    let cluster = input
        .get("cluster")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let cluster = cluster.rsplit('/').next().unwrap_or(cluster);
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for wanted in input
        .get("containerInstances")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let id = wanted.rsplit('/').next().unwrap_or(wanted);
        let arn = format!(
            "arn:aws:ecs:{}:{}:container-instance/{cluster}/{id}",
            world.region, world.account
        );
        match world
            .resources
            .container_instances
            .iter()
            .find(|(i, _)| i == id)
        {
            Some((_, version)) => found.push(json!({
                "containerInstanceArn": arn,
                "ec2InstanceId": format!("i-{}", hex_id(&format!("ec2/{id}"), 17)),
                "status": "ACTIVE",
                "agentConnected": true,
                "versionInfo": {"agentVersion": version, "dockerVersion": "DockerVersion: 25.0.8"},
            })),
            None => failures.push(json!({"arn": arn, "reason": "MISSING"})),
        }
    }
    Ok(json!({"containerInstances": found, "failures": failures}))
}

/// ELBv2's DescribeTargetGroups: the XML inside `<DescribeTargetGroupsResult>`.
pub(crate) fn handle_elb(
    world: &World,
    action: &str,
    params: &[(String, String)],
) -> Result<String, ApiError> {
    if action != "DescribeTargetGroups" {
        return Err(ApiError::invalid_action(action));
    }
    let arns = members(params, "TargetGroupArns.member.");
    let r = &world.resources;
    if let Some(missing) = arns.iter().find(|a| !r.target_groups.contains(a)) {
        return Err(ApiError::new(
            "TargetGroupNotFound",
            format!("Target groups '{missing}' not found"),
        ));
    }
    let list: Vec<&String> = if arns.is_empty() {
        r.target_groups.iter().collect()
    } else {
        arns.iter().collect()
    };
    let mut out = String::from("    <TargetGroups>\n");
    for arn in list {
        let name = arn.split('/').nth(1).unwrap_or("tg");
        out.push_str(&format!(
            "      <member>\n        <TargetGroupArn>{}</TargetGroupArn>\n        <TargetGroupName>{}</TargetGroupName>\n        <Protocol>HTTP</Protocol>\n        <Port>80</Port>\n        <VpcId>{}</VpcId>\n        <TargetType>ip</TargetType>\n        <HealthCheckEnabled>true</HealthCheckEnabled>\n        <HealthCheckPath>/</HealthCheckPath>\n        <LoadBalancerArns/>\n      </member>\n",
            xml_escape(arn),
            xml_escape(name),
            r.subnets.first().map(|(_, v)| v.as_str()).unwrap_or("vpc-0"),
        ));
    }
    out.push_str("    </TargetGroups>\n");
    Ok(out)
}

/// An ec2Query answer or error (no `Result` wrapper; `<Response><Errors>` errors).
pub(crate) fn handle_ec2(
    world: &World,
    action: &str,
    params: &[(String, String)],
    request_id: &str,
) -> Response {
    let r = &world.resources;
    let xml = |status: StatusCode, body: String| {
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/xml;charset=UTF-8"),
        );
        resp
    };
    let error = |code: &str, message: String| {
        xml(
            StatusCode::BAD_REQUEST,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>",
                xml_escape(code),
                xml_escape(&message)
            ),
        )
    };
    match action {
        "DescribeSubnets" => {
            let ids = members(params, "SubnetId.");
            if let Some(missing) = ids.iter().find(|i| !r.subnets.iter().any(|(s, _)| s == *i)) {
                return error(
                    "InvalidSubnetID.NotFound",
                    format!("The subnet ID '{missing}' does not exist"),
                );
            }
            let items: String = r
                .subnets
                .iter()
                .filter(|(s, _)| ids.is_empty() || ids.contains(s))
                .enumerate()
                .map(|(i, (s, v))| format!(
                    "        <item>\n            <subnetId>{}</subnetId>\n            <state>available</state>\n            <vpcId>{}</vpcId>\n            <cidrBlock>10.0.{i}.0/24</cidrBlock>\n            <availableIpAddressCount>250</availableIpAddressCount>\n            <availabilityZone>{}{}</availabilityZone>\n            <defaultForAz>false</defaultForAz>\n            <mapPublicIpOnLaunch>false</mapPublicIpOnLaunch>\n            <ownerId>{}</ownerId>\n        </item>\n",
                    xml_escape(s), xml_escape(v), world.region, ["a", "b", "c"][i % 3], world.account))
                .collect();
            xml(StatusCode::OK, format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeSubnetsResponse xmlns=\"{EC2_NAMESPACE}\">\n    <requestId>{request_id}</requestId>\n    <subnetSet>\n{items}    </subnetSet>\n</DescribeSubnetsResponse>"))
        }
        "DescribeVpcEndpoints" => {
            // Filters: only vpc-id is understood; others match everything.
            let mut vpcs: Vec<String> = Vec::new();
            for n in 1..=10 {
                if params
                    .iter()
                    .any(|(k, v)| *k == format!("Filter.{n}.Name") && v == "vpc-id")
                {
                    vpcs.extend(members(params, &format!("Filter.{n}.Value.")));
                }
            }
            let items: String = r
                .vpc_endpoints
                .iter()
                .filter(|(v, _, _)| vpcs.is_empty() || vpcs.contains(v))
                .map(|(v, name, kind)| format!(
                    "        <item>\n            <vpcEndpointId>vpce-{}</vpcEndpointId>\n            <vpcEndpointType>{}</vpcEndpointType>\n            <vpcId>{}</vpcId>\n            <serviceName>{}</serviceName>\n            <state>available</state>\n            <privateDnsEnabled>true</privateDnsEnabled>\n            <ownerId>{}</ownerId>\n        </item>\n",
                    hex_id(&format!("vpce/{v}/{name}"), 17), xml_escape(kind), xml_escape(v), xml_escape(name), world.account))
                .collect();
            xml(StatusCode::OK, format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeVpcEndpointsResponse xmlns=\"{EC2_NAMESPACE}\">\n    <requestId>{request_id}</requestId>\n    <vpcEndpointSet>\n{items}    </vpcEndpointSet>\n</DescribeVpcEndpointsResponse>"))
        }
        other => error(
            "InvalidAction",
            format!("The action {other} is not valid for this web service (ecsx sandbox)."),
        ),
    }
}

/// `resources:` in a world file: each list is added to; an entry with
/// `exists: false` removes that resource.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourcesEntry {
    #[serde(default)]
    images: Vec<Named>,
    #[serde(default)]
    secrets: Vec<SecretEntry>,
    #[serde(default)]
    parameters: Vec<ParameterEntry>,
    #[serde(default)]
    s3_objects: Vec<S3ObjectEntry>,
    #[serde(default)]
    log_groups: Vec<Named>,
    #[serde(default)]
    target_groups: Vec<Named>,
    #[serde(default)]
    subnets: Vec<SubnetEntry>,
    #[serde(default)]
    vpc_endpoints: Vec<EndpointEntry>,
    #[serde(default)]
    container_instances: Vec<InstanceEntry>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct InstanceEntry {
    id: String,
    agent_version: String,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Named {
    /// An image `repo:tag` (or a full ECR image), a secret or parameter name,
    /// a log group name, a target group ARN.
    name: String,
    exists: Option<bool>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretEntry {
    name: String,
    exists: Option<bool>,
    /// The full ARN DescribeSecret gives (default: the name and a suffix).
    arn: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ParameterEntry {
    name: String,
    exists: Option<bool>,
    /// String, SecureString (default) or StringList.
    r#type: Option<String>,
    /// The value GetParameter gives (default `sandbox-value`).
    value: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct S3ObjectEntry {
    bucket: String,
    key: String,
    /// The contents, as text...
    body: Option<String>,
    /// ... or a file's, relative to the world file.
    file: Option<String>,
    exists: Option<bool>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SubnetEntry {
    id: String,
    vpc_id: String,
    exists: Option<bool>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointEntry {
    vpc_id: String,
    service_name: String,
    #[serde(default = "interface")]
    r#type: String,
    exists: Option<bool>,
}

fn interface() -> String {
    "Interface".into()
}

fn apply_names(list: &mut Vec<String>, entries: Vec<Named>) {
    for e in entries {
        if e.exists == Some(false) {
            list.retain(|n| *n != e.name);
        } else {
            push(list, e.name);
        }
    }
}

impl Resources {
    /// Applies a world file's `resources:`; `base` is the world file's
    /// folder (for `s3_objects[].file`). The error is a message.
    pub(crate) fn apply(
        &mut self,
        e: ResourcesEntry,
        base: &std::path::Path,
    ) -> Result<(), String> {
        for i in e.images {
            let rest = i
                .name
                .split_once(".amazonaws.com/")
                .map_or(i.name.as_str(), |(_, r)| r);
            let key = split_image(rest);
            if i.exists == Some(false) {
                self.images.retain(|x| *x != key);
            } else if !self.images.contains(&key) {
                self.images.push(key);
            }
        }
        for s in e.secrets {
            if s.exists == Some(false) {
                self.secrets.retain(|n| *n != s.name);
                self.secret_arns.remove(&s.name);
                continue;
            }
            if let Some(arn) = s.arn {
                if !arn.starts_with("arn:") || arn.split(':').nth(2) != Some("secretsmanager") {
                    return Err(format!(
                        "resources.secrets {}: arn {arn:?} is not a Secrets Manager ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX)",
                        s.name
                    ));
                }
                self.secret_arns.insert(s.name.clone(), arn);
            }
            push(&mut self.secrets, s.name);
        }
        for p in e.parameters {
            if p.exists == Some(false) {
                self.parameters.retain(|n| *n != p.name);
                self.parameter_values.remove(&p.name);
                continue;
            }
            let kind = p.r#type.unwrap_or_else(|| "SecureString".into());
            if !matches!(kind.as_str(), "String" | "SecureString" | "StringList") {
                return Err(format!(
                    "resources.parameters {}: unknown type `{kind}`, expected one of: String, SecureString, StringList",
                    p.name
                ));
            }
            if let Some(value) = p.value {
                self.parameter_values.insert(p.name.clone(), (kind, value));
            }
            push(&mut self.parameters, p.name);
        }
        for o in e.s3_objects {
            let id = (o.bucket.clone(), o.key.clone());
            if o.exists == Some(false) {
                self.s3_objects.remove(&id);
                continue;
            }
            let body = match (o.body, o.file) {
                (Some(b), None) => b.into_bytes(),
                (None, Some(f)) => {
                    let path = base.join(&f);
                    std::fs::read(&path).map_err(|e| {
                        format!(
                            "resources.s3_objects s3://{}/{}: cannot read file {}: {e}",
                            o.bucket,
                            o.key,
                            path.display()
                        )
                    })?
                }
                _ => {
                    return Err(format!(
                        "resources.s3_objects s3://{}/{}: give exactly one of body: or file:",
                        o.bucket, o.key
                    ))
                }
            };
            self.s3_objects.insert(id, body);
        }
        apply_names(&mut self.log_groups, e.log_groups);
        apply_names(&mut self.target_groups, e.target_groups);
        for s in e.subnets {
            self.subnets.retain(|(id, _)| *id != s.id);
            if s.exists != Some(false) {
                self.subnets.push((s.id, s.vpc_id));
            }
        }
        for c in e.container_instances {
            self.container_instances.retain(|(id, _)| *id != c.id);
            self.container_instances.push((c.id, c.agent_version));
        }
        for v in e.vpc_endpoints {
            self.vpc_endpoints
                .retain(|(vpc, name, _)| !(*vpc == v.vpc_id && *name == v.service_name));
            if v.exists != Some(false) {
                self.vpc_endpoints
                    .push((v.vpc_id, v.service_name, v.r#type));
            }
        }
        Ok(())
    }
}

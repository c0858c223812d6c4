//! IAM (awsQuery, `Version=2010-05-08`): GetRole and SimulatePrincipalPolicy
//! on the world's roles, users and managed policies. Simulation uses
//! [`crate::verify::policy`]: inline and attached managed policies, explicit
//! Deny over Allow, `Action`/`NotAction` and `Resource`/`NotResource`
//! wildcards; a statement with a `Condition` is not evaluated and its keys
//! are reported in `MissingContextValues`.

use serde_json::{json, Value};

use super::wire::{xml_escape, ApiError};
use super::world::{hex_id, World};
use crate::verify::policy;

/// IAM's part of the world.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Iam {
    pub roles: Vec<Principal>,
    pub users: Vec<Principal>,
    pub policies: Vec<ManagedPolicy>,
    /// Inline policies of the world's caller when no role or user of that
    /// name is listed (default: `ecs:*`, `kms:GenerateDataKey`, `kms:DescribeKey`,
    /// `ssm:StartSession`).
    pub caller_policies: Vec<(String, Value)>,
    /// SimulatePrincipalPolicy answers AccessDenied (the caller may not simulate).
    pub deny_simulation: bool,
    /// GetRole answers AccessDenied.
    pub deny_get_role: bool,
}

/// A role or a user.
#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    pub name: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// Roles only: the trust policy.
    pub trust_policy: Option<Value>,
    /// `(policy name, document)`.
    pub inline: Vec<(String, Value)>,
    /// Managed policy ARNs.
    pub attached: Vec<String>,
}

/// A customer or AWS managed policy.
#[derive(Clone, Debug, PartialEq)]
pub struct ManagedPolicy {
    pub arn: String,
    pub document: Value,
}

/// The trust policy ECS task and execution roles have.
pub fn ecs_tasks_trust() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
}

/// Allow `actions` on everything.
pub fn allow(actions: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]})
}

/// The actions the derived world grants, so that verify passes on it.
pub const TASK_ROLE_ACTIONS: [&str; 9] = [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "kms:Decrypt",
    "logs:DescribeLogGroups",
    "logs:CreateLogStream",
    "logs:DescribeLogStreams",
    "logs:PutLogEvents",
];

impl Iam {
    /// A healthy IAM for a task definition: its roles exist, trust ECS tasks
    /// and may do what exec needs; the caller may `ecs:*` and
    /// `kms:GenerateDataKey`.
    pub fn derive(td: &Value) -> Iam {
        let mut iam = Iam::default();
        let role_of = |arn: &str| -> (String, String) {
            let res = arn.split(":role").nth(1).unwrap_or("/x");
            let (path, name) = res.rsplit_once('/').unwrap_or(("", res));
            (name.to_string(), format!("{path}/"))
        };
        if let Some(arn) = td.get("executionRoleArn").and_then(Value::as_str) {
            let (name, path) = role_of(arn);
            iam.roles.push(Principal {
                name,
                path,
                trust_policy: Some(ecs_tasks_trust()),
                inline: vec![(
                    "execution".into(),
                    allow(&[
                        "ecr:GetAuthorizationToken",
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "secretsmanager:GetSecretValue",
                        "ssm:GetParameters",
                    ]),
                )],
                attached: Vec::new(),
            });
        }
        if let Some(arn) = td.get("taskRoleArn").and_then(Value::as_str) {
            let (name, path) = role_of(arn);
            if !iam.roles.iter().any(|r| r.name == name) {
                iam.roles.push(Principal {
                    name,
                    path,
                    trust_policy: Some(ecs_tasks_trust()),
                    inline: vec![("ecs-exec".into(), allow(&TASK_ROLE_ACTIONS))],
                    attached: Vec::new(),
                });
            }
        }
        iam.caller_policies = vec![(
            "ecsx-caller".into(),
            allow(&[
                "ecs:*",
                "kms:GenerateDataKey",
                "kms:DescribeKey",
                "ssm:StartSession",
            ]),
        )];
        iam
    }

    fn policies_of(&self, p: &Principal) -> Result<Vec<(String, Value, &'static str)>, ApiError> {
        let mut out: Vec<(String, Value, &'static str)> = p
            .inline
            .iter()
            .map(|(n, d)| {
                (
                    n.clone(),
                    d.clone(),
                    if p.trust_policy.is_some() {
                        "role"
                    } else {
                        "user"
                    },
                )
            })
            .collect();
        for arn in &p.attached {
            let m = self
                .policies
                .iter()
                .find(|m| &m.arn == arn)
                .ok_or_else(|| {
                    no_such_entity(format!("Policy {arn} does not exist or is not attachable."))
                })?;
            let kind = if arn.contains(":aws:policy/") {
                "aws-managed"
            } else {
                "user-managed"
            };
            out.push((arn.clone(), m.document.clone(), kind));
        }
        Ok(out)
    }
}

fn no_such_entity(message: String) -> ApiError {
    let mut e = ApiError::new("NoSuchEntity", message);
    e.status = axum::http::StatusCode::NOT_FOUND;
    e
}

fn access_denied(action: &str, world: &World) -> ApiError {
    let mut e = ApiError::new(
        "AccessDenied",
        format!(
            "User: {} is not authorized to perform: iam:{action}",
            world.caller_arn()
        ),
    );
    e.status = axum::http::StatusCode::FORBIDDEN;
    e
}

/// Whether `arn` is the world's caller (an assumed role as its role).
fn is_caller(world: &World, arn: &str) -> bool {
    let caller = world.caller_arn();
    if caller == arn {
        return true;
    }
    let f: Vec<&str> = caller.splitn(6, ':').collect();
    match (
        f.get(4),
        f.get(5).and_then(|r| r.strip_prefix("assumed-role/")),
    ) {
        (Some(account), Some(rest)) => {
            let role = rest.split('/').next().unwrap_or("");
            arn.ends_with(&format!(":{account}:role/{role}"))
        }
        _ => false,
    }
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `Prefix.member.1`, `Prefix.member.2`, ... in order.
fn members(params: &[(String, String)], prefix: &str) -> Vec<String> {
    let mut out: Vec<(usize, String)> = params
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(prefix)
                .and_then(|r| r.strip_prefix(".member."))
                .and_then(|n| n.parse().ok())
                .map(|n: usize| (n, v.clone()))
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, v)| v).collect()
}

/// RFC 3986 encoding, as IAM returns policy documents.
fn url_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Answer one IAM action with the XML inside `<{Action}Result>`.
pub(crate) fn handle(
    world: &World,
    iam: &Iam,
    action: &str,
    params: &[(String, String)],
) -> Result<String, ApiError> {
    match action {
        "GetRole" => get_role(world, iam, params),
        "SimulatePrincipalPolicy" => simulate(world, iam, params),
        other => Err(ApiError::invalid_action(other)),
    }
}

fn get_role(world: &World, iam: &Iam, params: &[(String, String)]) -> Result<String, ApiError> {
    if iam.deny_get_role {
        return Err(access_denied("GetRole", world));
    }
    let name = param(params, "RoleName")
        .ok_or_else(|| ApiError::new("ValidationError", "RoleName is required"))?;
    let role = iam
        .roles
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| no_such_entity(format!("The role with name {name} cannot be found.")))?;
    let arn = format!(
        "arn:aws:iam::{}:role{}{}",
        world.account, role.path, role.name
    );
    let trust = role.trust_policy.clone().unwrap_or_else(ecs_tasks_trust);
    Ok(format!(
        "    <Role>\n      <Path>{}</Path>\n      <RoleName>{}</RoleName>\n      <RoleId>AROA{}</RoleId>\n      <Arn>{}</Arn>\n      <CreateDate>{}</CreateDate>\n      <AssumeRolePolicyDocument>{}</AssumeRolePolicyDocument>\n      <MaxSessionDuration>3600</MaxSessionDuration>\n    </Role>\n",
        xml_escape(&role.path),
        xml_escape(&role.name),
        hex_id(&format!("role/{arn}"), 17).to_ascii_uppercase(),
        xml_escape(&arn),
        world.epoch.format("%Y-%m-%dT%H:%M:%SZ"),
        xml_escape(&url_encode(&trust.to_string())),
    ))
}

fn simulate(world: &World, iam: &Iam, params: &[(String, String)]) -> Result<String, ApiError> {
    if iam.deny_simulation {
        return Err(access_denied("SimulatePrincipalPolicy", world));
    }
    let source = param(params, "PolicySourceArn")
        .ok_or_else(|| ApiError::new("ValidationError", "PolicySourceArn is required"))?;
    let actions = members(params, "ActionNames");
    if actions.is_empty() {
        return Err(ApiError::new("ValidationError", "ActionNames is required"));
    }
    let mut resources = members(params, "ResourceArns");
    if resources.is_empty() {
        resources.push("*".into());
    }
    let resource = source.splitn(6, ':').nth(5).unwrap_or("");
    let name = resource.rsplit('/').next().unwrap_or("");
    let listed = if resource.starts_with("role/") {
        iam.roles.iter().find(|r| r.name == name)
    } else if resource.starts_with("user/") {
        iam.users.iter().find(|u| u.name == name)
    } else {
        None
    };
    let policies: Vec<(String, Value, &'static str)> = match listed {
        Some(p) => iam.policies_of(p)?,
        None if is_caller(world, source) => iam
            .caller_policies
            .iter()
            .map(|(n, d)| {
                (
                    n.clone(),
                    d.clone(),
                    if resource.starts_with("role/") {
                        "role"
                    } else {
                        "user"
                    },
                )
            })
            .collect(),
        None => {
            return Err(no_such_entity(format!(
                "The principal {source} cannot be found."
            )))
        }
    };
    let docs: Vec<(String, Value)> = policies
        .iter()
        .map(|(n, d, _)| (n.clone(), d.clone()))
        .collect();
    let mut out = String::from("    <EvaluationResults>\n");
    for action in &actions {
        for res in &resources {
            let e = policy::evaluate(&docs, action, res);
            let matched: String = e
                .matched
                .iter()
                .map(|(n, _)| {
                    let kind = policies.iter().find(|(p, _, _)| p == n).map_or("none", |p| p.2);
                    format!(
                        "          <member>\n            <SourcePolicyId>{}</SourcePolicyId>\n            <SourcePolicyType>{kind}</SourcePolicyType>\n          </member>\n",
                        xml_escape(n)
                    )
                })
                .collect();
            let missing: String = e
                .missing_context
                .iter()
                .map(|k| format!("          <member>{}</member>\n", xml_escape(k)))
                .collect();
            out.push_str(&format!(
                "      <member>\n        <EvalActionName>{}</EvalActionName>\n        <EvalResourceName>{}</EvalResourceName>\n        <EvalDecision>{}</EvalDecision>\n        <MatchedStatements>\n{matched}        </MatchedStatements>\n        <MissingContextValues>\n{missing}        </MissingContextValues>\n      </member>\n",
                xml_escape(action),
                xml_escape(res),
                e.decision.as_str(),
            ));
        }
    }
    out.push_str("    </EvaluationResults>\n    <IsTruncated>false</IsTruncated>\n");
    Ok(out)
}

/// `iam:` in a world file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IamEntry {
    deny_simulation: Option<bool>,
    deny_get_role: Option<bool>,
    caller_policies: Option<std::collections::BTreeMap<String, Value>>,
    #[serde(default)]
    roles: Vec<PrincipalEntry>,
    #[serde(default)]
    users: Vec<PrincipalEntry>,
    #[serde(default)]
    managed_policies: Vec<ManagedPolicyEntry>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalEntry {
    name: String,
    path: Option<String>,
    /// `false` removes a derived role or user.
    exists: Option<bool>,
    trust_policy: Option<Value>,
    policies: Option<std::collections::BTreeMap<String, Value>>,
    attached_policies: Option<Vec<String>>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ManagedPolicyEntry {
    arn: String,
    document: Value,
}

impl Iam {
    /// Apply a world file's `iam:`: principals are matched by name and
    /// changed field by field; policy maps replace.
    pub(crate) fn apply(&mut self, e: IamEntry) {
        if let Some(v) = e.deny_simulation {
            self.deny_simulation = v;
        }
        if let Some(v) = e.deny_get_role {
            self.deny_get_role = v;
        }
        if let Some(v) = e.caller_policies {
            self.caller_policies = v.into_iter().collect();
        }
        for m in e.managed_policies {
            self.policies.retain(|p| p.arn != m.arn);
            self.policies.push(ManagedPolicy {
                arn: m.arn,
                document: m.document,
            });
        }
        apply_principals(&mut self.roles, e.roles, true);
        apply_principals(&mut self.users, e.users, false);
    }
}

fn apply_principals(list: &mut Vec<Principal>, entries: Vec<PrincipalEntry>, roles: bool) {
    for e in entries {
        if e.exists == Some(false) {
            list.retain(|p| p.name != e.name);
            continue;
        }
        let index = match list.iter().position(|p| p.name == e.name) {
            Some(i) => i,
            None => {
                list.push(Principal {
                    name: e.name.clone(),
                    path: "/".into(),
                    trust_policy: roles.then(ecs_tasks_trust),
                    inline: Vec::new(),
                    attached: Vec::new(),
                });
                list.len() - 1
            }
        };
        let p = &mut list[index];
        if let Some(v) = e.path {
            p.path = v;
        }
        if let Some(v) = e.trust_policy {
            p.trust_policy = Some(v);
        }
        if let Some(v) = e.policies {
            p.inline = v.into_iter().collect();
        }
        if let Some(v) = e.attached_policies {
            p.attached = v;
        }
    }
}

//! IAM rows: roles exist and trust `ecs-tasks.amazonaws.com` (GetRole), and
//! what the caller and the task roles may do (SimulatePrincipalPolicy):
//! rows 9, 10, 11 and 12. The KMS key itself (DescribeKey) is here too.

use serde_json::Value;

use super::checks::ExecConfig;
use super::{could_not_check, error_code, CheckResult, Group};
use crate::aws::Aws;
use crate::ecs::Target;
use crate::error::Result;

/// The actions the task role needs for the data channel (row 10).
pub const SSMMESSAGES_ACTIONS: [&str; 4] = [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
];

/// At most this many task ARNs go into one simulation of the caller.
const SIMULATED_TASKS: usize = 20;

/// Who to simulate for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Principal {
    /// A user or role ARN SimulatePrincipalPolicy takes.
    Arn(String),
    /// The account's root user: IAM policies do not limit it.
    Root,
    /// A principal IAM cannot simulate (a federated user).
    Other(String),
}

impl Principal {
    /// From GetCallerIdentity's ARN; an assumed role is simulated as its
    /// role (`arn:aws:iam::<account>:role/<name>`; a role path is not in
    /// the session ARN, so a role with a path is simulated without it).
    pub(super) fn of_caller(arn: &str) -> Principal {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() < 6 {
            return Principal::Other(arn.to_string());
        }
        let (partition, service, account, resource) = (parts[1], parts[2], parts[4], parts[5]);
        match service {
            "iam" if resource == "root" => Principal::Root,
            "iam" if resource.starts_with("user/") || resource.starts_with("role/") => {
                Principal::Arn(arn.to_string())
            }
            "sts" if resource.starts_with("assumed-role/") => {
                let role = resource
                    .trim_start_matches("assumed-role/")
                    .split('/')
                    .next()
                    .unwrap_or("");
                Principal::Arn(format!("arn:{partition}:iam::{account}:role/{role}"))
            }
            _ => Principal::Other(arn.to_string()),
        }
    }
}

/// A KMS key id, alias or ARN as an ARN, for simulations.
pub(super) fn kms_key_arn(key: &str, region: &str, account: &str) -> String {
    if key.starts_with("arn:") {
        key.to_string()
    } else if key.starts_with("alias/") {
        format!("arn:aws:kms:{region}:{account}:{key}")
    } else {
        format!("arn:aws:kms:{region}:{account}:key/{key}")
    }
}

/// The last segment of a role ARN: its name.
pub(super) fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// A denied or unproven (action, resource) of a simulation.
#[derive(Debug, Default)]
pub(super) struct Simulation {
    /// `(action, resource, decision)` not allowed.
    pub denied: Vec<(String, String, String)>,
    /// `(action, condition keys)` denied only for want of context values.
    pub unproven: Vec<(String, Vec<String>)>,
}

/// SimulatePrincipalPolicy for `source` on `actions` × `resources`.
pub(super) async fn simulate(
    aws: &Aws,
    source: &str,
    actions: &[&str],
    resources: &[String],
    context: &[(&str, String)],
) -> Result<Simulation> {
    let client = aws_sdk_iam::Client::new(&aws.sdk);
    let entries: Vec<aws_sdk_iam::types::ContextEntry> = context
        .iter()
        .map(|(k, v)| {
            aws_sdk_iam::types::ContextEntry::builder()
                .context_key_name(*k)
                .context_key_values(v.clone())
                .context_key_type(aws_sdk_iam::types::ContextKeyTypeEnum::String)
                .build()
        })
        .collect();
    let mut sim = Simulation::default();
    let mut marker: Option<String> = None;
    loop {
        let mut req = client
            .simulate_principal_policy()
            .policy_source_arn(source)
            .set_action_names(Some(actions.iter().map(|a| a.to_string()).collect()))
            .set_marker(marker.clone());
        if !entries.is_empty() {
            req = req.set_context_entries(Some(entries.clone()));
        }
        if !resources.is_empty() {
            req = req.set_resource_arns(Some(resources.to_vec()));
        }
        let out = req
            .send()
            .await
            .map_err(|e| aws.error("SimulatePrincipalPolicy", e))?;
        for r in out.evaluation_results() {
            let action = r.eval_action_name().to_string();
            let specific = r.resource_specific_results();
            let mut verdicts: Vec<(String, String, Vec<String>)> = Vec::new();
            if specific.is_empty() {
                verdicts.push((
                    r.eval_resource_name().unwrap_or("*").to_string(),
                    r.eval_decision().as_str().to_string(),
                    r.missing_context_values().to_vec(),
                ));
            } else {
                for s in specific {
                    verdicts.push((
                        s.eval_resource_name().to_string(),
                        s.eval_resource_decision().as_str().to_string(),
                        s.missing_context_values().to_vec(),
                    ));
                }
            }
            for (resource, decision, missing) in verdicts {
                match decision.as_str() {
                    "allowed" => {}
                    "implicitDeny" if !missing.is_empty() => {
                        sim.unproven.push((action.clone(), missing));
                    }
                    _ => sim.denied.push((action.clone(), resource, decision)),
                }
            }
        }
        if out.is_truncated && out.marker().is_some() {
            marker = out.marker().map(str::to_owned);
        } else {
            break;
        }
    }
    Ok(sim)
}

/// A policy statement allowing `actions` on `resource`, for fixes.
fn policy(actions: &[&str], resource: &str) -> String {
    let actions = actions
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(",");
    format!(
        "{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":[{actions}],\"Resource\":\"{resource}\"}}]}}"
    )
}

/// `aws iam put-<user|role>-policy ...` for a principal ARN.
fn put_policy(principal: &str, policy_name: &str, actions: &[&str], resource: &str) -> String {
    let doc = policy(actions, resource);
    let name = role_name(principal);
    if principal.contains(":user/") {
        format!("aws iam put-user-policy --user-name {name} --policy-name {policy_name} --policy-document '{doc}'")
    } else {
        format!("aws iam put-role-policy --role-name {name} --policy-name {policy_name} --policy-document '{doc}'")
    }
}

/// A simulation's result as a check.
fn judge(
    check: CheckResult,
    who: &str,
    result: &Result<Simulation>,
    actions: &[&str],
    fix_resource: &str,
    policy_name: &str,
    ok: String,
) -> CheckResult {
    match result {
        Err(e) => check.could_not_check(e, "iam:SimulatePrincipalPolicy"),
        Ok(sim) if !sim.denied.is_empty() => {
            // One phrase per (action, decision): the first resource, and how
            // many more.
            let mut groups: Vec<(&str, &str, Vec<&str>)> = Vec::new();
            for (a, r, d) in &sim.denied {
                match groups.iter_mut().find(|(ga, gd, _)| ga == a && gd == d) {
                    Some((_, _, rs)) => rs.push(r),
                    None => groups.push((a, d, vec![r])),
                }
            }
            let names: Vec<String> = groups
                .iter()
                .map(|(a, d, rs)| match rs.as_slice() {
                    ["*"] => format!("{a} ({d})"),
                    [one] => format!("{a} on {one} ({d})"),
                    [first, rest @ ..] => {
                        format!("{a} on {first} and {} more ({d})", rest.len())
                    }
                    [] => format!("{a} ({d})"),
                })
                .collect();
            let explicit = sim.denied.iter().any(|(_, _, d)| d == "explicitDeny");
            let fix = if explicit {
                format!(
                    "remove the Deny statement for {} from {who}'s policies (an explicit Deny wins over any Allow)",
                    actions.join(", ")
                )
            } else {
                put_policy(who, policy_name, actions, fix_resource)
            };
            check.ng(format!("{who} may not {}", names.join(", ")), fix)
        }
        Ok(sim) if !sim.unproven.is_empty() => {
            let keys: Vec<String> = sim
                .unproven
                .iter()
                .flat_map(|(_, k)| k.iter().cloned())
                .collect();
            check.warn(
                format!(
                    "could not be proven: the policies allow it only under conditions the simulation cannot evaluate ({})",
                    keys.join(", ")
                ),
                format!("check the conditions on {} in {who}'s policies", actions.join(", ")),
            )
        }
        Ok(_) => check.ok(ok),
    }
}

/// Rows 9 and 11 (caller side).
pub(super) async fn caller_rows(
    aws: &Aws,
    principal: Option<&Principal>,
    target: &Target,
    task_arns: &[String],
    key_arn: Option<&str>,
) -> Vec<CheckResult> {
    let exec_check =
        CheckResult::new("exec.caller.execute_command", Group::Caller, "caller").row(9);
    let kms_check =
        CheckResult::new("exec.caller.kms_generate_data_key", Group::Caller, "caller").row(11);
    let who = match principal {
        None => {
            let mut out = vec![exec_check.skip("no caller identity")];
            if key_arn.is_some() {
                out.push(kms_check.skip("no caller identity"));
            }
            return out;
        }
        Some(Principal::Root) => {
            let mut out = vec![exec_check.ok("the root user is not limited by IAM policies")];
            if key_arn.is_some() {
                out.push(kms_check.ok("the root user is not limited by IAM policies"));
            }
            return out;
        }
        Some(Principal::Other(arn)) => {
            let reason = format!("IAM cannot simulate {arn}");
            let mut out = vec![exec_check.skip(reason.clone())];
            if key_arn.is_some() {
                out.push(kms_check.skip(reason));
            }
            return out;
        }
        Some(Principal::Arn(arn)) => arn.clone(),
    };
    let account = who.split(':').nth(4).unwrap_or("").to_string();
    let tasks_resource = format!(
        "arn:aws:ecs:{}:{account}:task/{}/*",
        aws.region, target.cluster
    );
    // A sample of the tasks is enough: their ARNs differ only in the id.
    let resources: Vec<String> = if task_arns.is_empty() {
        vec![tasks_resource.clone()]
    } else {
        task_arns.iter().take(SIMULATED_TASKS).cloned().collect()
    };
    let exec_actions = ["ecs:ExecuteCommand"];
    // Policies often scope ExecuteCommand to a cluster (`ecs:cluster`).
    let cluster_context = [(
        "ecs:cluster",
        format!(
            "arn:aws:ecs:{}:{account}:cluster/{}",
            aws.region, target.cluster
        ),
    )];
    let kms_actions = ["kms:GenerateDataKey"];
    let key_resources: Vec<String> = key_arn.map(str::to_owned).into_iter().collect();
    let (exec_sim, kms_sim) = tokio::join!(
        simulate(aws, &who, &exec_actions, &resources, &cluster_context),
        async {
            match key_arn {
                Some(_) => Some(simulate(aws, &who, &kms_actions, &key_resources, &[]).await),
                None => None,
            }
        }
    );
    let mut out = vec![judge(
        exec_check,
        &who,
        &exec_sim,
        &exec_actions,
        &tasks_resource,
        "ecs-exec",
        format!(
            "{who} may ecs:ExecuteCommand on {} task(s)",
            resources.len()
        ),
    )];
    if let (Some(sim), Some(key)) = (kms_sim, key_arn) {
        out.push(judge(
            kms_check,
            &who,
            &sim,
            &kms_actions,
            key,
            "ecs-exec-kms",
            format!("{who} may kms:GenerateDataKey on the exec key"),
        ));
    }
    out
}

/// The port-forwarding documents' ARNs (AWS-owned: no account).
pub(super) fn document_arns(region: &str, documents: &[&str]) -> Vec<String> {
    documents
        .iter()
        .map(|d| format!("arn:aws:ssm:{region}::document/{d}"))
        .collect()
}

/// `port.caller.start_session`: the caller may `ssm:StartSession` on the
/// tasks and on the port-forwarding documents. A denial is NG when
/// `required` (port-forward's pre-flight), else WARN (only port-forward needs it).
pub(super) async fn start_session_row(
    aws: &Aws,
    principal: Option<&Principal>,
    task_arns: &[String],
    documents: &[&str],
    required: bool,
) -> CheckResult {
    let check = CheckResult::new("port.caller.start_session", Group::Caller, "caller");
    let who = match principal {
        None => return check.skip("no caller identity"),
        Some(Principal::Root) => return check.ok("the root user is not limited by IAM policies"),
        Some(Principal::Other(arn)) => return check.skip(format!("IAM cannot simulate {arn}")),
        Some(Principal::Arn(arn)) => arn.clone(),
    };
    let mut resources: Vec<String> = task_arns.iter().take(SIMULATED_TASKS).cloned().collect();
    resources.extend(document_arns(&aws.region, documents));
    let actions = ["ssm:StartSession"];
    let sim = simulate(aws, &who, &actions, &resources, &[]).await;
    let fix_resource = "*";
    let checked = judge(
        check,
        &who,
        &sim,
        &actions,
        fix_resource,
        "ecs-port-forward",
        format!(
            "{who} may ssm:StartSession on {} task(s) and {}",
            task_arns.len().min(SIMULATED_TASKS),
            documents.join(", ")
        ),
    );
    // Name every denied resource: there are few, and the document matters.
    let checked = match (&sim, checked.status) {
        (Ok(sim), super::Status::Ng) => {
            let denied: Vec<String> = sim
                .denied
                .iter()
                .map(|(_, r, d)| format!("{r} ({d})"))
                .collect();
            let fix = checked.fix.clone().unwrap_or_default();
            checked.ng(
                format!("{who} may not ssm:StartSession on {}", denied.join(", ")),
                fix,
            )
        }
        _ => checked,
    };
    match checked.status {
        super::Status::Ng if !required => {
            let fix = checked.fix.clone().unwrap_or_default();
            let message = format!("{} (only `ecsx port-forward` needs it)", checked.message);
            checked.warn(message, fix)
        }
        _ => checked,
    }
}

/// Row 11: the cluster's exec KMS key exists and is enabled.
pub(super) async fn describe_key(aws: &Aws, key: &str) -> CheckResult {
    let check = CheckResult::new("exec.kms.key", Group::Kms, key).row(11);
    let out = aws_sdk_kms::Client::new(&aws.sdk)
        .describe_key()
        .key_id(key)
        .send()
        .await
        .map_err(|e| aws.error("DescribeKey", e));
    match out {
        Err(e) if error_code(&e) == Some("NotFoundException") => check.ng(
            format!("KMS key {key} does not exist"),
            "name an existing key in the cluster's executeCommandConfiguration: aws ecs update-cluster --cluster <cluster> --configuration 'executeCommandConfiguration={kmsKeyId=<key>}'",
        ),
        Err(e) => check.could_not_check(&e, "kms:DescribeKey"),
        Ok(o) => match o.key_metadata() {
            Some(m) if m.enabled => check.ok("enabled"),
            Some(m) => check.ng(
                format!(
                    "KMS key {key} is {}",
                    m.key_state().map(|s| s.as_str()).unwrap_or("disabled")
                ),
                format!("aws kms enable-key --key-id {key}"),
            ),
            None => check.warn("DescribeKey returned no metadata", "run again"),
        },
    }
}

/// The trust policy, as GetRole returns it (URL-encoded JSON).
pub(super) fn trusts_ecs_tasks(document: &str) -> bool {
    let decoded = crate::template::percent_decode(document);
    let Ok(policy) = serde_json::from_str::<Value>(&decoded) else {
        return false;
    };
    let statements = match policy.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => return false,
    };
    let strings = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    statements.iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && strings(s.get("Action"))
                .iter()
                .any(|a| a == "sts:AssumeRole" || a == "sts:*" || a == "*")
            && strings(s.get("Principal").and_then(|p| p.get("Service")))
                .iter()
                .any(|p| p == "ecs-tasks.amazonaws.com")
    })
}

const TRUST_POLICY: &str = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ecs-tasks.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}";

/// The awslogs log groups of a definition's containers, as ARNs: where
/// exec sessions log with the cluster's DEFAULT logging.
pub(super) fn awslogs_group_arns(
    td: &super::TaskDef,
    only: Option<&str>,
    region: &str,
    account: &str,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in td.containers(only) {
        if c.log_driver.as_deref() != Some("awslogs") {
            continue;
        }
        if let Some(group) = c.log_options.get("awslogs-group") {
            let r = c
                .log_options
                .get("awslogs-region")
                .map_or(region, String::as_str);
            let arn = format!("arn:aws:logs:{r}:{account}:log-group:{group}:*");
            if !out.contains(&arn) {
                out.push(arn);
            }
        }
    }
    out
}

/// A role's rows: it exists and trusts ECS tasks; for a task role (given
/// its containers' awslogs groups), rows 10-12.
pub(super) async fn role_rows(
    aws: &Aws,
    arn: &str,
    kind: &'static str,
    exec: &ExecConfig,
    key_arn: Option<&str>,
    account: &str,
    task_role_log_groups: Option<&[String]>,
) -> Vec<CheckResult> {
    let name = role_name(arn).to_string();
    let get = async {
        aws_sdk_iam::Client::new(&aws.sdk)
            .get_role()
            .role_name(&name)
            .send()
            .await
            .map_err(|e| aws.error("GetRole", e))
    };
    // A task role (with its containers' awslogs groups) also gets rows 10-12.
    let perms = async {
        match task_role_log_groups {
            Some(groups) => {
                task_role_permission_rows(aws, arn, exec, key_arn, account, groups).await
            }
            None => Vec::new(),
        }
    };
    let (role, perms) = tokio::join!(get, perms);
    let exists = CheckResult::new("resource.role.exists", Group::Role, arn);
    let trust = CheckResult::new("resource.role.trusts_ecs_tasks", Group::Role, arn);
    let mut out = Vec::new();
    let mut missing = false;
    match role {
        Err(e) if error_code(&e) == Some("NoSuchEntity") => {
            missing = true;
            out.push(exists.ng(
                format!("{kind} role {name} does not exist"),
                format!("aws iam create-role --role-name {name} --assume-role-policy-document '{TRUST_POLICY}' (or fix the {kind} role ARN in the task definition)"),
            ));
            out.push(trust.skip("the role does not exist"));
        }
        Err(e) => {
            let (message, fix) = could_not_check(&e, "iam:GetRole");
            out.push(exists.warn(message.clone(), fix.clone()));
            out.push(trust.warn(message, fix));
        }
        Ok(o) => {
            out.push(exists.ok(format!("{kind} role exists")));
            let doc = o
                .role()
                .and_then(|r| r.assume_role_policy_document())
                .unwrap_or("");
            out.push(if trusts_ecs_tasks(doc) {
                trust.ok("trusts ecs-tasks.amazonaws.com")
            } else {
                trust.ng(
                    format!("{kind} role {name} does not trust ecs-tasks.amazonaws.com"),
                    format!("aws iam update-assume-role-policy --role-name {name} --policy-document '{TRUST_POLICY}'"),
                )
            });
        }
    }
    for r in perms {
        out.push(if missing {
            r.skip("the role does not exist")
        } else {
            r
        });
    }
    out
}

/// Rows 10, 11 (task role side) and 12 for one task role.
pub(super) async fn task_role_permission_rows(
    aws: &Aws,
    arn: &str,
    exec: &ExecConfig,
    key_arn: Option<&str>,
    account: &str,
    default_log_groups: &[String],
) -> Vec<CheckResult> {
    let ssm = CheckResult::new("exec.task_role.ssmmessages", Group::Role, arn).row(10);
    let kms = CheckResult::new("exec.task_role.kms_decrypt", Group::Role, arn).row(11);
    let logging = CheckResult::new("exec.task_role.exec_logging", Group::Role, arn).row(12);
    let region = aws.region.clone();
    let kms_actions = ["kms:Decrypt"];
    let key_resources: Vec<String> = key_arn.map(str::to_owned).into_iter().collect();
    let logs_actions = [
        "logs:DescribeLogGroups",
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ];
    let s3_actions = ["s3:PutObject", "s3:GetEncryptionConfiguration"];
    let override_logging = exec.logging == "OVERRIDE";
    // OVERRIDE: the configured targets; DEFAULT: the containers' awslogs groups.
    let log_groups: Vec<String> = match exec.logging.as_str() {
        "OVERRIDE" => exec
            .log_group
            .as_ref()
            .map(|g| format!("arn:aws:logs:{region}:{account}:log-group:{g}:*"))
            .into_iter()
            .collect(),
        "DEFAULT" => default_log_groups.to_vec(),
        _ => Vec::new(),
    };
    let bucket_arn = exec.s3_bucket.as_ref().map(|b| {
        format!(
            "arn:aws:s3:::{b}/{}*",
            exec.s3_key_prefix.as_deref().unwrap_or("")
        )
    });
    let (ssm_sim, kms_sim, logs_sim, s3_sim) = tokio::join!(
        simulate(aws, arn, &SSMMESSAGES_ACTIONS, &[], &[]),
        async {
            match key_arn {
                Some(_) => Some(simulate(aws, arn, &kms_actions, &key_resources, &[]).await),
                None => None,
            }
        },
        async {
            if log_groups.is_empty() {
                None
            } else {
                Some(simulate(aws, arn, &logs_actions, &log_groups, &[]).await)
            }
        },
        async {
            match (&bucket_arn, override_logging) {
                (Some(b), true) => {
                    Some(simulate(aws, arn, &s3_actions, std::slice::from_ref(b), &[]).await)
                }
                _ => None,
            }
        },
    );
    let mut out = vec![judge(
        ssm,
        arn,
        &ssm_sim,
        &SSMMESSAGES_ACTIONS,
        "*",
        "ecs-exec-ssmmessages",
        "may use the ssmmessages channels".into(),
    )];
    if let (Some(sim), Some(key)) = (kms_sim, key_arn) {
        out.push(judge(
            kms,
            arn,
            &sim,
            &kms_actions,
            key,
            "ecs-exec-kms",
            "may kms:Decrypt with the exec key".into(),
        ));
    }
    if override_logging || !log_groups.is_empty() {
        let mut results: Vec<CheckResult> = Vec::new();
        if let Some(sim) = logs_sim {
            results.push(judge(
                logging.clone(),
                arn,
                &sim,
                &logs_actions,
                &log_groups.join(" "),
                "ecs-exec-logging",
                format!("may write exec logs ({}) to CloudWatch", exec.logging),
            ));
        }
        if let (Some(sim), Some(b)) = (s3_sim, &bucket_arn) {
            results.push(judge(
                logging.clone(),
                arn,
                &sim,
                &s3_actions,
                b,
                "ecs-exec-s3-logging",
                "may write exec logs to S3".into(),
            ));
        }
        // One row: the worst of the two targets.
        results.sort_by_key(|r| match r.status {
            super::Status::Ng => 0,
            super::Status::Warn => 1,
            super::Status::Ok => 2,
            super::Status::Skip => 3,
        });
        match results.into_iter().next() {
            Some(r) => out.push(r),
            None => out.push(logging.skip("exec logging OVERRIDE names no target")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_become_simulation_principals() {
        assert_eq!(
            Principal::of_caller("arn:aws:sts::123456789012:assumed-role/Developer/alice"),
            Principal::Arn("arn:aws:iam::123456789012:role/Developer".into())
        );
        assert_eq!(
            Principal::of_caller("arn:aws:iam::123456789012:user/ops/bob"),
            Principal::Arn("arn:aws:iam::123456789012:user/ops/bob".into())
        );
        assert_eq!(
            Principal::of_caller("arn:aws:iam::123456789012:root"),
            Principal::Root
        );
        assert!(matches!(
            Principal::of_caller("arn:aws:sts::123456789012:federated-user/x"),
            Principal::Other(_)
        ));
    }

    #[test]
    fn trust_policies_are_url_decoded() {
        let doc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%5B%22ecs-tasks.amazonaws.com%22%5D%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
        assert!(trusts_ecs_tasks(doc));
        assert!(trusts_ecs_tasks(TRUST_POLICY));
        assert!(!trusts_ecs_tasks(&TRUST_POLICY.replace("ecs-tasks", "ec2")));
        assert!(!trusts_ecs_tasks("not json"));
    }

    #[test]
    fn key_arns() {
        assert_eq!(
            kms_key_arn("1234", "us-east-1", "123"),
            "arn:aws:kms:us-east-1:123:key/1234"
        );
        assert_eq!(
            kms_key_arn("alias/x", "us-east-1", "123"),
            "arn:aws:kms:us-east-1:123:alias/x"
        );
    }
}

//! IAM policy evaluation, as `iam:SimulatePrincipalPolicy` does it for
//! identity policies: explicit Deny wins, then any Allow, else implicit deny.
//! `Action`/`NotAction` match case-insensitively with `*` and `?`;
//! `Resource`/`NotResource` case-sensitively with the same wildcards. A
//! statement with a `Condition` is not evaluated: it never applies, and its
//! condition keys are reported as missing context values (as the simulator
//! does when the caller passes no context), so that a decision resting on a
//! condition reads "could not be proven", not a false pass.
//!
//! It is pure (documents in, decision out) so that the sandbox can answer
//! SimulatePrincipalPolicy with it and tests can check the rules directly.

use serde_json::Value;

/// The simulator's decision for one action on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl Decision {
    /// As IAM writes it in `EvalDecision`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::ExplicitDeny => "explicitDeny",
            Decision::ImplicitDeny => "implicitDeny",
        }
    }
}

/// The outcome of evaluating a set of policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    /// `(policy name, statement index)` of the statements that decided.
    pub matched: Vec<(String, usize)>,
    /// Condition keys of statements that would have applied but were not evaluated.
    pub missing_context: Vec<String>,
}

/// `*` (any run) and `?` (any one character) matching.
pub fn wildcard_match(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let norm = |s: &str| {
        if case_insensitive {
            s.to_ascii_lowercase()
        } else {
            s.to_string()
        }
    };
    let p: Vec<char> = norm(pattern).chars().collect();
    let t: Vec<char> = norm(text).chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// A string or list of strings.
fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

/// A policy's statements (`Statement` is an object or a list).
pub fn statements(policy: &Value) -> Vec<&Value> {
    match policy.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    }
}

fn matches_any(patterns: &[String], text: &str, case_insensitive: bool) -> bool {
    patterns
        .iter()
        .any(|p| wildcard_match(p, text, case_insensitive))
}

/// Whether a statement's action and resource clauses cover the request.
fn covers(statement: &Value, action: &str, resource: &str) -> bool {
    let action_ok = match (
        strings(statement.get("Action")),
        strings(statement.get("NotAction")),
    ) {
        (Some(actions), _) => matches_any(&actions, action, true),
        (None, Some(not)) => !matches_any(&not, action, true),
        (None, None) => false,
    };
    let resource_ok = match (
        strings(statement.get("Resource")),
        strings(statement.get("NotResource")),
    ) {
        (Some(resources), _) => matches_any(&resources, resource, false),
        (None, Some(not)) => !matches_any(&not, resource, false),
        // Identity policies need one; be lenient and take it as "*".
        (None, None) => true,
    };
    action_ok && resource_ok
}

/// The condition keys of a statement (`{"StringEquals": {"ecs:cluster": ...}}`).
fn condition_keys(statement: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(Value::Object(ops)) = statement.get("Condition") {
        for block in ops.values() {
            if let Value::Object(k) = block {
                keys.extend(k.keys().cloned());
            }
        }
    }
    keys
}

/// Evaluate `(name, document)` policies for `action` on `resource`.
pub fn evaluate(policies: &[(String, Value)], action: &str, resource: &str) -> Evaluation {
    let mut allows = Vec::new();
    let mut denies = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    for (name, doc) in policies {
        for (i, st) in statements(doc).into_iter().enumerate() {
            if !covers(st, action, resource) {
                continue;
            }
            if st
                .get("Condition")
                .is_some_and(|c| c.as_object().is_some_and(|m| !m.is_empty()))
            {
                for k in condition_keys(st) {
                    if !missing.contains(&k) {
                        missing.push(k);
                    }
                }
                continue;
            }
            match st.get("Effect").and_then(Value::as_str) {
                Some("Deny") => denies.push((name.clone(), i)),
                Some("Allow") => allows.push((name.clone(), i)),
                _ => {}
            }
        }
    }
    if !denies.is_empty() {
        Evaluation {
            decision: Decision::ExplicitDeny,
            matched: denies,
            missing_context: Vec::new(),
        }
    } else if !allows.is_empty() {
        Evaluation {
            decision: Decision::Allowed,
            matched: allows,
            missing_context: Vec::new(),
        }
    } else {
        Evaluation {
            decision: Decision::ImplicitDeny,
            matched: Vec::new(),
            missing_context: missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(doc: Value) -> Vec<(String, Value)> {
        vec![("inline".to_string(), doc)]
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match(
            "ssmmessages:*",
            "ssmmessages:OpenDataChannel",
            true
        ));
        assert!(wildcard_match(
            "SSMMESSAGES:open*channel",
            "ssmmessages:OpenDataChannel",
            true
        ));
        assert!(!wildcard_match(
            "ssmmessages:Create*",
            "ssmmessages:OpenDataChannel",
            true
        ));
        assert!(wildcard_match(
            "arn:aws:ecs:*:*:task/app-cluster/*",
            "arn:aws:ecs:us-east-1:1:task/app-cluster/abc",
            false
        ));
        assert!(!wildcard_match(
            "arn:aws:ecs:*:*:task/App-cluster/*",
            "arn:aws:ecs:us-east-1:1:task/app-cluster/abc",
            false
        ));
        assert!(wildcard_match("a?c", "abc", false));
        assert!(wildcard_match("*", "", false));
        assert!(!wildcard_match("a*b", "acbx", false));
    }

    #[test]
    fn allow_deny_and_implicit() {
        let allow = json!({"Statement": {"Effect": "Allow", "Action": "ecs:*", "Resource": "*"}});
        assert_eq!(
            evaluate(&p(allow.clone()), "ecs:ExecuteCommand", "arn:x").decision,
            Decision::Allowed
        );
        assert_eq!(
            evaluate(&p(allow), "ssm:GetParameters", "arn:x").decision,
            Decision::ImplicitDeny
        );
        let both = vec![
            (
                "a".to_string(),
                json!({"Statement": [{"Effect": "Allow", "Action": ["ecs:ExecuteCommand"], "Resource": "*"}]}),
            ),
            (
                "managed".to_string(),
                json!({"Statement": [{"Effect": "Deny", "Action": "ecs:Execute*", "Resource": "arn:aws:ecs:*:*:task/prod/*"}]}),
            ),
        ];
        let e = evaluate(&both, "ecs:ExecuteCommand", "arn:aws:ecs:r:1:task/prod/t");
        assert_eq!(e.decision, Decision::ExplicitDeny);
        assert_eq!(e.matched, vec![("managed".to_string(), 0)]);
        assert_eq!(
            evaluate(&both, "ecs:ExecuteCommand", "arn:aws:ecs:r:1:task/dev/t").decision,
            Decision::Allowed
        );
    }

    #[test]
    fn not_action_and_not_resource() {
        let doc = json!({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:secret*"}]});
        assert_eq!(
            evaluate(&p(doc.clone()), "ecs:ExecuteCommand", "arn:task").decision,
            Decision::Allowed
        );
        assert_eq!(
            evaluate(&p(doc.clone()), "iam:GetRole", "arn:task").decision,
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(&p(doc), "ecs:ExecuteCommand", "arn:secret/x").decision,
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn conditions_are_not_evaluated() {
        let doc = json!({"Statement": [{"Effect": "Allow", "Action": "ecs:ExecuteCommand", "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/env": "dev"}}}]});
        let e = evaluate(&p(doc), "ecs:ExecuteCommand", "arn:t");
        assert_eq!(e.decision, Decision::ImplicitDeny);
        assert_eq!(e.missing_context, vec!["aws:ResourceTag/env".to_string()]);
    }
}

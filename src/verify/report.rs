//! Writing verify's results: for people (grouped, one line per check, the
//! fix under each NG and WARN, a summary line), as JSON (docs/verify.md
//! documents the schema; `schemaVersion` changes only on a breaking change),
//! and as JUnit XML (one testcase per check).

use std::io::Write;

use serde_json::{json, Value};

use super::{grouped, CheckResult, Group, Status, Summary};
use crate::output::{paint, Color};

/// The JSON schema version.
pub const SCHEMA_VERSION: u32 = 1;

/// What the report says besides the results.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub cluster: String,
    pub service: Option<String>,
    pub region: String,
    pub strict: bool,
}

fn group_title(group: Group, resource: &str) -> String {
    match group {
        Group::Caller => "caller".to_string(),
        Group::Cluster => format!("cluster {resource}"),
        Group::Service => format!("service {resource}"),
        Group::Task => format!("task {resource}"),
        Group::TaskDefinition => format!("task definition {resource}"),
        Group::Role => format!("role {resource}"),
        Group::Image => format!("image {resource}"),
        Group::Secret => format!("secret {resource}"),
        Group::LogGroup => format!("log group {resource}"),
        Group::TargetGroup => format!("target group {resource}"),
        Group::Network => format!("network {resource}"),
        Group::Kms => format!("KMS key {resource}"),
    }
}

fn status_color(status: Status) -> Option<Color> {
    match status {
        Status::Ok => Some(Color::Green),
        Status::Ng => Some(Color::Red),
        Status::Warn => Some(Color::Yellow),
        Status::Skip => None,
    }
}

/// The people's report.
pub fn write_text(
    w: &mut impl Write,
    results: &[CheckResult],
    ctx: &Context,
    color: bool,
) -> std::io::Result<()> {
    for ((group, resource), checks) in grouped(results) {
        writeln!(
            w,
            "{}",
            paint(&group_title(group, &resource), Color::Bold, color)
        )?;
        for c in checks {
            let tag = format!("[{}]", c.status);
            let painted = match status_color(c.status) {
                Some(col) => paint(&tag, col, color),
                None => tag.clone(),
            };
            let pad = " ".repeat(6usize.saturating_sub(tag.len()));
            let container = c
                .container
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            writeln!(w, "  {painted}{pad} {}{container}: {}", c.id, c.message)?;
            if let Some(fix) = &c.fix {
                if matches!(c.status, Status::Ng | Status::Warn) {
                    writeln!(w, "         fix: {fix}")?;
                }
            }
        }
    }
    let s = Summary::of(results);
    let verdict = if s.failed(ctx.strict) { "NG" } else { "OK" };
    writeln!(
        w,
        "{} checks: {} OK, {} NG, {} WARN, {} SKIP{} → {verdict}",
        s.total(),
        s.ok,
        s.ng,
        s.warn,
        s.skip,
        if ctx.strict {
            " (strict: WARN counts as NG)"
        } else {
            ""
        },
    )?;
    Ok(())
}

/// One result as JSON.
pub fn check_json(c: &CheckResult) -> Value {
    json!({
        "id": c.id,
        "row": c.row,
        "group": c.group.as_str(),
        "resource": c.resource,
        "task": c.task,
        "container": c.container,
        "status": c.status.as_str(),
        "message": c.message,
        "fix": c.fix,
    })
}

/// The machines' report.
pub fn to_json(results: &[CheckResult], ctx: &Context) -> Value {
    let s = Summary::of(results);
    json!({
        "schemaVersion": SCHEMA_VERSION,
        "cluster": ctx.cluster,
        "service": ctx.service,
        "region": ctx.region,
        "strict": ctx.strict,
        "result": if s.failed(ctx.strict) { "NG" } else { "OK" },
        "exitCode": if s.failed(ctx.strict) { crate::error::exit::VERIFY_NG } else { 0 },
        "summary": {
            "total": s.total(),
            "ok": s.ok,
            "ng": s.ng,
            "warn": s.warn,
            "skip": s.skip,
        },
        "checks": results.iter().map(check_json).collect::<Vec<_>>(),
    })
}

/// XML text escaping (attributes and text).
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Whether a result is a JUnit failure: NG, and WARN with `--strict`.
fn is_failure(c: &CheckResult, strict: bool) -> bool {
    c.status == Status::Ng || (strict && c.status == Status::Warn)
}

/// JUnit XML: a testsuite per resource, a testcase per check; NG (and with
/// `--strict` WARN) is a `<failure>`, SKIP is `<skipped>`, the message (and
/// for WARN without --strict, the fix) goes to `<system-out>`.
pub fn write_junit(
    w: &mut impl Write,
    results: &[CheckResult],
    ctx: &Context,
) -> std::io::Result<()> {
    let s = Summary::of(results);
    let failures = results.iter().filter(|c| is_failure(c, ctx.strict)).count();
    writeln!(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(
        w,
        "<testsuites name=\"ecsx verify\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{}\">",
        s.total(),
        s.skip
    )?;
    for ((group, resource), checks) in grouped(results) {
        let title = group_title(group, &resource);
        let f = checks.iter().filter(|c| is_failure(c, ctx.strict)).count();
        let sk = checks.iter().filter(|c| c.status == Status::Skip).count();
        writeln!(
            w,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"0\" skipped=\"{sk}\">",
            esc(&title),
            checks.len()
        )?;
        for c in checks {
            let name = match &c.container {
                Some(n) => format!("{} ({n})", c.id),
                None => c.id.to_string(),
            };
            writeln!(
                w,
                "    <testcase classname=\"ecsx.verify.{}\" name=\"{}\">",
                c.group.as_str(),
                esc(&name)
            )?;
            if is_failure(c, ctx.strict) {
                writeln!(
                    w,
                    "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                    c.status,
                    esc(&c.message),
                    esc(&format!(
                        "{}\nfix: {}",
                        c.message,
                        c.fix.as_deref().unwrap_or("-")
                    ))
                )?;
            } else if c.status == Status::Skip {
                writeln!(w, "      <skipped message=\"{}\"/>", esc(&c.message))?;
            }
            let out = match (&c.fix, c.status) {
                (Some(fix), Status::Warn) => format!("{}: {}\nfix: {fix}", c.status, c.message),
                _ => format!("{}: {}", c.status, c.message),
            };
            writeln!(w, "      <system-out>{}</system-out>", esc(&out))?;
            writeln!(w, "    </testcase>")?;
        }
        writeln!(w, "  </testsuite>")?;
    }
    writeln!(w, "</testsuites>")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<CheckResult> {
        vec![
            CheckResult::new("exec.cluster.active", Group::Cluster, "c")
                .row(2)
                .ok("ACTIVE"),
            CheckResult::new("exec.task.agent_running", Group::Task, "t1")
                .row(7)
                .task("t1")
                .container("app")
                .ng("agent STOPPED <x>", "replace & retry"),
            CheckResult::new(
                "exec.container.init_process_enabled",
                Group::TaskDefinition,
                "web:1",
            )
            .container("app")
            .warn("no init", "set it"),
            CheckResult::new("resource.image.exists", Group::Image, "nginx").skip("not ECR"),
        ]
    }

    #[test]
    fn text_groups_and_summarises() {
        let mut out = Vec::new();
        write_text(&mut out, &sample(), &Context::default(), false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "cluster c\n  [OK]   exec.cluster.active: ACTIVE\ntask t1\n  [NG]   exec.task.agent_running (app): agent STOPPED <x>\n         fix: replace & retry\ntask definition web:1\n  [WARN] exec.container.init_process_enabled (app): no init\n         fix: set it\nimage nginx\n  [SKIP] resource.image.exists: not ECR\n4 checks: 1 OK, 1 NG, 1 WARN, 1 SKIP → NG\n"
        );
    }

    #[test]
    fn json_has_the_schema() {
        let v = to_json(&sample(), &Context::default());
        assert_eq!(v["schemaVersion"], 1);
        assert_eq!(v["result"], "NG");
        assert_eq!(v["exitCode"], 4);
        assert_eq!(v["summary"]["warn"], 1);
        assert_eq!(v["checks"][1]["container"], "app");
        assert_eq!(v["checks"][1]["row"], 7);
        assert_eq!(v["checks"][0]["fix"], Value::Null);
    }

    #[test]
    fn junit_failures_follow_strict() {
        let mut out = Vec::new();
        write_junit(&mut out, &sample(), &Context::default()).unwrap();
        let xml = String::from_utf8(out).unwrap();
        assert!(
            xml.contains("tests=\"4\" failures=\"1\" errors=\"0\" skipped=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("agent STOPPED &lt;x&gt;"));
        assert!(xml.contains("<skipped message=\"not ECR\"/>"));
        let mut out = Vec::new();
        let strict = Context {
            strict: true,
            ..Default::default()
        };
        write_junit(&mut out, &sample(), &strict).unwrap();
        let xml = String::from_utf8(out).unwrap();
        assert!(xml.contains("failures=\"2\""), "{xml}");
        assert!(xml.contains("<failure type=\"WARN\""));
    }
}

//! `ecsx status`: the service's state, deployments and latest events.

use std::io::Write;

use aws_sdk_ecs::types::Service;
use serde_json::{json, Value};

use crate::app::App;
use crate::cli::{StatusArgs, TextFormat};
use crate::ecs::{ecs_error, local_time, task_definition_label, Scope, Target};
use crate::error::{Error, Result};
use crate::output::{color_enabled, paint, Color};

pub async fn run(app: &mut App, args: &StatusArgs) -> Result<i32> {
    let Some(service_name) = app.service()? else {
        return Err(Error::Config {
            path: app.config()?.path.clone(),
            message: "status needs a service: add `service: <name>` to the config".into(),
        });
    };
    let target = Target {
        cluster: app.config()?.cluster.clone(),
        scope: Scope::Service(service_name.clone()),
        config_label: app.config_label(),
    };
    let aws = app.aws().await?.clone();
    let describe = aws
        .ecs()
        .describe_services()
        .cluster(&target.cluster)
        .services(&service_name)
        .send();
    let out =
        crate::progress::while_waiting(format!("describing service {service_name}"), describe)
            .await
            .map_err(|e| ecs_error(&aws, &target, "DescribeServices", e))?;
    let service = out
        .services
        .unwrap_or_default()
        .into_iter()
        .find(|s| s.status() != Some("INACTIVE"))
        .ok_or_else(|| Error::ServiceNotFound {
            service: service_name.clone(),
            cluster: target.cluster.clone(),
            config: target.config_label.clone(),
        })?;
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    match args.output {
        TextFormat::Json => {
            serde_json::to_writer_pretty(
                &mut w,
                &status_json(&service, &target.cluster, args.events),
            )
            .map_err(std::io::Error::from)?;
            writeln!(w)?;
        }
        TextFormat::Text => write_text(
            &mut w,
            &service,
            &target.cluster,
            args.events,
            color_enabled(app.global.no_color),
        )?,
    }
    w.flush()?;
    Ok(0)
}

/// The last `n` events, oldest first (ECS returns newest first).
fn last_events(service: &Service, n: usize) -> Vec<&aws_sdk_ecs::types::ServiceEvent> {
    let mut events: Vec<_> = service.events().iter().take(n).collect();
    events.reverse();
    events
}

fn write_text(
    w: &mut impl Write,
    s: &Service,
    cluster: &str,
    events: usize,
    color: bool,
) -> std::io::Result<()> {
    let td = s.task_definition().map(task_definition_label).unwrap_or("");
    writeln!(w, "Service: {}", s.service_name().unwrap_or(""))?;
    writeln!(w, "Cluster: {cluster}")?;
    writeln!(w, "Status: {}", s.status().unwrap_or(""))?;
    writeln!(w, "TaskDefinition: {td}")?;
    if let Some(lt) = s.launch_type() {
        writeln!(w, "LaunchType: {}", lt.as_str())?;
    }
    let exec = if s.enable_execute_command {
        paint("enabled", Color::Green, color)
    } else {
        paint("disabled", Color::Red, color)
    };
    writeln!(w, "Exec: {exec}")?;
    writeln!(
        w,
        "Tasks: desired {}, running {}, pending {}",
        s.desired_count, s.running_count, s.pending_count
    )?;
    writeln!(w, "Deployments:")?;
    for d in s.deployments() {
        let rollout = d
            .rollout_state()
            .map(|r| r.as_str().to_string())
            .unwrap_or_default();
        let reason = d
            .rollout_state_reason()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        writeln!(
            w,
            "  {:8} {} desired:{} pending:{} running:{} failed:{} {}{}",
            d.status().unwrap_or(""),
            d.task_definition().map(task_definition_label).unwrap_or(""),
            d.desired_count,
            d.pending_count,
            d.running_count,
            d.failed_tasks,
            rollout,
            reason
        )?;
    }
    writeln!(w, "Events:")?;
    for e in last_events(s, events) {
        writeln!(
            w,
            "{} {}",
            e.created_at().map(local_time).unwrap_or_default(),
            e.message().unwrap_or("")
        )?;
    }
    Ok(())
}

fn status_json(s: &Service, cluster: &str, events: usize) -> Value {
    json!({
        "service": s.service_name(),
        "serviceArn": s.service_arn(),
        "cluster": cluster,
        "status": s.status(),
        "taskDefinition": s.task_definition().map(task_definition_label),
        "launchType": s.launch_type().map(|l| l.as_str()),
        "enableExecuteCommand": s.enable_execute_command,
        "desiredCount": s.desired_count,
        "runningCount": s.running_count,
        "pendingCount": s.pending_count,
        "deployments": s.deployments().iter().map(|d| json!({
            "id": d.id(),
            "status": d.status(),
            "taskDefinition": d.task_definition().map(task_definition_label),
            "desiredCount": d.desired_count,
            "pendingCount": d.pending_count,
            "runningCount": d.running_count,
            "failedTasks": d.failed_tasks,
            "rolloutState": d.rollout_state().map(|r| r.as_str()),
            "rolloutStateReason": d.rollout_state_reason(),
            "createdAt": d.created_at().map(local_time),
            "updatedAt": d.updated_at().map(local_time),
        })).collect::<Vec<_>>(),
        "events": last_events(s, events).iter().map(|e| json!({
            "id": e.id(),
            "createdAt": e.created_at().map(local_time),
            "message": e.message(),
        })).collect::<Vec<_>>(),
    })
}

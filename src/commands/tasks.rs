//! `ecsx tasks`: the service's tasks (or the task definition family's, when
//! the config names no service) as a table, JSON or TSV.

use std::io::Write;

use aws_sdk_ecs::types::{DesiredStatus, Task};
use serde_json::{json, Value};

use crate::app::App;
use crate::cli::{TableFormat, TasksArgs};
use crate::ecs::{self, exec_readiness, local_time, task_definition_label, task_id};
use crate::error::Result;
use crate::output::{cell, color_enabled, colored, Color, Table};
use crate::progress;

pub async fn run(app: &mut App, args: &TasksArgs) -> Result<i32> {
    let target = app.target()?;
    let aws = app.aws().await?.clone();
    let json = args.output == TableFormat::Json;
    // Each task becomes its row (or JSON object) as soon as it is described.
    let to_row = move |task: Task| Row {
        columns: columns(&task),
        json: json.then(|| task_json(&task)),
    };
    let waiting = format!("listing the tasks of {}", ecs::scope_label(&target));
    let tasks: Vec<Row> = match &args.task_id {
        Some(id) => vec![to_row(
            progress::while_waiting(waiting, ecs::find_task(&aws, &target, id, true)).await?,
        )],
        None => {
            let statuses: &[DesiredStatus] = if args.all {
                &[DesiredStatus::Running, DesiredStatus::Stopped]
            } else {
                &[DesiredStatus::Running]
            };
            progress::while_waiting(waiting, ecs::list_tasks_as(&aws, &target, statuses, to_row))
                .await?
        }
    };
    if tasks.is_empty() && args.output == TableFormat::Table {
        eprintln!(
            "ecsx: no {}tasks in {}",
            if args.all { "" } else { "running " },
            ecs::scope_label(&target)
        );
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.output {
        TableFormat::Json => {
            let rows: Vec<&Value> = tasks.iter().filter_map(|r| r.json.as_ref()).collect();
            serde_json::to_writer_pretty(&mut out, &rows).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        TableFormat::Tsv => {
            for row in &tasks {
                writeln!(out, "{}", row.columns.join("\t"))?;
            }
        }
        TableFormat::Table => {
            if !tasks.is_empty() {
                let color = color_enabled(app.global.no_color);
                let mut table = Table::new(
                    &[
                        "ID",
                        "TaskDefinition",
                        "LastStatus",
                        "DesiredStatus",
                        "CreatedAt",
                        "Group",
                        "LaunchType",
                        "Exec",
                    ],
                    color,
                );
                for row in &tasks {
                    let mut cols: Vec<(String, String)> =
                        row.columns.iter().cloned().map(cell).collect();
                    let status = cols[2].0.clone();
                    cols[2] = colored(
                        status.clone(),
                        match status.as_str() {
                            "RUNNING" => Color::Green,
                            "STOPPED" | "STOPPING" | "DEPROVISIONING" => Color::Red,
                            _ => Color::Yellow,
                        },
                        color,
                    );
                    let exec = cols[7].0.clone();
                    cols[7] = colored(
                        exec.clone(),
                        if exec == "ready" {
                            Color::Green
                        } else {
                            Color::Yellow
                        },
                        color,
                    );
                    table.row(cols);
                }
                table.write(&mut out)?;
            }
        }
    }
    out.flush()?;
    Ok(0)
}

/// What `tasks` keeps of a task.
struct Row {
    columns: Vec<String>,
    json: Option<Value>,
}

/// ID, TaskDefinition, LastStatus, DesiredStatus, CreatedAt, Group, LaunchType, Exec.
fn columns(task: &Task) -> Vec<String> {
    vec![
        task_id(task).to_string(),
        task.task_definition_arn()
            .map(task_definition_label)
            .unwrap_or("")
            .to_string(),
        task.last_status().unwrap_or("").to_string(),
        task.desired_status().unwrap_or("").to_string(),
        task.created_at().map(local_time).unwrap_or_default(),
        task.group().unwrap_or("").to_string(),
        task.launch_type()
            .map(|l| l.as_str().to_string())
            .unwrap_or_default(),
        exec_readiness(task),
    ]
}

fn task_json(task: &Task) -> Value {
    let containers: Vec<Value> = task
        .containers()
        .iter()
        .map(|c| {
            let agent = c
                .managed_agents()
                .iter()
                .find(|a| a.name().map(|n| n.as_str()) == Some("ExecuteCommandAgent"))
                .and_then(|a| a.last_status());
            json!({
                "name": c.name(),
                "runtimeId": c.runtime_id(),
                "lastStatus": c.last_status(),
                "execAgent": agent,
            })
        })
        .collect();
    json!({
        "id": task_id(task),
        "taskArn": task.task_arn(),
        "taskDefinition": task.task_definition_arn().map(task_definition_label),
        "lastStatus": task.last_status(),
        "desiredStatus": task.desired_status(),
        "createdAt": task.created_at().map(local_time),
        "startedAt": task.started_at().map(local_time),
        "stoppedAt": task.stopped_at().map(local_time),
        "stoppedReason": task.stopped_reason(),
        "group": task.group(),
        "launchType": task.launch_type().map(|l| l.as_str()),
        "platformVersion": task.platform_version(),
        "enableExecuteCommand": task.enable_execute_command,
        "exec": exec_readiness(task),
        "containers": containers,
    })
}

//! `ecsx render`: the rendered config, task definition or service definition
//! as JSON (camelCase), like `ecspresso render`; several targets print one
//! document each, in the order given.

use std::io::Write;

use serde_json::json;

use crate::app::App;
use crate::cli::{RenderArgs, RenderTarget};
use crate::error::{Error, Result};

pub fn run(app: &mut App, args: &RenderArgs) -> Result<i32> {
    let mut documents = Vec::with_capacity(args.targets.len());
    for target in &args.targets {
        documents.push(render(app, *target)?);
    }
    let calls = app.render_calls();
    if !calls.is_empty() {
        let list: Vec<String> = calls.iter().map(|(k, n)| format!("{k} {n}")).collect();
        crate::debug!(
            "render: {} AWS calls ({})",
            calls.values().sum::<u64>(),
            list.join(", ")
        );
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for value in &documents {
        serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from)?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(0)
}

fn render(app: &mut App, target: RenderTarget) -> Result<serde_json::Value> {
    Ok(match target {
        RenderTarget::Config => {
            let c = app.config()?;
            // As ecspresso: a config without `region:` shows AWS_REGION.
            let region = c
                .region
                .clone()
                .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()));
            let mut shown = json!({
                "region": region,
                "cluster": c.cluster,
                "service": c.service,
                "service_definition": c.service_definition,
                "task_definition": c.task_definition,
                "timeout": c.timeout.map(|t| humantime::format_duration(t).to_string()).unwrap_or_else(|| "0".into()),
                "plugins": c.plugins.iter().map(|p| json!({"name": p.name, "config": p.config, "func_prefix": p.func_prefix})).collect::<Vec<_>>(),
                "required_version": c.required_version,
            });
            // As ecspresso shows it, when the config sets it.
            if let Some(filter) = &c.filter_command {
                shown["filter_command"] = json!(filter);
            }
            shown
        }
        RenderTarget::TaskDefinition => app.task_definition()?,
        RenderTarget::ServiceDefinition => {
            app.service_definition()?.ok_or_else(|| Error::Config {
                path: app.config().map(|c| c.path.clone()).unwrap_or_default(),
                message:
                    "service_definition is not defined: add `service_definition:` with the path of your service definition file"
                        .into(),
            })?
        }
    })
}

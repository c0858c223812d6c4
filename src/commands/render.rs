//! `ecsx render`: the rendered config, task definition or service definition
//! as JSON (camelCase), like `ecspresso render`.

use std::io::Write;

use serde_json::json;

use crate::app::App;
use crate::cli::{RenderArgs, RenderTarget};
use crate::error::{Error, Result};

pub fn run(app: &mut App, args: &RenderArgs) -> Result<i32> {
    let value = match args.target {
        RenderTarget::Config => {
            let c = app.config()?;
            json!({
                "region": c.region,
                "cluster": c.cluster,
                "service": c.service,
                "service_definition": c.service_definition,
                "task_definition": c.task_definition,
                "timeout": c.timeout.map(|t| humantime::format_duration(t).to_string()).unwrap_or_else(|| "0".into()),
                "plugins": c.plugins.iter().map(|p| json!({"name": p.name, "config": p.config, "func_prefix": p.func_prefix})).collect::<Vec<_>>(),
                "required_version": c.required_version,
            })
        }
        RenderTarget::TaskDefinition => app.task_definition()?,
        RenderTarget::ServiceDefinition => {
            app.service_definition()?.ok_or_else(|| Error::Config {
                path: app.config().map(|c| c.path.clone()).unwrap_or_default(),
                message:
                    "no `service_definition:` set; add the path of your service definition file"
                        .into(),
            })?
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    serde_json::to_writer_pretty(&mut out, &value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    out.flush()?;
    Ok(0)
}

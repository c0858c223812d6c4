//! `ecsx verify`: every ECS Exec prerequisite and every resource the
//! rendered definitions name, as text, JSON or JUnit; exit 4 on any NG.

use std::io::Write;

use crate::app::App;
use crate::cli::{VerifyArgs, VerifyFormat};
use crate::error::{exit, Result};
use crate::output::color_enabled;
use crate::verify::{self, report, Summary};

pub async fn run(app: &mut App, args: &VerifyArgs) -> Result<i32> {
    let target = app.target()?;
    let service = app.service()?;
    let task_definition = app.task_definition()?;
    let service_definition = app.service_definition()?;
    let aws = app.aws().await?.clone();
    let input = verify::Input {
        target: target.clone(),
        service: service.clone(),
        task_definition: Some(task_definition),
        service_definition,
        task_id: args.task_id.clone(),
        container: args.container.clone(),
    };
    let results = crate::progress::while_waiting(
        format!(
            "checking exec prerequisites and resources of {}",
            target.cluster
        ),
        verify::run(&aws, &input),
    )
    .await?;
    let ctx = report::Context {
        cluster: target.cluster.clone(),
        service,
        region: aws.region.clone(),
        strict: args.strict,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.output {
        VerifyFormat::Text => {
            report::write_text(&mut out, &results, &ctx, color_enabled(app.global.no_color))?
        }
        VerifyFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report::to_json(&results, &ctx))
                .map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        VerifyFormat::Junit => report::write_junit(&mut out, &results, &ctx)?,
    }
    out.flush()?;
    Ok(if Summary::of(&results).failed(args.strict) {
        exit::VERIFY_NG
    } else {
        exit::OK
    })
}

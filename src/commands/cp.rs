//! `ecsx cp SRC DST`: one side local (or `-`), the other `[TASK]:PATH` in a
//! container; the copying itself is [`crate::exec::copy`].

use std::io::IsTerminal;

use crate::app::App;
use crate::cli::CpArgs;
use crate::error::{Error, Result};
use crate::exec::copy::{self, Endpoint, LocalDest, LocalSource, Options, Report};
use crate::exec::run;
use crate::exec::target;

fn usage(message: impl Into<String>) -> Error {
    Error::Usage(message.into())
}

pub async fn run(app: &mut App, args: &CpArgs) -> Result<i32> {
    let source = copy::parse_endpoint(&args.source);
    let destination = copy::parse_endpoint(&args.destination);
    let (task_part, upload) = match (&source, &destination) {
        (Endpoint::Remote { .. }, Endpoint::Remote { .. }) => {
            return Err(usage(
                "both SRC and DST are in a container; one side of ecsx cp must be local (a path or -)",
            ))
        }
        (Endpoint::Remote { task, .. }, _) => (task.clone(), false),
        (_, Endpoint::Remote { task, .. }) => (task.clone(), true),
        _ => {
            return Err(usage(
                "neither SRC nor DST is in a container; write the container side as TASK:/path or :/path",
            ))
        }
    };
    let task_id = match (task_part, &args.task_id) {
        (Some(t), Some(flag)) if &t != flag => {
            return Err(usage(format!(
                "the task is named twice ({t}: in the path, --task-id {flag}); keep one"
            )))
        }
        (Some(t), _) => Some(t),
        (None, flag) => flag.clone(),
    };
    let timeout = super::session_timeout(app, args.timeout.as_deref(), Error::Usage)?;
    let target = app.target()?;
    let aws = app.aws().await?.clone();
    // The picker may read stdin only when stdin is a terminal and not the data.
    let can_prompt = std::io::stdin().is_terminal() && source != Endpoint::Std;
    let chosen = target::choose_ready(
        &aws,
        &target,
        task_id.as_deref(),
        args.container.as_deref(),
        can_prompt,
    )
    .await?;
    if !args.skip_verify {
        target::verify_preflight(&aws, &target, &chosen).await?;
    }
    // As every progress display: a terminal, no --quiet / --debug / opt-out.
    let show = crate::progress::enabled();
    let progress = show.then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bytes}/{total_bytes} {bar:30} {binary_bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let options = Options {
        compress: !args.no_compress,
        progress: progress.clone(),
        deadline: run::deadline(timeout),
    };
    let started = std::time::Instant::now();
    let report = if upload {
        let Endpoint::Remote { path, .. } = &destination else {
            unreachable!("checked above")
        };
        let local = match &source {
            Endpoint::Std => LocalSource::Stdin,
            Endpoint::Local(p) => LocalSource::Path(p.clone()),
            Endpoint::Remote { .. } => unreachable!("checked above"),
        };
        copy::upload(&aws, &target, &chosen, local, path, options).await
    } else {
        let Endpoint::Remote { path, .. } = &source else {
            unreachable!("checked above")
        };
        let local = match &destination {
            Endpoint::Std => LocalDest::Stdout,
            Endpoint::Local(p) => LocalDest::Path(p.clone()),
            Endpoint::Remote { .. } => unreachable!("checked above"),
        };
        copy::download(&aws, &target, &chosen, path, local, options).await
    };
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    let report = report?;
    if !report.verified {
        eprintln!(
            "ecsx: the image in task {} has no sha256sum: the copy was not verified end to end",
            chosen.task_id
        );
    }
    if !app.global.quiet {
        eprintln!("ecsx: {}", summary(&report, started.elapsed()));
    }
    Ok(0)
}

fn summary(report: &Report, took: std::time::Duration) -> String {
    let secs = took.as_secs_f64().max(0.001);
    format!(
        "copied {} {} to {} in {:.1}s ({}/s{}{})",
        if report.folder { "folder," } else { "file," },
        human_bytes(report.bytes),
        report.destination,
        secs,
        human_bytes((report.bytes as f64 / secs) as u64),
        if report.compressed {
            ", gzip on the wire"
        } else {
            ""
        },
        if report.verified {
            ", sha256 verified"
        } else {
            ""
        },
    )
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

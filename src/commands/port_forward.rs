//! `ecsx port-forward` (and ecspresso v2's `ecsx exec --port-forward`):
//! flags into forwards, then the port library's calls, and each forward's
//! address on stdout (one line, or one JSON object, per forward in order).

use std::io::Write;

use crate::app::App;
use crate::cli::{ExecArgs, ForwardFlags, PortForwardArgs, TextFormat};
use crate::config::parse_timeout;
use crate::error::{Error, Result};
use crate::exec::target;
use crate::port::run::{self, Stopped};
use crate::port::session::Notice;
use crate::port::spec::{self, ForwardSpec};

fn usage(message: impl Into<String>) -> Error {
    Error::Usage(message.into())
}

/// The forwards the flags ask for: `--port` (with `--local-port`, `--host`)
/// first, then each `-L` in order.
pub fn forwards(flags: &ForwardFlags) -> Result<Vec<ForwardSpec>> {
    let mut out = Vec::new();
    match flags.port {
        Some(0) => return Err(usage("--port 0 is not a port; use 1-65535")),
        Some(port) => {
            if let Some(host) = &flags.host {
                spec::check_host(host).map_err(|e| usage(format!("--host: {e}")))?;
            }
            out.push(ForwardSpec {
                bind: None,
                local_port: flags.local_port.unwrap_or(0),
                host: flags.host.clone().filter(|h| h != "localhost"),
                port,
            });
        }
        None if flags.local_port.is_some() || flags.host.is_some() => {
            return Err(usage(
                "--local-port and --host go with --port N (the port to reach); or write the forward as -L LOCAL:HOST:REMOTE",
            ))
        }
        None => {}
    }
    for l in &flags.forwards {
        out.push(spec::parse_l(l).map_err(usage)?);
    }
    if out.is_empty() {
        return Err(usage(
            "nothing to forward: pass --port N [--local-port N] [--host H], or -L [BIND:]LOCAL:HOST:REMOTE (repeatable)",
        ));
    }
    Ok(out)
}

/// `exec --port-forward`: `Some(exit code)` when it was one; flags of a
/// forward without `--port-forward` are a usage error.
pub async fn from_exec(app: &mut App, args: &ExecArgs) -> Result<Option<i32>> {
    let f = &args.forward;
    let any_flag =
        f.local_port.is_some() || f.port.is_some() || f.host.is_some() || !f.forwards.is_empty();
    if !args.port_forward {
        if any_flag {
            return Err(usage(
                "--local-port, --port, --host and -L forward a port: add --port-forward (or use `ecsx port-forward`)",
            ));
        }
        return Ok(None);
    }
    if args.command.is_some()
        || !args.args.is_empty()
        || args.interactive
        || args.pipe.is_some()
        || args.input.is_some()
    {
        return Err(usage(
            "--port-forward forwards a port and runs no command: drop --command, --interactive, --pipe, --input and `-- CMD`",
        ));
    }
    let pf = PortForwardArgs {
        task_id: args.task_id.clone(),
        container: args.container.clone(),
        forward: args.forward.clone(),
        timeout: args.timeout.clone(),
        skip_verify: args.skip_verify,
        output: TextFormat::Text,
    };
    run(app, &pf).await.map(Some)
}

pub async fn run(app: &mut App, args: &PortForwardArgs) -> Result<i32> {
    let specs = forwards(&args.forward)?;
    // Only when asked: a forward is meant to stay up.
    let timeout = match &args.timeout {
        Some(text) => parse_timeout(text).map_err(|e| {
            usage(format!(
                "--timeout {e}; write it like 30m, 300s or 1h (0 for none)"
            ))
        })?,
        None => None,
    };
    let exposed: Vec<String> = specs
        .iter()
        .filter(|s| s.binds_beyond_loopback())
        .map(|s| {
            format!(
                "{} (to {})",
                s.bind.as_deref().unwrap_or_default(),
                s.remote_label()
            )
        })
        .collect();
    if !exposed.is_empty() {
        eprintln!(
            "ecsx: warning: listening beyond this machine on {}: anyone who can reach it can use the forward",
            exposed.join(", ")
        );
    }
    let listeners = run::listen_all(&specs).await?;
    let target = app.target()?;
    let aws = app.aws().await?.clone();
    let can_prompt = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let chosen = target::choose_ready(
        &aws,
        &target,
        args.task_id.as_deref(),
        args.container.as_deref(),
        can_prompt,
    )
    .await?;
    if !args.skip_verify {
        run::preflight(&aws, &target, &chosen, &specs).await?;
    }
    let signals = run::Signals::install()?;
    let forwards = run::start_all(&aws, &chosen, specs, listeners).await?;

    let mut stdout = std::io::stdout().lock();
    for f in &forwards {
        let local = f.local.first().map(|a| a.to_string()).unwrap_or_default();
        let line = match args.output {
            TextFormat::Text => local.clone(),
            TextFormat::Json => serde_json::json!({
                "local": local,
                "host": f.spec.host.as_deref().unwrap_or("localhost"),
                "port": f.spec.port,
                "task": chosen.task_id,
                "container": chosen.container,
                "session": f.session_id,
            })
            .to_string(),
        };
        writeln!(stdout, "{line}")?;
        eprintln!(
            "ecsx: {} in task {}, container {} ({} mode, session {})",
            run::describe(f),
            chosen.task_id,
            chosen.container,
            if f.mux { "mux" } else { "basic" },
            f.session_id
        );
    }
    stdout.flush()?;
    drop(stdout);

    let notify = |spec: &ForwardSpec, notice: Notice| {
        match notice {
        Notice::ConnectToPortError => eprintln!(
            "ecsx: the task could not connect to {} (ConnectToPortError): that connection was closed, the forward keeps listening",
            spec.remote_label()
        ),
    }
    };
    match run::serve_all(&aws, &target, &chosen, forwards, timeout, signals, notify).await? {
        Stopped::Signal => eprintln!("ecsx: stopped; the sessions were terminated"),
        Stopped::Timeout => eprintln!("ecsx: --timeout reached; the sessions were terminated"),
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_forwards_in_order() {
        let flags = ForwardFlags {
            local_port: Some(15432),
            port: Some(5432),
            host: Some("db.internal".into()),
            forwards: vec!["0:localhost:80".into(), "127.0.0.1:9000:cache:6379".into()],
        };
        let got = forwards(&flags).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(
            (got[0].local_port, got[0].host.as_deref(), got[0].port),
            (15432, Some("db.internal"), 5432)
        );
        assert_eq!((got[1].host.as_deref(), got[1].port), (None, 80));
        assert_eq!(got[2].bind.as_deref(), Some("127.0.0.1"));
    }

    #[test]
    fn what_makes_no_sense_is_a_usage_error() {
        let none = forwards(&ForwardFlags::default()).unwrap_err();
        assert!(none.to_string().contains("nothing to forward"), "{none}");
        assert_eq!(none.exit_code(), 2);
        let lone = forwards(&ForwardFlags {
            local_port: Some(1),
            ..Default::default()
        })
        .unwrap_err();
        assert!(lone.to_string().contains("--port N"), "{lone}");
        let bad_host = forwards(&ForwardFlags {
            port: Some(1),
            host: Some("a b".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(bad_host.to_string().contains("--host"), "{bad_host}");
        let bad_l = forwards(&ForwardFlags {
            forwards: vec!["80".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(bad_l.to_string().contains("-L"), "{bad_l}");
    }
}

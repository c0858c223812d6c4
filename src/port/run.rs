//! Many forwards in one process: their pre-flight, their sessions started
//! together, and serving them until Ctrl-C / SIGTERM, `--timeout`, the task
//! stopping, or a session going down.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::session::{listen, Forward, ForwardEnd, Notice, Notify};
use super::spec::ForwardSpec;
use crate::aws::Aws;
use crate::ecs::Target;
use crate::error::{Error, Result};
use crate::exec::target::{self, Chosen};

/// How long the sessions get to terminate at the end.
const STOP_TIMEOUT: Duration = Duration::from_secs(8);

/// Binds every forward's listeners, in order (a busy port fails before any
/// AWS call).
pub async fn listen_all(specs: &[ForwardSpec]) -> Result<Vec<Vec<TcpListener>>> {
    let mut all = Vec::with_capacity(specs.len());
    for spec in specs {
        let listeners = listen(spec)
            .await
            .map_err(|e| Error::Exec(format!("forward to {}: {e}", spec.remote_label())))?;
        all.push(listeners);
    }
    Ok(all)
}

/// The exec rows that concern the task (caller, task role, agent) and
/// `port.caller.start_session` for each document used; NG stops.
pub async fn preflight(
    aws: &Aws,
    target: &Target,
    chosen: &Chosen,
    specs: &[ForwardSpec],
) -> Result<()> {
    let mut documents: Vec<&'static str> = specs.iter().map(|s| s.document(0).0).collect();
    documents.sort_unstable();
    documents.dedup();
    let (mut results, port_rows) = tokio::join!(
        crate::verify::preflight(aws, target, &chosen.task, &chosen.container),
        futures::future::join_all(documents.iter().map(|d| crate::verify::port_preflight(
            aws,
            &chosen.task,
            d
        )))
    );
    results.extend(port_rows.into_iter().flatten());
    target::report_preflight(&results)
}

/// Starts every session together; on any failure the others are terminated.
pub async fn start_all(
    aws: &Aws,
    chosen: &Chosen,
    specs: Vec<ForwardSpec>,
    listeners: Vec<Vec<TcpListener>>,
) -> Result<Vec<Forward>> {
    let ssm_target = chosen.ssm_target();
    let started = futures::future::join_all(specs.into_iter().zip(listeners).map(|(spec, l)| {
        let ssm_target = ssm_target.clone();
        async move { super::start_session(aws, &ssm_target, spec, l, None).await }
    }))
    .await;
    let mut ok = Vec::new();
    let mut first_error = None;
    for result in started {
        match result {
            Ok(f) => ok.push(f),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        futures::future::join_all(ok.into_iter().map(Forward::terminate)).await;
        return Err(e);
    }
    Ok(ok)
}

/// SIGINT, SIGTERM and SIGHUP, caught from the moment this exists (make it
/// before printing anything a script may act on).
pub struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn install() -> Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn any(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
            _ = self.hup.recv() => {}
        }
    }
}

/// How serving ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Ctrl-C, SIGTERM or SIGHUP.
    Signal,
    /// `--timeout` passed.
    Timeout,
}

/// Serves every forward until a signal or `timeout` (then every session is
/// terminated: `Ok`), the task stops (an error with its stoppedReason), or
/// a session goes down (an error saying which).
pub async fn serve_all(
    aws: &Aws,
    target: &Target,
    chosen: &Chosen,
    forwards: Vec<Forward>,
    timeout: Option<Duration>,
    mut signals: Signals,
    notify: impl Fn(&ForwardSpec, Notice) + Send + Sync + Clone + 'static,
) -> Result<Stopped> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut running = tokio::task::JoinSet::new();
    for (index, forward) in forwards.into_iter().enumerate() {
        let spec = forward.spec.clone();
        let told = notify.clone();
        let on_notice: Notify = std::sync::Arc::new(move |n| told(&spec, n));
        let mut stop = stop_rx.clone();
        let label = describe(&forward);
        running.spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            (index, label, forward.run(stopped, on_notice).await)
        });
    }
    let watcher = target::watch_task(aws.clone(), target.clone(), chosen.task_id.clone());
    tokio::pin!(watcher);
    let expiry = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expiry);
    let id = &chosen.task_id;
    let outcome: Result<Stopped> = tokio::select! {
        _ = signals.any() => Ok(Stopped::Signal),
        _ = &mut expiry => Ok(Stopped::Timeout),
        reason = &mut watcher => Err(Error::Exec(format!("task {id} stopped: {reason}"))),
        Some(joined) = running.join_next() => {
            let why = match joined {
                Ok((_, label, Ok(ForwardEnd::Closed(output)))) => {
                    let text = output.map(|o| o.trim().to_string()).filter(|o| !o.is_empty());
                    format!("{label}: the service closed the session{}", text.map(|t| format!(" ({t})")).unwrap_or_default())
                }
                Ok((_, label, Ok(ForwardEnd::Stopped))) => format!("{label}: stopped"),
                Ok((_, label, Err(e))) => format!("{label}: {e}"),
                Err(e) => format!("a forward failed: {e}"),
            };
            // A session that goes down with its task: say why the task went.
            Err(Error::Exec(match target::stopped_reason(aws, target, id).await {
                Some(reason) => format!("task {id} stopped: {reason}"),
                None => why,
            }))
        }
    };
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(STOP_TIMEOUT, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    outcome
}

/// `127.0.0.1:15432 -> db.internal:5432`.
pub fn describe(forward: &Forward) -> String {
    let local = forward
        .local
        .first()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "?".into());
    format!("forward {local} -> {}", forward.spec.remote_label())
}

//! The sandbox: a local emulator of the AWS APIs ecsx uses, served on one
//! loopback HTTP listener, so that tests run the real binary and the real AWS
//! SDK against it and a newcomer can try ecsx without an AWS account. It is
//! faithful enough for the official `aws` CLI.
//!
//! Every service shares the listener (SDKs send every service to the one
//! endpoint URL); [`wire`] tells them apart by `X-Amz-Target` or the query
//! `Action`. Requests are accepted with any credentials; signatures are not
//! checked, and nothing of the credentials is logged or echoed.
//!
//! ECS Exec is served too: ExecuteCommand opens a session whose data channel
//! is a WebSocket (`/v1/data-channel/<session id>`) on a second listener of
//! the same address, served by a thread of its own (`serve`), and the task's
//! "container" is a local process in a pty (`agent`).
//!
//! Layout: [`world`] (the data), `worldfile` (the YAML world file), `wire`
//! (HTTP framing of the AWS protocols), `ecs`, `sts`, `kms`, `iam` and
//! `resources` (operations),
//! `agent` (ExecuteCommand, the data channel, SSM sessions, processes).

mod agent;
mod ecs;
mod iam;
mod kms;
mod resources;
mod sts;
mod wire;
pub mod world;
mod worldfile;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use axum::body::{Body, Bytes};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

pub use world::{DeriveInput, World, WorldError};

use wire::{Call, Protocol, ServiceId};

/// A running emulator's state: the world behind a lock, and call counters.
pub struct Sandbox {
    world: RwLock<World>,
    calls: AtomicU64,
    throttled: AtomicU64,
    by_operation: Mutex<BTreeMap<String, u64>>,
    /// State of the generator that picks the calls to throttle.
    dice: AtomicU64,
    /// ECS Exec sessions and their processes.
    agent: Arc<agent::Agent>,
}

/// What the sandbox has answered so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// AWS calls received (throttled ones included).
    pub calls: u64,
    /// Calls answered with a throttling error.
    pub throttled: u64,
    /// Calls per `service:Operation`, e.g. `ecs:ListTasks`.
    pub by_operation: BTreeMap<String, u64>,
}

impl Sandbox {
    /// Ends every exec session's processes and removes the temporary task
    /// folders (the end of the sandbox; idempotent).
    pub fn clean_up(&self) {
        self.agent.clean_up();
    }

    pub fn new(world: World) -> Arc<Sandbox> {
        Arc::new(Sandbox {
            world: RwLock::new(world),
            calls: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            by_operation: Mutex::new(BTreeMap::new()),
            dice: AtomicU64::new(0x5eed),
            agent: Arc::new(agent::Agent::new()),
        })
    }

    /// The working folder of a task's ECS Exec processes: `<root>/<task id>`,
    /// where root is the world's `exec.root` or a temporary folder of this
    /// sandbox (removed when the sandbox is dropped). Made when a process starts.
    pub fn task_dir(&self, task_id: &str) -> PathBuf {
        let knobs = self.world().exec;
        self.agent.task_dir(&knobs, task_id)
    }

    /// Stop a task as `ecs:StopTask` does (STOPPED, UserInitiated, `reason`)
    /// and end its ECS Exec processes. False when no task has that id.
    pub fn stop_task(&self, task_id: &str, reason: &str) -> bool {
        let found = self.update_world(|w| match w.tasks.iter_mut().find(|t| t.id == task_id) {
            Some(task) => {
                task.stop(reason, chrono::Utc::now());
                true
            }
            None => false,
        });
        if found {
            self.agent.stop_task(task_id);
        }
        found
    }

    /// ECS Exec sessions whose process or data channel is still alive.
    pub fn live_exec_sessions(&self) -> usize {
        self.agent.live_sessions()
    }

    /// A snapshot of the world.
    pub fn world(&self) -> World {
        self.world
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Change the world while serving (tests: a task stops, an agent comes up).
    pub fn update_world<R>(&self, change: impl FnOnce(&mut World) -> R) -> R {
        change(&mut self.world.write().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn stats(&self) -> Stats {
        Stats {
            calls: self.calls.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            by_operation: self
                .by_operation
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }

    fn count(&self, call: &Call) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        *self
            .by_operation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(call.key())
            .or_default() += 1;
    }

    /// True for a `rate` fraction of calls.
    fn roll_throttle(&self, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        let n = self.dice.fetch_add(1, Ordering::Relaxed);
        let x = world::splitmix64(n);
        // 53 random bits as a fraction in [0, 1).
        let fraction = (x >> 11) as f64 / (1u64 << 53) as f64;
        fraction < rate
    }

    /// S3 GetObject (path-style `/BUCKET/KEY`), counted as `s3:GetObject`.
    async fn get_object(&self, path: &str) -> Response {
        let latency = self
            .world
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        self.count(&Call {
            service: ServiceId::Other("s3".into()),
            operation: "GetObject".into(),
            protocol: Protocol::Query {
                namespace: String::new(),
            },
            params: Vec::new(),
        });
        let request_id = uuid::Uuid::new_v4().to_string();
        let world = self.world.read().unwrap_or_else(PoisonError::into_inner);
        resources::get_object(&world, path, &request_id)
    }

    /// Answer one call: sleep `latency`, maybe throttle, then run the operation.
    /// `host` is the Host the call came to (ExecuteCommand's stream URL uses it).
    async fn answer(&self, call: Call, body: Bytes, host: &str) -> Response {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (latency, rate) = {
            let world = self.world.read().unwrap_or_else(PoisonError::into_inner);
            (world.latency, world.throttle_rate)
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        self.count(&call);
        if self.roll_throttle(rate) {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            return wire::error(
                &call.protocol,
                &request_id,
                &wire::ApiError::throttling(&call.protocol),
            );
        }
        let json =
            |content_type: &str, result: Result<serde_json::Value, wire::ApiError>| match result {
                Ok(out) => wire::json_ok(content_type, &request_id, &out),
                Err(e) => wire::json_error(content_type, &request_id, &e),
            };
        if let (ServiceId::Ecs, Protocol::Json { content_type }) = (&call.service, &call.protocol) {
            if call.operation == "StopTask" {
                let stopped = {
                    let mut world = self.world.write().unwrap_or_else(PoisonError::into_inner);
                    ecs::stop_task(&mut world, &body)
                };
                return json(
                    content_type,
                    stopped.map(|(out, task_id)| {
                        self.agent.stop_task(&task_id);
                        out
                    }),
                );
            }
        }
        let world = self.world.read().unwrap_or_else(PoisonError::into_inner);
        match (&call.service, &call.protocol) {
            (ServiceId::Ecs, Protocol::Json { content_type })
                if call.operation == "ExecuteCommand" =>
            {
                json(
                    content_type,
                    self.agent.execute_command(&world, host, &body),
                )
            }
            (ServiceId::Ecs, Protocol::Json { content_type })
                if call.operation == "DescribeContainerInstances" =>
            {
                json(
                    content_type,
                    resources::describe_container_instances(&world, &body),
                )
            }
            (ServiceId::Ecs, Protocol::Json { content_type }) => {
                json(content_type, ecs::handle(&world, &call.operation, &body))
            }
            (ServiceId::Ssm, Protocol::Json { content_type })
                if call.operation == "GetParameters" || call.operation == "GetParameter" =>
            {
                json(
                    content_type,
                    resources::handle_json(&world, "AmazonSSM", &call.operation, &body),
                )
            }
            (ServiceId::Other(prefix), Protocol::Json { content_type })
                if [
                    resources::ECR_PREFIX,
                    resources::SECRETS_PREFIX,
                    resources::LOGS_PREFIX,
                ]
                .contains(&prefix.as_str()) =>
            {
                json(
                    content_type,
                    resources::handle_json(&world, prefix, &call.operation, &body),
                )
            }
            (ServiceId::Other(name), Protocol::Query { .. }) if name == "elasticloadbalancing" => {
                match resources::handle_elb(&world, &call.operation, &call.params) {
                    Ok(result) => wire::query_ok(
                        resources::ELB_NAMESPACE,
                        &call.operation,
                        &request_id,
                        &result,
                    ),
                    Err(e) => wire::query_error(resources::ELB_NAMESPACE, &request_id, &e),
                }
            }
            (ServiceId::Other(name), Protocol::Query { .. }) if name == "ec2" => {
                resources::handle_ec2(&world, &call.operation, &call.params, &request_id)
            }
            (ServiceId::Ssm, Protocol::Json { content_type })
                if call.operation == "StartSession" =>
            {
                json(content_type, self.agent.start_session(&world, host, &body))
            }
            (ServiceId::Ssm, Protocol::Json { content_type }) => {
                json(content_type, self.agent.ssm(host, &call.operation, &body))
            }
            (ServiceId::Kms, Protocol::Json { content_type }) => json(
                content_type,
                kms::handle(&world, &self.agent.secret, &call.operation, &body),
            ),
            (ServiceId::Sts, Protocol::Query { namespace }) => {
                match sts::handle(&world, &call.operation, &call.params) {
                    Ok(result) => wire::query_ok(namespace, &call.operation, &request_id, &result),
                    Err(e) => wire::query_error(namespace, &request_id, &e),
                }
            }
            (ServiceId::Other(name), Protocol::Query { namespace }) if name == "iam" => {
                match iam::handle(&world, &world.iam, &call.operation, &call.params) {
                    Ok(result) => wire::query_ok(namespace, &call.operation, &request_id, &result),
                    Err(e) => wire::query_error(namespace, &request_id, &e),
                }
            }
            (_, Protocol::Json { .. }) => wire::error(
                &call.protocol,
                &request_id,
                &wire::ApiError::unknown_operation(&call.service, &call.operation),
            ),
            (_, Protocol::Query { .. }) => wire::error(
                &call.protocol,
                &request_id,
                &wire::ApiError::invalid_action(&call.operation),
            ),
        }
    }
}

/// Largest request body read.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The sandbox's HTTP routes: every AWS call is a POST to any path; a
/// WebSocket upgrade on `/v1/data-channel/<session id>` is an ECS Exec data channel.
pub fn router(sandbox: Arc<Sandbox>) -> Router {
    Router::new().fallback(handle).with_state(sandbox)
}

async fn handle(State(sandbox): State<Arc<Sandbox>>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    if let Some(session_id) = agent::session_id_of(parts.uri.path()) {
        if parts.method == Method::GET {
            let session_id = session_id.to_string();
            return match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
                Ok(upgrade) => {
                    let agent = Arc::clone(&sandbox.agent);
                    // The client sends small acks: a small read buffer, as
                    // tungstenite zero-fills all of it before every read.
                    upgrade
                        .read_buffer_size(16 * 1024)
                        .on_upgrade(move |socket| agent.connect(session_id, socket))
                }
                Err(rejection) => rejection.into_response(),
            };
        }
    }
    if parts.method == Method::GET && parts.uri.path() == "/_sandbox/stats" {
        return stats_response(&sandbox);
    }
    let method = parts.method;
    let headers = parts.headers;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "127.0.0.1".to_string());
    let body: Bytes = match axum::body::to_bytes(Body::new(body), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response()
        }
    };
    if method == Method::GET && wire::signing_service(&headers).as_deref() == Some("s3") {
        return sandbox.get_object(parts.uri.path()).await;
    }
    respond(&sandbox, method, &headers, body, &host).await
}

/// `GET /_sandbox/stats`: the call counters and the exec session counts,
/// for tests and benchmarks that run the sandbox as a separate process.
fn stats_response(sandbox: &Sandbox) -> Response {
    let stats = sandbox.stats();
    let body = serde_json::json!({
        "calls": stats.calls,
        "throttled": stats.throttled,
        "byOperation": stats.by_operation,
        "liveExecSessions": sandbox.agent.live_sessions(),
        "peakExecSessions": sandbox.agent.peak_sessions(),
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn respond(
    sandbox: &Sandbox,
    method: Method,
    headers: &HeaderMap,
    body: Bytes,
    host: &str,
) -> Response {
    match wire::identify(headers, &body) {
        Some(call) if method == Method::POST => sandbox.answer(call, body, host).await,
        _ if method == Method::GET || method == Method::HEAD => (
            StatusCode::OK,
            "ecsx sandbox: a local emulator of AWS ECS, STS, SSM sessions and KMS.\n\
             Point the AWS SDK or CLI here with --endpoint-url.\n",
        )
            .into_response(),
        _ => {
            let call_id = uuid::Uuid::new_v4().to_string();
            let error = wire::ApiError::new(
                "UnknownOperationException",
                "No operation: send X-Amz-Target (awsJson) or Action (awsQuery).",
            );
            wire::json_error("application/x-amz-json-1.1", &call_id, &error)
        }
    }
}

/// Serve until `shutdown` resolves. Takes a bound listener so tests bind
/// `127.0.0.1:0`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sandbox: Arc<Sandbox>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let channels = DataChannels::start(&listener, Arc::clone(&sandbox))?;
    let served = axum::serve(listener, router(sandbox))
        .with_graceful_shutdown(shutdown)
        .await;
    // Upgraded data channels outlive the HTTP server: dropping `channels`
    // ends them and their processes.
    drop(channels);
    served
}

/// The data channels' own listener (same address, another port), served on
/// a thread of its own with a single-threaded runtime: a session is one
/// stream between a socket and a pty, and on one thread its hand-offs cost
/// no wake-ups across threads, while the API keeps every core for the
/// answers it builds. Dropping it ends the sessions and joins the thread.
struct DataChannels {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    agent: Arc<agent::Agent>,
}

impl DataChannels {
    fn start(api: &tokio::net::TcpListener, sandbox: Arc<Sandbox>) -> std::io::Result<Self> {
        let ip = api.local_addr()?.ip();
        let listener = std::net::TcpListener::bind((ip, 0))?;
        listener.set_nonblocking(true)?;
        let agent = Arc::clone(&sandbox.agent);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let port = listener.local_addr()?.port();
        let thread = std::thread::Builder::new()
            .name("sandbox-data-channels".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let served = axum::serve(listener, router(sandbox))
                        .with_graceful_shutdown(async move {
                            let _ = stopped.await;
                        })
                        .await;
                    if let Err(e) = served {
                        eprintln!("ecsx: sandbox data channels stopped: {e}");
                    }
                });
                // Dropping the runtime drops the sessions still going; the
                // agent's own drop kills their process groups and removes
                // the task folders.
            })?;
        agent.set_data_port(port);
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
            agent,
        })
    }
}

impl Drop for DataChannels {
    fn drop(&mut self) {
        self.agent.shutdown();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

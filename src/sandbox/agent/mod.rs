//! The agent side of ECS Exec: `ecs:ExecuteCommand` opens a session, the
//! data channel (a WebSocket on `/v1/data-channel/<session id>`) runs it as a
//! local process in a pty, and `ssm:TerminateSession` / `ssm:ResumeSession`
//! end or re-key it. Tasks are local processes: each task has a working
//! folder under the sandbox's exec root.
//!
//! A session starts nothing until a WebSocket presents its current token in
//! the opening text frame; then one runner task ([`session`]) owns the
//! process and every piece of protocol state for the session's life, and
//! later connections (after ResumeSession) attach to that same runner.
//!
//! Layout: this file (sessions, ExecuteCommand, SSM, connecting), `session`
//! (the data channel engine), `pty` (the process), `faults` (fault knobs).

mod faults;
mod port;
mod pty;
mod session;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use axum::extract::ws::{Message as WsMessage, WebSocket};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::kms::{self, Secret};
use super::wire::{json_input, ApiError, ServiceId};
use super::world::{AgentStatus, ExecKnobs, Task, TaskStatus, World};
use crate::protocol::payloads::OpenDataChannelInput;

pub(crate) use faults::DEFAULT_SEED;

/// The path prefix of data-channel WebSockets.
pub(crate) const DATA_CHANNEL_PATH: &str = "/v1/data-channel/";
/// How long a new WebSocket may take to send its opening frame.
const OPEN_FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// What ECS answers when exec is off, the agent is not running, or the task is not running.
const EXEC_NOT_ENABLED: &str = "The execute command failed because execute command was not enabled when the task was run or the execute command agent isn't running. Wait and try the command again or run a new task with execute command enabled and try again.";

/// Why a runner must stop early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// ssm:TerminateSession: kill, say `channel_closed`, close.
    Terminate,
    /// ecs:StopTask: the task (and its agent) are gone; the socket just drops.
    TaskStopped,
    /// The sandbox is shutting down.
    Shutdown,
}

/// What a session runs, fixed at ExecuteCommand.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub command: String,
    /// The whole environment of the process.
    pub env: Vec<(String, String)>,
    /// The task's working folder (made when the process starts).
    pub cwd: PathBuf,
    /// The KMS key ARN when the cluster asks for encrypted sessions.
    pub kms_key_arn: Option<String>,
    pub knobs: ExecKnobs,
    pub seed: u64,
    /// Position of the session among the sandbox's sessions (seeds its faults).
    pub ordinal: u64,
    /// A port session (ssm:StartSession) instead of a command.
    pub port: Option<PortSpec>,
}

/// What a port session reaches, fixed at StartSession.
#[derive(Clone, Debug)]
pub(crate) struct PortSpec {
    pub dest: port::Dest,
    /// The document's `properties`, parameters filled in (the handshake's
    /// `Properties`).
    pub properties: Value,
}

/// One ECS Exec session.
#[derive(Debug)]
pub(crate) struct Slot {
    pub id: String,
    pub task_id: String,
    /// `ecs:<cluster>_<task id>_<runtime id>`, the KMS encryption context's target.
    pub target: String,
    pub spec: Spec,
    state: Mutex<SlotState>,
}

#[derive(Debug)]
struct SlotState {
    token: String,
    /// The session is over: no token works, ResumeSession gives none.
    ended: bool,
    runner: Option<RunnerHandle>,
    /// Process group of the running command (0: none yet), so that a sandbox
    /// being dropped can end it at once.
    pgid: i32,
}

#[derive(Debug, Clone)]
struct RunnerHandle {
    attach: mpsc::Sender<WebSocket>,
    stop: mpsc::Sender<Stop>,
}

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called by the runner as it ends.
    pub(crate) fn mark_ended(&self) {
        let mut st = self.lock();
        st.ended = true;
        st.runner = None;
        st.pgid = 0;
    }

    /// Called by the runner once the command runs.
    pub(crate) fn set_pgid(&self, pgid: i32) {
        self.lock().pgid = pgid;
    }
}

/// Every session, and where their processes run.
#[derive(Debug)]
pub(crate) struct Agent {
    sessions: Mutex<HashMap<String, Arc<Slot>>>,
    /// The temporary exec root made on first use (when the world names none).
    temp_root: Mutex<Option<PathBuf>>,
    refused: AtomicU32,
    ordinal: AtomicU64,
    pub(crate) secret: Secret,
    /// The port of the data-channel listener, when it has its own (see
    /// `sandbox::serve`); else stream URLs point at the API's.
    data_port: OnceLock<u16>,
    /// The most sessions live at once so far.
    peak: AtomicUsize,
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.clean_up();
    }
}

fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n.div_ceil(2)];
    kms::random_fill(&mut bytes);
    let mut s: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    s.truncate(n);
    s
}

fn random_b64(n: usize, url_safe: bool) -> String {
    let mut bytes = vec![0u8; n];
    kms::random_fill(&mut bytes);
    if url_safe {
        URL_SAFE_NO_PAD.encode(bytes)
    } else {
        STANDARD.encode(bytes)
    }
}

/// Constant-time equality of two tokens (their lengths are not secret).
fn same_token(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

impl Agent {
    pub(crate) fn new() -> Agent {
        Agent {
            sessions: Mutex::new(HashMap::new()),
            temp_root: Mutex::new(None),
            refused: AtomicU32::new(0),
            ordinal: AtomicU64::new(0),
            secret: Secret::random(),
            data_port: OnceLock::new(),
            peak: AtomicUsize::new(0),
        }
    }

    /// The most ECS Exec sessions that were live at once.
    pub(crate) fn peak_sessions(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Ends every process and removes the temporary task folders: for the
    /// end of the sandbox, when the runners may never run again (the runtime
    /// is going away). Idempotent.
    pub(crate) fn clean_up(&self) {
        self.shutdown();
        for slot in self.all() {
            pty::kill_group(slot.lock().pgid, libc::SIGKILL);
        }
        let root = self
            .temp_root
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(root) = root {
            let _ = std::fs::remove_dir_all(root);
        }
    }

    /// Stream URLs point at `port` from now on.
    pub(crate) fn set_data_port(&self, port: u16) {
        let _ = self.data_port.set(port);
    }

    /// Where a session's data channel is: the host the API call came to,
    /// on the data-channel listener's port when there is one.
    fn stream_url(&self, host: &str, session_id: &str) -> String {
        match self.data_port.get() {
            Some(&port) => stream_url(&with_port(host, port), session_id),
            None => stream_url(host, session_id),
        }
    }

    fn all(&self) -> Vec<Arc<Slot>> {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    fn get(&self, id: &str) -> Option<Arc<Slot>> {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// The folder holding one working folder per task.
    pub(crate) fn root(&self, knobs: &ExecKnobs) -> PathBuf {
        if let Some(root) = &knobs.root {
            return root.clone();
        }
        let mut temp = self
            .temp_root
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        temp.get_or_insert_with(|| {
            std::env::temp_dir().join(format!(
                "ecsx-sandbox-{}-{}",
                std::process::id(),
                random_hex(8)
            ))
        })
        .clone()
    }

    /// The working folder of a task's processes.
    pub(crate) fn task_dir(&self, knobs: &ExecKnobs, task_id: &str) -> PathBuf {
        self.root(knobs).join(task_id)
    }

    /// Stop every running process of a task (StopTask).
    pub(crate) fn stop_task(&self, task_id: &str) {
        for slot in self.all().into_iter().filter(|s| s.task_id == task_id) {
            slot.request_stop(Stop::TaskStopped);
        }
    }

    /// Stop everything (the sandbox is shutting down).
    pub(crate) fn shutdown(&self) {
        for slot in self.all() {
            slot.request_stop(Stop::Shutdown);
        }
    }

    /// Sessions whose runner is still going.
    pub(crate) fn live_sessions(&self) -> usize {
        self.all()
            .iter()
            .filter(|s| s.lock().runner.is_some())
            .count()
    }

    /// `ecs:ExecuteCommand`. `host` is the Host the request came to: the stream
    /// URL points back at it.
    pub(crate) fn execute_command(
        &self,
        world: &World,
        host: &str,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        let input: ExecuteCommandInput = json_input(body)?;
        let task_ref = input.task.as_deref().unwrap_or("");
        if task_ref.is_empty() {
            return Err(ApiError::invalid_parameter("Task cannot be empty."));
        }
        let command = input.command.clone().unwrap_or_default();
        if command.trim().is_empty() {
            return Err(ApiError::invalid_parameter("Command cannot be empty."));
        }
        if input.interactive != Some(true) {
            return Err(ApiError::invalid_parameter(
                "Interactive is the only mode supported currently.",
            ));
        }
        let cluster = super::ecs::resolve_cluster(world, input.cluster.as_deref())?;
        let (arn_cluster, task_id) = super::ecs::task_ref(task_ref);
        let not_enabled = || ApiError::invalid_parameter(EXEC_NOT_ENABLED);
        let task = world
            .tasks
            .iter()
            .find(|t| t.cluster == cluster.name && t.id == task_id)
            .filter(|_| arn_cluster.is_none_or(|c| c == cluster.name))
            .ok_or_else(not_enabled)?;
        if task.last_status != TaskStatus::Running
            || task.desired_status != TaskStatus::Running
            || !task.enable_execute_command
        {
            return Err(not_enabled());
        }
        let container = match input.container.as_deref().filter(|c| !c.is_empty()) {
            Some(name) => task
                .containers
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| {
                    ApiError::invalid_parameter(format!(
                        "The container {name} does not exist in the task."
                    ))
                })?,
            None => match task.containers.as_slice() {
                [only] => only,
                [] => return Err(not_enabled()),
                _ => {
                    return Err(ApiError::invalid_parameter(
                        "The task has more than one container: specify the container to run the command in.",
                    ))
                }
            },
        };
        let agent_running = container
            .exec_agent
            .as_ref()
            .is_some_and(|a| a.last_status == AgentStatus::Running);
        if container.last_status != TaskStatus::Running || !agent_running {
            return Err(not_enabled());
        }
        if self.refused.load(Ordering::Relaxed) < world.exec.target_not_connected {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError::new(
                "TargetNotConnectedException",
                "The execute command failed due to an internal error. Try again later.",
            ));
        }
        let kms_key_arn = match cluster
            .execute_command_configuration
            .as_ref()
            .and_then(|x| x.kms_key_id.as_deref())
        {
            Some(reference) => Some(
                kms::find_key(world, reference)
                    .map(|k| k.arn)
                    .ok_or_else(|| {
                        ApiError::invalid_parameter(format!(
                            "The KMS key {reference} of the cluster's execute command configuration was not found."
                        ))
                    })?,
            ),
            None => None,
        };

        let ordinal = self.ordinal.fetch_add(1, Ordering::Relaxed);
        let session_id = format!("ecs-execute-command-{}", random_hex(17));
        let runtime_id = container.runtime_id.clone().unwrap_or_default();
        let target = format!("ecs:{}_{}_{}", cluster.name, task.id, runtime_id);
        let spec = Spec {
            command,
            env: environment(world, task, &container.name, container.exec_path.as_deref()),
            cwd: self.task_dir(&world.exec, &task.id),
            kms_key_arn,
            knobs: world.exec.clone(),
            seed: world.seed.unwrap_or(DEFAULT_SEED),
            ordinal,
            port: None,
        };
        let token = self.add_session(&session_id, &task.id, target, spec);
        Ok(json!({
            "clusterArn": world.cluster_arn(&cluster.name),
            "containerArn": world.container_arn(&cluster.name, &task.id, &container.container_id),
            "containerName": container.name,
            "interactive": true,
            "session": {
                "sessionId": session_id,
                "streamUrl": self.stream_url(host, &session_id),
                "tokenValue": token,
            },
            "taskArn": world.task_arn(&cluster.name, &task.id),
        }))
    }

    /// Registers a session that starts when its socket presents the token;
    /// returns the token.
    fn add_session(&self, session_id: &str, task_id: &str, target: String, spec: Spec) -> String {
        let token = random_b64(192, false);
        let slot = Arc::new(Slot {
            id: session_id.to_string(),
            task_id: task_id.to_string(),
            target,
            spec,
            state: Mutex::new(SlotState {
                token: token.clone(),
                ended: false,
                runner: None,
                pgid: 0,
            }),
        });
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(session_id.to_string(), slot);
        token
    }

    /// `ssm:StartSession` for an ECS target (`ecs:<cluster>_<task id>_<runtime
    /// id>`) with one of the two port-forwarding documents.
    pub(crate) fn start_session(
        &self,
        world: &World,
        host: &str,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        let input: StartSessionInput = json_input(body)?;
        let target = input.target.unwrap_or_default();
        if target.is_empty() {
            return Err(ApiError::new(
                "ValidationException",
                "1 validation error detected: Value null at 'target' failed to satisfy constraint: Member must not be null",
            ));
        }
        let document = input
            .document_name
            .unwrap_or_else(|| "SSM-SessionManagerRunShell".to_string());
        let not_connected =
            || ApiError::new("TargetNotConnected", format!("{target} is not connected."));
        // The task and container whose target this is (a cluster name may
        // hold underscores, so match whole targets).
        let (task, container) = world
            .tasks
            .iter()
            .flat_map(|t| t.containers.iter().map(move |c| (t, c)))
            .find(|(t, c)| {
                c.runtime_id
                    .as_deref()
                    .is_some_and(|r| target == format!("ecs:{}_{}_{}", t.cluster, t.id, r))
            })
            .ok_or_else(not_connected)?;
        let agent_running = container
            .exec_agent
            .as_ref()
            .is_some_and(|a| a.last_status == AgentStatus::Running);
        if task.last_status != TaskStatus::Running
            || task.desired_status != TaskStatus::Running
            || !task.enable_execute_command
            || container.last_status != TaskStatus::Running
            || !agent_running
        {
            return Err(not_connected());
        }
        let remote = match document.as_str() {
            PORT_DOCUMENT => false,
            REMOTE_HOST_DOCUMENT => true,
            other => {
                return Err(ApiError::new(
                    "InvalidDocument",
                    format!("Document {other} is not a port-forwarding document this sandbox runs (AWS-StartPortForwardingSession, AWS-StartPortForwardingSessionToRemoteHost)."),
                ))
            }
        };
        let params = port_parameters(input.parameters.unwrap_or_default(), remote)?;
        if self.refused.load(Ordering::Relaxed) < world.exec.target_not_connected {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(not_connected());
        }

        let ordinal = self.ordinal.fetch_add(1, Ordering::Relaxed);
        let session_id = format!("{}-{}", session_owner(world), random_hex(17));
        let mut properties = serde_json::Map::new();
        if let Some(h) = &params.host {
            properties.insert("host".into(), json!(h));
        }
        properties.insert("localPortNumber".into(), json!(params.local_port));
        properties.insert("portNumber".into(), json!(params.port.to_string()));
        properties.insert("type".into(), json!("LocalPortForwarding"));
        let spec = Spec {
            command: String::new(),
            env: Vec::new(),
            cwd: self.task_dir(&world.exec, &task.id),
            kms_key_arn: None,
            knobs: world.exec.clone(),
            seed: world.seed.unwrap_or(DEFAULT_SEED),
            ordinal,
            port: Some(PortSpec {
                dest: port::Dest {
                    host: params.host.unwrap_or_else(|| "localhost".to_string()),
                    port: params.port,
                },
                properties: Value::Object(properties),
            }),
        };
        let token = self.add_session(&session_id, &task.id, target, spec);
        Ok(json!({
            "SessionId": session_id,
            "TokenValue": token,
            "StreamUrl": self.stream_url(host, &session_id),
        }))
    }

    /// One SSM operation.
    pub(crate) fn ssm(&self, host: &str, operation: &str, body: &[u8]) -> Result<Value, ApiError> {
        match operation {
            "TerminateSession" => {
                let input: SessionInput = json_input(body)?;
                let slot = self.known(&input.session_id)?;
                slot.request_stop(Stop::Terminate);
                Ok(json!({"SessionId": slot.id}))
            }
            "ResumeSession" => {
                let input: SessionInput = json_input(body)?;
                let slot = self.known(&input.session_id)?;
                let mut st = slot.lock();
                if st.ended {
                    return Ok(json!({"SessionId": slot.id}));
                }
                st.token = random_b64(192, false);
                Ok(json!({
                    "SessionId": slot.id,
                    "TokenValue": st.token,
                    "StreamUrl": self.stream_url(host, &slot.id),
                }))
            }
            other => Err(ApiError::unknown_operation(&ServiceId::Ssm, other)),
        }
    }

    fn known(&self, session_id: &str) -> Result<Arc<Slot>, ApiError> {
        if session_id.is_empty() {
            return Err(ApiError::new(
                "ValidationException",
                "1 validation error detected: Value null at 'sessionId' failed to satisfy constraint: Member must not be null",
            ));
        }
        self.get(session_id).ok_or_else(|| {
            ApiError::new(
                "DoesNotExistException",
                format!("Session {session_id} does not exist."),
            )
        })
    }

    /// A WebSocket on `/v1/data-channel/<session_id>`: authenticate its
    /// opening frame, then start the session or attach to its runner.
    pub(crate) async fn connect(self: Arc<Self>, session_id: String, mut socket: WebSocket) {
        let token = match tokio::time::timeout(OPEN_FRAME_TIMEOUT, opening_token(&mut socket)).await
        {
            Ok(Some(token)) => token,
            _ => return refuse(socket).await,
        };
        let Some(slot) = self.get(&session_id) else {
            return refuse(socket).await;
        };
        // Decide under the lock, act after it (no lock across an await).
        let attach_to = {
            let mut st = slot.lock();
            if st.ended || !same_token(&token, &st.token) {
                None
            } else if let Some(runner) = &st.runner {
                Some(runner.attach.clone())
            } else {
                let (attach_tx, attach_rx) = mpsc::channel(2);
                let (stop_tx, stop_rx) = mpsc::channel(4);
                st.runner = Some(RunnerHandle {
                    attach: attach_tx,
                    stop: stop_tx,
                });
                drop(st);
                self.peak.fetch_max(self.live_sessions(), Ordering::Relaxed);
                let runner = session::Runner::new(
                    Arc::clone(&slot),
                    self.secret.clone(),
                    socket,
                    attach_rx,
                    stop_rx,
                );
                tokio::spawn(runner.run());
                return;
            }
        };
        match attach_to {
            // Should the runner end meanwhile, the socket is dropped with the message.
            Some(attach) => {
                let _ = attach.send(socket).await;
            }
            None => refuse(socket).await,
        }
    }
}

impl Slot {
    fn request_stop(&self, stop: Stop) {
        let mut st = self.lock();
        match &st.runner {
            Some(runner) => {
                let _ = runner.stop.try_send(stop);
            }
            // Never started: nothing runs; the session is simply over.
            None => st.ended = true,
        }
    }
}

/// The token of the opening text frame, if the first frame is one.
async fn opening_token(socket: &mut WebSocket) -> Option<String> {
    loop {
        match socket.recv().await? {
            Ok(WsMessage::Text(text)) => {
                let open: OpenDataChannelInput = serde_json::from_str(text.as_str()).ok()?;
                return Some(open.token_value);
            }
            Ok(WsMessage::Ping(_) | WsMessage::Pong(_)) => continue,
            _ => return None,
        }
    }
}

/// Close an unauthenticated socket: nothing runs.
async fn refuse(mut socket: WebSocket) {
    let frame = axum::extract::ws::CloseFrame {
        code: axum::extract::ws::close_code::POLICY,
        reason: "authentication failed".into(),
    };
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        socket.send(WsMessage::Close(Some(frame))),
    )
    .await;
}

/// `host` (a Host header: `name`, `name:port`, `[v6]:port`) with `port`.
fn with_port(host: &str, port: u16) -> String {
    let name = match host.rsplit_once(':') {
        Some((name, digits))
            if !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && (!name.contains(':') || name.ends_with(']')) =>
        {
            name
        }
        _ => host,
    };
    format!("{name}:{port}")
}

fn stream_url(host: &str, session_id: &str) -> String {
    format!(
        "ws://{host}{DATA_CHANNEL_PATH}{session_id}?role=publish_subscribe&cell-number={}",
        random_b64(24, true)
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecuteCommandInput {
    cluster: Option<String>,
    container: Option<String>,
    command: Option<String>,
    interactive: Option<bool>,
    task: Option<String>,
}

/// The two documents a port session runs.
pub(crate) const PORT_DOCUMENT: &str = "AWS-StartPortForwardingSession";
pub(crate) const REMOTE_HOST_DOCUMENT: &str = "AWS-StartPortForwardingSessionToRemoteHost";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StartSessionInput {
    target: Option<String>,
    document_name: Option<String>,
    /// Every value is a list of strings.
    parameters: Option<HashMap<String, Vec<String>>>,
}

/// A port document's parameters, checked as SSM checks them.
#[derive(Debug, PartialEq)]
struct PortParameters {
    host: Option<String>,
    port: u16,
    /// As given (the client listens on it; "0" for any).
    local_port: String,
}

fn port_parameters(
    mut given: HashMap<String, Vec<String>>,
    remote: bool,
) -> Result<PortParameters, ApiError> {
    let invalid = |m: String| ApiError::new("ValidationException", m);
    let allowed: &[&str] = if remote {
        &["host", "portNumber", "localPortNumber"]
    } else {
        &["portNumber", "localPortNumber"]
    };
    if let Some(unknown) = given.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(invalid(format!(
            "Parameter \"{unknown}\" is not defined in the document."
        )));
    }
    let mut one = |name: &str| -> Result<Option<String>, ApiError> {
        match given.remove(name) {
            None => Ok(None),
            Some(values) => match values.as_slice() {
                [v] => Ok(Some(v.clone())),
                _ => Err(invalid(format!(
                    "Parameter \"{name}\" takes exactly one value."
                ))),
            },
        }
    };
    let port_text = one("portNumber")?.unwrap_or_else(|| "80".to_string());
    let port = port_text
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0 && !port_text.starts_with('0'))
        .ok_or_else(|| {
            invalid(format!(
                "Parameter \"portNumber\" \"{port_text}\" fails to match the pattern: a port 1-65535."
            ))
        })?;
    let local_port = one("localPortNumber")?.unwrap_or_else(|| "0".to_string());
    if local_port.parse::<u16>().is_err() || (local_port.len() > 1 && local_port.starts_with('0')) {
        return Err(invalid(format!(
            "Parameter \"localPortNumber\" \"{local_port}\" fails to match the pattern: a port 0-65535."
        )));
    }
    let host = one("host")?;
    if remote {
        match &host {
            None => {
                return Err(invalid(
                    "Missing required parameter \"host\" for document AWS-StartPortForwardingSessionToRemoteHost.".to_string(),
                ))
            }
            Some(h)
                if h.is_empty()
                    || h.len() > 253
                    || !h
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".:_-".contains(&b)) =>
            {
                return Err(invalid(format!(
                    "Parameter \"host\" \"{h}\" fails to match the pattern ^[a-zA-Z0-9.:_-]{{1,253}}$."
                )))
            }
            Some(_) => {}
        }
    }
    Ok(PortParameters {
        host,
        port,
        local_port,
    })
}

/// The first part of a StartSession id: the caller's name (`dev` for
/// `arn:aws:iam::1:user/dev`).
fn session_owner(world: &World) -> String {
    let arn = world.caller_arn();
    let name = arn.rsplit(['/', ':']).next().unwrap_or("");
    let name: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    if name.is_empty() {
        "session".to_string()
    } else {
        name
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SessionInput {
    #[serde(default)]
    session_id: String,
}

/// The usual PATH of a Linux container image.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment of a command run in `container`: defaults like a Fargate
/// container's and the agent's (TERM, LANG), then the task definition's
/// `environment`, then the task's container overrides, then the world's PATH.
fn environment(
    world: &World,
    task: &Task,
    container: &str,
    exec_path: Option<&str>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: &str| match env.iter_mut().find(|(name, _)| name == k) {
        Some(slot) => slot.1 = v.to_string(),
        None => env.push((k.to_string(), v.to_string())),
    };
    set("PATH", DEFAULT_PATH);
    set(
        "HOSTNAME",
        &format!("ip-10-0-0-1.{}.compute.internal", world.region),
    );
    set("AWS_REGION", &world.region);
    set("AWS_DEFAULT_REGION", &world.region);
    set(
        "AWS_EXECUTION_ENV",
        if task.launch_type == super::world::LaunchType::Fargate {
            "AWS_ECS_FARGATE"
        } else {
            "AWS_ECS_EC2"
        },
    );
    set("ECS_CONTAINER_METADATA_URI_V4", "http://169.254.170.2/v4");
    set("TERM", "xterm-256color");
    set("LANG", "C.UTF-8");
    let definition = world
        .find_task_definition(&task.task_definition)
        .and_then(|td| td.body.get("containerDefinitions"))
        .and_then(Value::as_array)
        .and_then(|defs| {
            defs.iter()
                .find(|d| d.get("name").and_then(Value::as_str) == Some(container))
        });
    let overrides = task
        .overrides
        .container_overrides
        .iter()
        .find(|o| o.get("name").and_then(Value::as_str) == Some(container));
    for source in [definition, overrides].into_iter().flatten() {
        for pair in source
            .get("environment")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(k), Some(v)) = (
                pair.get("name").and_then(Value::as_str),
                pair.get("value").and_then(Value::as_str),
            ) {
                set(k, v);
            }
        }
    }
    if let Some(path) = exec_path {
        set("PATH", path);
    }
    env
}

/// HOME for a task: its working folder, so dotfiles stay in the sandbox.
pub(crate) fn with_home(mut env: Vec<(String, String)>, cwd: &Path) -> Vec<(String, String)> {
    if !env.iter().any(|(k, _)| k == "HOME") {
        env.push(("HOME".to_string(), cwd.display().to_string()));
    }
    env
}

/// The real agent's pacing (1 KiB, then 1 ms) as a schedule: the time the
/// next piece may go, one `gap` after the previous piece's slot. A sender
/// that is a little late (tokio's timer rounds up to the next millisecond)
/// catches up, so the average rate is one piece per `gap`, as the agent's
/// sleep gives; one idle for longer starts afresh from `now`.
pub(crate) fn next_paced_slot(
    previous: Option<tokio::time::Instant>,
    now: tokio::time::Instant,
    gap: std::time::Duration,
) -> tokio::time::Instant {
    let base = previous
        .filter(|&slot| now.saturating_duration_since(slot) < 2 * gap)
        .unwrap_or(now);
    base + gap
}

/// The task a data-channel path names: `/v1/data-channel/<id>`.
pub(crate) fn session_id_of(path: &str) -> Option<&str> {
    let id = path.strip_prefix(DATA_CHANNEL_PATH)?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

#[cfg(test)]
mod port_tests;
#[cfg(test)]
mod tests;

//! End to end: the sandbox served on 127.0.0.1:0, sessions opened with the
//! AWS SDK's ExecuteCommand and driven by the real client
//! (`crate::exec::channel::Channel`), commands run as local processes.
//! Every test is bounded by a timeout.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::region::Region;
use aws_types::SdkConfig;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::exec::channel::{Channel, ChannelConfig, ChannelError, Event, SessionInfo};
use crate::sandbox::world::{DeriveInput, World};
use crate::sandbox::{serve, Sandbox};

pub(super) const CLUSTER: &str = "app-cluster";

/// Runs `f`, failing the test instead of hanging.
pub(super) async fn bounded<F: Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("test exceeded its time bound")
}

/// The world of a config: cluster app-cluster, service web with containers
/// app (FOO=bar in its environment) and sidecar; `yaml` goes on top.
pub(super) fn world(yaml: &str) -> World {
    let base = World::derive(&DeriveInput {
        region: "us-east-1".into(),
        cluster: CLUSTER.into(),
        service: Some("web".into()),
        task_definition: json!({
            "family": "web",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "containerDefinitions": [
                {"name": "app", "image": "web:latest", "essential": true,
                 "environment": [{"name": "FOO", "value": "bar"}]},
                {"name": "sidecar", "image": "nginx:1.27", "essential": false}
            ]
        }),
        service_definition: None,
    });
    World::from_yaml_str(yaml, Path::new("test-world.yml"), Some(base)).expect("world")
}

pub(super) struct Env {
    pub(super) sandbox: Arc<Sandbox>,
    pub(super) sdk: SdkConfig,
    pub(super) task: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub(super) async fn start(world: World) -> Env {
    let task = world.tasks[0].id.clone();
    let sandbox = Sandbox::new(world);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = Arc::clone(&sandbox);
    tokio::spawn(async move {
        let _ = serve(listener, served, async move {
            let _ = stopped.await;
        })
        .await;
    });
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("http://{addr}"))
        .credentials_provider(Credentials::new(
            "AKIDSANDBOXTEST",
            "sandbox-test-secret",
            None,
            None,
            "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    Env {
        sandbox,
        sdk,
        task,
        _stop: stop,
    }
}

impl Env {
    pub(super) fn ecs(&self) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&self.sdk)
    }

    /// `ecs:<cluster>_<task>_<runtime id>` of a container.
    pub(super) fn target(&self, task: &str, container: &str) -> String {
        let task = task.rsplit('/').next().unwrap_or(task);
        let world = self.sandbox.world();
        let t = world.tasks.iter().find(|t| t.id == task).expect("task");
        let c = t
            .containers
            .iter()
            .find(|c| c.name == container)
            .expect("container");
        format!(
            "ecs:{CLUSTER}_{task}_{}",
            c.runtime_id.clone().unwrap_or_default()
        )
    }

    async fn execute(&self, command: &str) -> SessionInfo {
        self.execute_in(&self.task.clone(), "app", command)
            .await
            .unwrap_or_else(|e| panic!("ExecuteCommand: {e:?}"))
    }

    async fn execute_in(
        &self,
        task: &str,
        container: &str,
        command: &str,
    ) -> Result<SessionInfo, String> {
        let out = self
            .ecs()
            .execute_command()
            .cluster(CLUSTER)
            .task(task)
            .container(container)
            .command(command)
            .interactive(true)
            .send()
            .await
            .map_err(|e| e.code().unwrap_or("?").to_string())?;
        let session = out.session().expect("session");
        Ok(SessionInfo {
            session_id: session.session_id().expect("id").to_string(),
            stream_url: session.stream_url().expect("url").to_string(),
            token_value: session.token_value().expect("token").to_string(),
            target: self.target(task, container),
        })
    }

    fn config(&self) -> ChannelConfig {
        let mut config = ChannelConfig::new(self.sdk.clone());
        config.input_hold = Duration::from_millis(100);
        config.reconnect_backoff = Duration::from_millis(20);
        config.connect_timeout = Duration::from_secs(5);
        config
    }

    async fn open(&self, info: SessionInfo) -> Channel {
        Channel::open(info, self.config()).await.expect("open")
    }

    async fn run(&self, command: &str) -> Outcome {
        let channel = self.open(self.execute(command).await).await;
        collect(channel).await
    }
}

/// Everything a session produced.
#[derive(Debug, Default)]
struct Outcome {
    output: Vec<u8>,
    handshake: Option<Option<String>>,
    closed: Option<String>,
    error: Option<ChannelError>,
}

impl Outcome {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }
}

async fn collect(mut channel: Channel) -> Outcome {
    let mut outcome = Outcome::default();
    collect_into(&mut channel, &mut outcome, |_| false).await;
    outcome
}

/// Reads events into `outcome` until the channel ends or `stop` says so.
async fn collect_into(
    channel: &mut Channel,
    outcome: &mut Outcome,
    mut stop: impl FnMut(&Outcome) -> bool,
) {
    while let Some(event) = channel.next_event().await {
        match event {
            Ok(Event::Output(bytes)) => outcome.output.extend(bytes),
            Ok(Event::HandshakeComplete { customer_message }) => {
                outcome.handshake = Some(customer_message)
            }
            Ok(Event::Closed { output }) => {
                outcome.closed = Some(output.unwrap_or_default());
                return;
            }
            Err(e) => {
                outcome.error = Some(e);
                return;
            }
        }
        if stop(outcome) {
            return;
        }
    }
}

/// A pid is gone (reaped or never there).
fn pid_gone(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks.
    let r = unsafe { libc::kill(pid, 0) };
    r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

async fn wait_until(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

/// A file of `n` bytes of base64-ish lines, and what a pty makes of it (`\r\n`).
fn text_file(dir: &Path, n: usize) -> (PathBuf, Vec<u8>) {
    let mut content = Vec::with_capacity(n);
    let mut state = 0x1234_5678_9abc_def0u64;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    while content.len() < n {
        state = crate::sandbox::world::splitmix64(state);
        if content.len() % 77 == 76 {
            content.push(b'\n');
        } else {
            content.push(ALPHABET[(state % 64) as usize]);
        }
    }
    let path = dir.join(format!("data-{n}.txt"));
    std::fs::write(&path, &content).expect("write data file");
    let mut expected = Vec::with_capacity(n + n / 70);
    for &b in &content {
        if b == b'\n' {
            expected.push(b'\r');
        }
        expected.push(b);
    }
    (path, expected)
}

pub(super) fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn goodbye(session_id: &str) -> String {
    format!("\n\nExiting session with sessionId: {session_id}.\n\n")
}

// ---- sessions ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_hi_then_channel_closed() {
    bounded(30, async {
        let env = start(world("")).await;
        let info = env.execute("echo hi").await;
        assert!(info.session_id.starts_with("ecs-execute-command-"));
        assert!(info.stream_url.starts_with("ws://127.0.0.1:"));
        assert!(info.stream_url.contains("/v1/data-channel/"));
        assert!(info
            .stream_url
            .contains("?role=publish_subscribe&cell-number="));
        assert!(info.token_value.len() > 100);
        let id = info.session_id.clone();
        let outcome = collect(env.open(info).await).await;
        assert_eq!(outcome.text(), "hi\r\n");
        assert_eq!(outcome.closed.as_deref(), Some(goodbye(&id).as_str()));
        assert!(outcome.handshake.is_none(), "no handshake without KMS");
        assert!(wait_until(|| env.sandbox.live_exec_sessions() == 0).await);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_round_trips_through_cat() {
    bounded(30, async {
        let env = start(world("")).await;
        let mut channel = env.open(env.execute("cat").await).await;
        channel.send_input(b"hello\n").await.expect("input");
        let mut outcome = Outcome::default();
        collect_into(&mut channel, &mut outcome, |o| o.output.len() >= 14).await;
        // The pty echoes the line, then cat writes it back.
        assert_eq!(outcome.text(), "hello\r\nhello\r\n");
        channel.send_input(&[0x04]).await.expect("EOF");
        collect_into(&mut channel, &mut outcome, |_| false).await;
        assert!(outcome.closed.is_some(), "{outcome:?}");
        assert_eq!(outcome.text(), "hello\r\nhello\r\n");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_never_starts_a_process() {
    bounded(30, async {
        let env = start(world("")).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("ran");
        let command = format!("touch {}", marker.display());
        let info = env.execute(&command).await;

        // A wrong token, then no token at all (a binary frame first).
        let (mut ws, _) = tokio_tungstenite::connect_async(info.stream_url.as_str())
            .await
            .expect("dial");
        let open = json!({"MessageSchemaVersion": "1.0", "RequestId": "r", "TokenValue": "wrong",
            "ClientId": "c", "ClientVersion": "1"});
        ws.send(WsMessage::text(open.to_string()))
            .await
            .expect("send");
        let answer = ws.next().await;
        assert!(
            matches!(answer, Some(Ok(WsMessage::Close(_))) | None | Some(Err(_))),
            "{answer:?}"
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(info.stream_url.as_str())
            .await
            .expect("dial");
        ws.send(WsMessage::binary(vec![0u8; 130]))
            .await
            .expect("send");
        let answer = ws.next().await;
        assert!(
            matches!(answer, Some(Ok(WsMessage::Close(_))) | None | Some(Err(_))),
            "{answer:?}"
        );
        // An unknown session with the right token is refused too.
        let other = info
            .stream_url
            .replace(&info.session_id, "ecs-execute-command-nope");
        let (mut ws, _) = tokio_tungstenite::connect_async(other.as_str())
            .await
            .expect("dial");
        let open = json!({"MessageSchemaVersion": "1.0", "RequestId": "r",
            "TokenValue": info.token_value, "ClientId": "c", "ClientVersion": "1"});
        ws.send(WsMessage::text(open.to_string()))
            .await
            .expect("send");
        assert!(!matches!(ws.next().await, Some(Ok(WsMessage::Binary(_)))));

        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!marker.exists(), "a refused connection ran the command");
        assert_eq!(env.sandbox.live_exec_sessions(), 0);

        // The right token does run it: the test above could have failed.
        let outcome = collect(env.open(info).await).await;
        assert!(outcome.closed.is_some(), "{outcome:?}");
        assert!(marker.exists());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resize_changes_stty_size() {
    bounded(30, async {
        let env = start(world("")).await;
        let mut channel = env
            .open(env.execute("sh -c 'stty size; sleep 1; stty size'").await)
            .await;
        let mut outcome = Outcome::default();
        collect_into(&mut channel, &mut outcome, |o| o.output.ends_with(b"\r\n")).await;
        assert_eq!(outcome.text(), "24 80\r\n", "the default size");
        channel.send_size(100, 40).await.expect("size");
        collect_into(&mut channel, &mut outcome, |_| false).await;
        assert_eq!(outcome.text(), "24 80\r\n40 100\r\n");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_session_kills_the_process() {
    bounded(30, async {
        let env = start(world("")).await;
        let info = env.execute("sh -c 'echo $$; exec sleep 30'").await;
        let id = info.session_id.clone();
        let mut channel = env.open(info).await;
        let mut outcome = Outcome::default();
        collect_into(&mut channel, &mut outcome, |o| o.output.ends_with(b"\r\n")).await;
        let pid: i32 = outcome.text().trim().parse().expect("pid");
        assert!(!pid_gone(pid), "sleep runs");

        let ssm = aws_sdk_ssm::Client::new(&env.sdk);
        let out = ssm
            .terminate_session()
            .session_id(&id)
            .send()
            .await
            .expect("terminate");
        assert_eq!(out.session_id(), Some(id.as_str()));
        collect_into(&mut channel, &mut outcome, |_| false).await;
        assert_eq!(outcome.closed.as_deref(), Some(goodbye(&id).as_str()));
        assert!(wait_until(|| pid_gone(pid)).await, "sleep still runs");

        // The session is over: no token from ResumeSession.
        let resumed = ssm
            .resume_session()
            .session_id(&id)
            .send()
            .await
            .expect("resume");
        assert_eq!(resumed.token_value(), None);
        let unknown = ssm
            .resume_session()
            .session_id("ecs-execute-command-unknown")
            .send()
            .await
            .expect_err("unknown");
        assert_eq!(unknown.code(), Some("DoesNotExistException"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_session_old_token_stops_working() {
    bounded(30, async {
        let env = start(world("")).await;
        let info = env.execute("echo later").await;
        let ssm = aws_sdk_ssm::Client::new(&env.sdk);
        let resumed = ssm
            .resume_session()
            .session_id(&info.session_id)
            .send()
            .await
            .expect("resume");
        let fresh = resumed.token_value().expect("token").to_string();
        assert_ne!(fresh, info.token_value);
        assert_eq!(resumed.session_id(), Some(info.session_id.as_str()));
        assert!(resumed
            .stream_url()
            .expect("url")
            .contains(&info.session_id));

        // The old token is refused; the new one runs the session.
        let (mut ws, _) = tokio_tungstenite::connect_async(info.stream_url.as_str())
            .await
            .expect("dial");
        let open = json!({"MessageSchemaVersion": "1.0", "RequestId": "r",
            "TokenValue": info.token_value, "ClientId": "c", "ClientVersion": "1"});
        ws.send(WsMessage::text(open.to_string()))
            .await
            .expect("send");
        assert!(!matches!(ws.next().await, Some(Ok(WsMessage::Binary(_)))));
        let outcome = collect(
            env.open(SessionInfo {
                token_value: fresh,
                ..info
            })
            .await,
        )
        .await;
        assert_eq!(outcome.text(), "later\r\n");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_socket_resumes_with_identical_output() {
    bounded(60, async {
        let env = start(world("exec:\n  drop_socket_after_bytes: 65536\n")).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let (file, expected) = text_file(dir.path(), 400_000);
        let outcome = env.run(&format!("cat {}", file.display())).await;
        assert!(outcome.closed.is_some(), "{:?}", outcome.error);
        assert_eq!(outcome.output.len(), expected.len());
        assert_eq!(sha(&outcome.output), sha(&expected));
        let stats = env.sandbox.stats();
        assert!(
            stats
                .by_operation
                .get("ssm:ResumeSession")
                .copied()
                .unwrap_or(0)
                >= 1,
            "{stats:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_session_round_trip() {
    bounded(30, async {
        let env = start(world(
            "clusters:\n  - name: app-cluster\n    execute_command_configuration:\n      kms_key_id: alias/ecs-exec\n",
        ))
        .await;
        let mut channel = env.open(env.execute("cat").await).await;
        let mut outcome = Outcome::default();
        collect_into(&mut channel, &mut outcome, |o| o.handshake.is_some()).await;
        assert_eq!(
            outcome.handshake,
            Some(Some("This session is encrypted using AWS KMS.".to_string()))
        );
        channel.send_input(b"secret\n").await.expect("input");
        collect_into(&mut channel, &mut outcome, |o| o.output.len() >= 16).await;
        assert_eq!(outcome.text(), "secret\r\nsecret\r\n");
        channel.send_input(&[0x04]).await.expect("EOF");
        collect_into(&mut channel, &mut outcome, |_| false).await;
        assert!(outcome.closed.is_some(), "{outcome:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_with_a_wrong_target_fails_the_handshake() {
    bounded(30, async {
        let env = start(world(
            "clusters:\n  - name: app-cluster\n    execute_command_configuration:\n      kms_key_id: alias/ecs-exec\n",
        ))
        .await;
        let mut info = env.execute("echo never").await;
        info.target = "ecs:elsewhere_0_0".to_string();
        let outcome = collect(env.open(info).await).await;
        assert!(!outcome.text().contains("never"));
        let closed = outcome.closed.expect("closed");
        assert!(closed.contains("Fetching data key failed"), "{closed}");
    })
    .await;
}

const ALL_FAULTS: &str = "seed: 7
exec:
  ack_delay: 5ms
  ack_drop_rate: 0.05
  output_duplicate_rate: 0.05
  output_reorder_rate: 0.05
  pause_after_messages: 300
  pause_for: 200ms
  drop_socket_after_bytes: 1048576
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_on_4_mib_arrive_intact_each_time() {
    bounded(180, async {
        let dir = tempfile::tempdir().expect("tempdir");
        let (file, expected) = text_file(dir.path(), 4 * 1024 * 1024);
        for run in 0..2 {
            let env = start(world(ALL_FAULTS)).await;
            let outcome = env.run(&format!("cat {}", file.display())).await;
            assert!(outcome.closed.is_some(), "run {run}: {:?}", outcome.error);
            assert_eq!(outcome.output.len(), expected.len(), "run {run}");
            assert_eq!(sha(&outcome.output), sha(&expected), "run {run}");
            let resumed = env
                .sandbox
                .stats()
                .by_operation
                .get("ssm:ResumeSession")
                .copied();
            assert_eq!(
                resumed,
                Some(1),
                "run {run}: the socket drop was resumed once"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_on_input_arrives_in_order() {
    bounded(120, async {
        let env = start(world(ALL_FAULTS)).await;
        // No echo, so the output is exactly what cat writes back.
        let mut channel = env
            .open(
                env.execute("sh -c 'stty -echo; echo ready; exec cat'")
                    .await,
            )
            .await;
        let mut outcome = Outcome::default();
        collect_into(&mut channel, &mut outcome, |o| {
            o.output.ends_with(b"ready\r\n")
        })
        .await;
        let mut expected = outcome.output.clone();
        for i in 0..150 {
            channel
                .send_input(format!("line {i}\n").as_bytes())
                .await
                .expect("input");
            expected.extend(format!("line {i}\r\n").into_bytes());
        }
        channel.send_input(&[0x04]).await.expect("EOF");
        collect_into(&mut channel, &mut outcome, |_| false).await;
        assert!(outcome.closed.is_some(), "{:?}", outcome.error);
        assert_eq!(outcome.text(), String::from_utf8_lossy(&expected));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_is_acknowledged_while_the_process_does_not_read() {
    use crate::protocol::{decode, encode, Message, PayloadType};
    bounded(30, async {
        let env = start(world("")).await;
        // The process sleeps: the pty takes a few KiB, the agent queues the rest.
        let info = env.execute("sh -c 'echo ready; sleep 3; wc -c'").await;
        let (mut ws, _) = tokio_tungstenite::connect_async(info.stream_url.as_str())
            .await
            .expect("dial");
        let open = json!({"MessageSchemaVersion": "1.0", "RequestId": "r",
            "TokenValue": info.token_value, "ClientId": "c", "ClientVersion": "1"});
        ws.send(WsMessage::text(open.to_string()))
            .await
            .expect("open");
        let started = std::time::Instant::now();
        let line = [b"x".repeat(511), b"\n".to_vec()].concat();
        for seq in 0..64 {
            let m = Message::new(
                "input_stream_data",
                seq,
                0,
                PayloadType::Output,
                line.clone(),
            );
            ws.send(WsMessage::binary(encode(&m))).await.expect("input");
        }
        let mut acked = std::collections::BTreeSet::new();
        while acked.len() < 64 {
            let frame = ws.next().await.expect("frame").expect("read");
            if let WsMessage::Binary(bytes) = frame {
                let m = decode(&bytes).expect("decode");
                if m.message_type == "acknowledge" {
                    let ack: crate::protocol::payloads::AcknowledgeContent =
                        serde_json::from_slice(&m.payload).expect("ack");
                    acked.insert(ack.acknowledged_message_sequence_number);
                }
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "acks waited for the process: {:?}",
            started.elapsed()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_and_working_folder() {
    bounded(30, async {
        let env = start(world("")).await;
        let outcome = env.run("sh -c 'echo $FOO $TERM $HOME; pwd'").await;
        let folder = env.sandbox.task_dir(&env.task);
        let folder = folder.display();
        assert_eq!(
            outcome.text(),
            format!("bar xterm-256color {folder}\r\n{folder}\r\n")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_program_is_told_and_the_channel_closes() {
    bounded(30, async {
        let env = start(world("")).await;
        let outcome = env.run("no-such-program-ecsx --flag").await;
        assert_eq!(
            outcome.text(),
            "Unable to start command: Failed to start pty: exec: \"no-such-program-ecsx\": executable file not found in $PATH\r\n"
        );
        assert!(outcome.closed.is_some());

        // An image without sh: the container's PATH has none.
        let task = env.task.clone();
        let env = start(world(&format!(
            "tasks:\n  - id: {task}\n    containers:\n      - name: app\n        exec_path: /nonexistent\n"
        )))
        .await;
        let outcome = env.run("sh -c 'echo hi'").await;
        assert!(outcome.text().contains("exec: \"sh\": executable file not found"), "{}", outcome.text());
        let outcome = env.run("/bin/echo absolute").await;
        assert_eq!(outcome.text(), "absolute\r\n");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_task_ends_its_processes() {
    bounded(30, async {
        let env = start(world("")).await;
        let mut channel = env
            .open(env.execute("sh -c 'echo $$; exec sleep 30'").await)
            .await;
        let mut outcome = Outcome::default();
        collect_into(&mut channel, &mut outcome, |o| o.output.ends_with(b"\r\n")).await;
        let pid: i32 = outcome.text().trim().parse().expect("pid");

        let out = env
            .ecs()
            .stop_task()
            .cluster(CLUSTER)
            .task(&env.task)
            .reason("deploying")
            .send()
            .await
            .expect("stop");
        let task = out.task().expect("task");
        assert_eq!(task.last_status(), Some("STOPPED"));
        assert_eq!(task.desired_status(), Some("STOPPED"));
        assert_eq!(task.stopped_reason(), Some("deploying"));
        assert_eq!(task.stop_code().map(|c| c.as_str()), Some("UserInitiated"));
        assert!(task.stopped_at().is_some());
        assert!(wait_until(|| pid_gone(pid)).await, "sleep still runs");
        collect_into(&mut channel, &mut outcome, |_| false).await;
        assert!(outcome.error.is_some() || outcome.closed.is_some());

        let described = env
            .ecs()
            .describe_tasks()
            .cluster(CLUSTER)
            .tasks(&env.task)
            .send()
            .await
            .expect("describe");
        assert_eq!(described.tasks()[0].last_status(), Some("STOPPED"));
        // No more sessions on it.
        let refused = env.execute_in(&env.task, "app", "echo").await;
        assert_eq!(refused.err().as_deref(), Some("InvalidParameterException"));
        let default_reason = env
            .ecs()
            .stop_task()
            .cluster(CLUSTER)
            .task(env.sandbox.world().tasks[1].id.clone())
            .send()
            .await
            .expect("stop");
        assert_eq!(
            default_reason.task().and_then(|t| t.stopped_reason()),
            Some("Task stopped by user")
        );
        let missing = env
            .ecs()
            .stop_task()
            .cluster(CLUSTER)
            .task("0123")
            .send()
            .await
            .expect_err("missing");
        assert_eq!(missing.code(), Some("InvalidParameterException"));
    })
    .await;
}

// ---- refusals ----

const BROKEN: &str = "tasks:
  - id: 0000000000000000000000000000e0ff
    service: web
    enable_execute_command: false
  - id: 000000000000000000000000000a9e17
    service: web
    containers:
      - name: app
        agent: PENDING
  - id: 00000000000000000000000000005709
    service: web
    last_status: STOPPED
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_command_refusals() {
    bounded(30, async {
        let env = start(world(BROKEN)).await;
        let code = |r: Result<SessionInfo, String>| r.err().unwrap_or_else(|| "ok".into());
        for task in [
            "0000000000000000000000000000e0ff",
            "000000000000000000000000000a9e17",
            "00000000000000000000000000005709",
            "ffffffffffffffffffffffffffffffff",
        ] {
            assert_eq!(
                code(env.execute_in(task, "app", "sh").await),
                "InvalidParameterException",
                "{task}"
            );
        }
        let exec_off = env
            .ecs()
            .execute_command()
            .cluster(CLUSTER)
            .task("0000000000000000000000000000e0ff")
            .container("app")
            .command("sh")
            .interactive(true)
            .send()
            .await
            .expect_err("refused");
        assert!(exec_off
            .message()
            .unwrap_or("")
            .starts_with("The execute command failed because execute command was not enabled"));
        let task = env.task.clone();
        assert_eq!(
            code(env.execute_in(&task, "nope", "sh").await),
            "InvalidParameterException"
        );
        let non_interactive = env
            .ecs()
            .execute_command()
            .cluster(CLUSTER)
            .task(&task)
            .container("app")
            .command("sh")
            .interactive(false)
            .send()
            .await
            .expect_err("refused");
        assert_eq!(non_interactive.code(), Some("InvalidParameterException"));
        assert_eq!(
            non_interactive.message(),
            Some("Interactive is the only mode supported currently.")
        );
        let no_container = env
            .ecs()
            .execute_command()
            .cluster(CLUSTER)
            .task(&task)
            .command("sh")
            .interactive(true)
            .send()
            .await
            .expect_err("two containers");
        assert_eq!(no_container.code(), Some("InvalidParameterException"));
        let no_cluster = env
            .ecs()
            .execute_command()
            .cluster("nope")
            .task(&task)
            .container("app")
            .command("sh")
            .interactive(true)
            .send()
            .await
            .expect_err("no cluster");
        assert_eq!(no_cluster.code(), Some("ClusterNotFoundException"));
        // By ARN works as by id.
        let arn = env.sandbox.world().task_arn(CLUSTER, &task);
        assert_eq!(code(env.execute_in(&arn, "sidecar", "true").await), "ok");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_not_connected_n_times_then_success() {
    bounded(30, async {
        let env = start(world("exec:\n  target_not_connected: 2\n")).await;
        let task = env.task.clone();
        for _ in 0..2 {
            let err = env
                .ecs()
                .execute_command()
                .cluster(CLUSTER)
                .task(&task)
                .container("app")
                .command("true")
                .interactive(true)
                .send()
                .await
                .expect_err("refused");
            assert_eq!(err.code(), Some("TargetNotConnectedException"));
            assert_eq!(
                err.message(),
                Some("The execute command failed due to an internal error. Try again later.")
            );
        }
        let outcome = env.run("echo third").await;
        assert_eq!(outcome.text(), "third\r\n");
    })
    .await;
}

// ---- KMS API ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_data_keys_are_bound_to_their_context() {
    bounded(30, async {
        let env = start(world(
            "kms_keys:\n  - id: 11111111-2222-3333-4444-555555555555\n    aliases: [alias/app]\n    description: app key\n  - id: 99999999-2222-3333-4444-555555555555\n    enabled: false\n",
        ))
        .await;
        let kms = aws_sdk_kms::Client::new(&env.sdk);
        let key = kms
            .generate_data_key()
            .key_id("alias/app")
            .number_of_bytes(64)
            .encryption_context("aws:ssm:SessionId", "s-1")
            .send()
            .await
            .expect("data key");
        let plaintext = key.plaintext().expect("plaintext").as_ref().to_vec();
        assert_eq!(plaintext.len(), 64);
        let arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";
        assert_eq!(key.key_id(), Some(arn));
        let blob = key.ciphertext_blob().expect("blob").clone();
        let opened = kms
            .decrypt()
            .ciphertext_blob(blob.clone())
            .encryption_context("aws:ssm:SessionId", "s-1")
            .send()
            .await
            .expect("decrypt");
        assert_eq!(opened.plaintext().expect("plain").as_ref(), plaintext.as_slice());
        assert_eq!(opened.key_id(), Some(arn));
        let wrong = kms
            .decrypt()
            .ciphertext_blob(blob)
            .encryption_context("aws:ssm:SessionId", "s-2")
            .send()
            .await
            .expect_err("other context");
        assert_eq!(wrong.code(), Some("InvalidCiphertextException"));
        let missing = kms
            .describe_key()
            .key_id("alias/none")
            .send()
            .await
            .expect_err("missing");
        assert_eq!(missing.code(), Some("NotFoundException"));
        let disabled = kms
            .generate_data_key()
            .key_id("99999999-2222-3333-4444-555555555555")
            .number_of_bytes(64)
            .send()
            .await
            .expect_err("disabled");
        assert_eq!(disabled.code(), Some("DisabledException"));
        let described = kms.describe_key().key_id(arn).send().await.expect("describe");
        let meta = described.key_metadata().expect("metadata");
        assert_eq!(meta.description(), Some("app key"));
        assert!(meta.enabled());
    })
    .await;
}

#[test]
fn exec_knobs_load_and_are_checked() {
    let w = world(ALL_FAULTS);
    assert_eq!(w.seed, Some(7));
    assert_eq!(w.exec.ack_delay, Duration::from_millis(5));
    assert_eq!(w.exec.pause_after_messages, Some(300));
    assert_eq!(w.exec.drop_socket_after_bytes, Some(1_048_576));
    let bad = World::from_yaml_str("exec:\n  ack_drop_rate: 2\n", Path::new("w.yml"), None)
        .expect_err("bad rate");
    assert!(bad.to_string().starts_with("w.yml:2:"), "{bad}");
    let unknown = World::from_yaml_str("exec:\n  ack_dropp: 0.1\n", Path::new("w.yml"), None)
        .expect_err("unknown key");
    assert!(unknown.to_string().contains("ack_dropp"), "{unknown}");
    let alias = World::from_yaml_str("kms_keys:\n  - aliases: [app]\n", Path::new("w.yml"), None)
        .expect_err("bad alias");
    assert!(alias.to_string().contains("alias/NAME"), "{alias}");
}

/// `cargo test --release --lib throughput_64_mib -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run in release"]
async fn throughput_64_mib() {
    bounded(600, async {
        let dir = tempfile::tempdir().expect("tempdir");
        let (file, expected) = text_file(dir.path(), 64 * 1024 * 1024);
        let env = start(world("")).await;
        let started = std::time::Instant::now();
        let outcome = env.run(&format!("cat {}", file.display())).await;
        let elapsed = started.elapsed();
        assert_eq!(outcome.output.len(), expected.len());
        assert_eq!(sha(&outcome.output), sha(&expected));
        let mb = expected.len() as f64 / 1_000_000.0;
        println!(
            "64 MiB cat through Channel: {:.2} s, {:.1} MB/s",
            elapsed.as_secs_f64(),
            mb / elapsed.as_secs_f64()
        );
    })
    .await;
}

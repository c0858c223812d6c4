//! Port sessions end to end in-process: the sandbox on 127.0.0.1:0,
//! `ssm:StartSession` through the AWS SDK, and the real client
//! ([`crate::port`]) forwarding local connections to TCP servers the tests
//! run. Every test is bounded by a timeout.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::tests::{bounded, sha, start, world, Env};
use crate::aws::Aws;
use crate::exec::channel::{Channel, ChannelConfig, Event, PortSignal, SessionInfo, SessionKind};
use crate::port::session::{listen, Notice};
use crate::port::{spec::parse_l, start_session, ForwardEnd, ForwardSpec, PortError};

/// A TCP server that echoes every connection; its port.
async fn echo_server() -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = conn.into_split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    (port, task)
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("addr").port()
}

fn aws(env: &Env) -> Aws {
    Aws::new(
        env.sdk.clone(),
        "us-east-1".to_string(),
        env.sdk.endpoint_url().unwrap_or_default().to_string(),
    )
}

struct Running {
    local: SocketAddr,
    session_id: String,
    mux: bool,
    notices: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<Result<ForwardEnd, PortError>>,
}

impl Running {
    async fn stop(mut self) -> Result<ForwardEnd, PortError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.expect("join")
    }
}

fn client_config(env: &Env, client_version: &str) -> ChannelConfig {
    let mut config = ChannelConfig::new(env.sdk.clone());
    config.client_version = client_version.to_string();
    config.reconnect_backoff = Duration::from_millis(20);
    config.connect_timeout = Duration::from_secs(5);
    config
}

/// Starts a forward for `-L` text on the env's task (container app).
async fn forward(env: &Env, l: &str, client_version: &str) -> Result<Running, crate::error::Error> {
    let spec: ForwardSpec = parse_l(l).expect("spec");
    let spec = ForwardSpec {
        bind: Some("127.0.0.1".into()),
        ..spec
    };
    let listeners = listen(&spec).await.expect("listen");
    let target = env.target(&env.task, "app");
    let fwd = start_session(
        &aws(env),
        &target,
        spec,
        listeners,
        Some(client_config(env, client_version)),
    )
    .await?;
    let local = fwd.local[0];
    let session_id = fwd.session_id.clone();
    let mux = fwd.mux;
    let notices = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&notices);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(fwd.run(
        async move {
            let _ = stop_rx.await;
        },
        Arc::new(move |n: Notice| {
            assert_eq!(n, Notice::ConnectToPortError);
            counted.fetch_add(1, Ordering::SeqCst);
        }),
    ));
    Ok(Running {
        local,
        session_id,
        mux,
        notices,
        stop: Some(stop_tx),
        task,
    })
}

/// Scrambled bytes (every value, no long runs).
fn data(n: usize, salt: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_add(salt).wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

/// Sends `bytes` through `addr` (an echo behind it) while reading the echo;
/// returns what came back.
async fn echo_through(addr: SocketAddr, bytes: Vec<u8>) -> Vec<u8> {
    let conn = TcpStream::connect(addr).await.expect("connect");
    let (mut r, mut w) = conn.into_split();
    let n = bytes.len();
    let writer = tokio::spawn(async move {
        w.write_all(&bytes).await.expect("write");
        w
    });
    let mut back = vec![0u8; n];
    r.read_exact(&mut back).await.expect("read the echo");
    drop(writer.await.expect("writer"));
    back
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mux_echo_4_mib_and_concurrent_connections() {
    bounded(120, async {
        let env = start(world("")).await;
        let (echo, _server) = echo_server().await;
        let fwd = forward(&env, &format!("0:localhost:{echo}"), "1.2.707.0")
            .await
            .expect("forward");
        assert!(fwd.mux, "a current agent and client speak smux");
        let sent = data(4 * 1024 * 1024, 1);
        let back = echo_through(fwd.local, sent.clone()).await;
        assert_eq!(sha(&back), sha(&sent));
        // 20 at once, each its own stream, each checked.
        let mut all = Vec::new();
        for i in 0..20u32 {
            let sent = data(100_000 + i as usize * 997, i);
            let addr = fwd.local;
            all.push(tokio::spawn(async move {
                let back = echo_through(addr, sent.clone()).await;
                assert_eq!(sha(&back), sha(&sent), "connection {i}");
            }));
        }
        for t in all {
            t.await.expect("connection task");
        }
        assert_eq!(fwd.notices.load(Ordering::SeqCst), 0);
        let session_id = fwd.session_id.clone();
        assert_eq!(fwd.stop().await.expect("run"), ForwardEnd::Stopped);
        let stats = env.sandbox.stats();
        assert!(
            stats
                .by_operation
                .get("ssm:TerminateSession")
                .copied()
                .unwrap_or(0)
                >= 1,
            "{stats:?} ({session_id})"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_port_error_closes_only_that_connection() {
    bounded(60, async {
        let env = start(world("")).await;
        let closed = closed_port().await;
        let fwd = forward(&env, &format!("0:localhost:{closed}"), "1.2.707.0")
            .await
            .expect("forward");
        for _ in 0..2 {
            let mut conn = TcpStream::connect(fwd.local).await.expect("connect");
            let _ = conn.write_all(b"GET / HTTP/1.1\r\n\r\n").await;
            let mut buf = Vec::new();
            let n = conn.read_to_end(&mut buf).await.unwrap_or(0);
            assert_eq!(n, 0, "nothing comes back from a closed port");
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while fwd.notices.load(Ordering::SeqCst) < 2 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            fwd.notices.load(Ordering::SeqCst),
            2,
            "one notice per failed connection"
        );
        assert!(!fwd.task.is_finished(), "the forward keeps listening");
        assert_eq!(fwd.stop().await.expect("run"), ForwardEnd::Stopped);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_host_document_reaches_another_address() {
    bounded(60, async {
        let env = start(world("")).await;
        let (echo, _server) = echo_server().await;
        let fwd = forward(&env, &format!("0:127.0.0.1:{echo}"), "1.2.707.0")
            .await
            .expect("forward");
        let sent = data(300_000, 9);
        assert_eq!(
            sha(&echo_through(fwd.local, sent.clone()).await),
            sha(&sent)
        );
        fwd.stop().await.expect("run");
        let stats = env.sandbox.stats();
        assert_eq!(stats.by_operation.get("ssm:StartSession").copied(), Some(1));
    })
    .await;
}

/// An old client (1.1.0.0): the agent picks basic mode and so does ecsx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_mode_for_old_clients_one_connection_at_a_time() {
    bounded(60, async {
        let env = start(world("")).await;
        let (echo, _server) = echo_server().await;
        let fwd = forward(&env, &format!("0:localhost:{echo}"), "1.1.0.0")
            .await
            .expect("forward");
        assert!(!fwd.mux, "basic mode");
        for i in 0..3u32 {
            let sent = data(200_000, i);
            let back = echo_through(fwd.local, sent.clone()).await;
            assert_eq!(sha(&back), sha(&sent), "connection {i}");
        }
        fwd.stop().await.expect("run");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_a_dropped_socket_lose_nothing() {
    bounded(120, async {
        let env = start(world(
            "seed: 3\nexec:\n  output_duplicate_rate: 0.05\n  output_reorder_rate: 0.05\n  ack_drop_rate: 0.02\n  pause_after_messages: 500\n  pause_for: 200ms\n  drop_socket_after_bytes: 1048576\n",
        ))
        .await;
        let (echo, _server) = echo_server().await;
        let fwd = forward(&env, &format!("0:localhost:{echo}"), "1.2.707.0")
            .await
            .expect("forward");
        let mut all = Vec::new();
        for i in 0..3u32 {
            let sent = data(2 * 1024 * 1024, i);
            let addr = fwd.local;
            all.push(tokio::spawn(async move {
                let back = echo_through(addr, sent.clone()).await;
                assert_eq!(sha(&back), sha(&sent), "connection {i}");
            }));
        }
        for t in all {
            t.await.expect("connection");
        }
        fwd.stop().await.expect("run");
        let stats = env.sandbox.stats();
        assert!(
            stats.by_operation.get("ssm:ResumeSession").copied().unwrap_or(0) >= 1,
            "{stats:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_names_a_port_session_with_its_properties() {
    bounded(30, async {
        let env = start(world("")).await;
        let ssm = aws_sdk_ssm::Client::new(&env.sdk);
        let target = env.target(&env.task, "app");
        let out = ssm
            .start_session()
            .target(&target)
            .document_name("AWS-StartPortForwardingSessionToRemoteHost")
            .parameters("host", vec!["localhost".to_string()])
            .parameters("portNumber", vec!["18080".to_string()])
            .parameters("localPortNumber", vec!["18092".to_string()])
            .send()
            .await
            .expect("StartSession");
        let info = SessionInfo {
            session_id: out.session_id().expect("id").to_string(),
            stream_url: out.stream_url().expect("url").to_string(),
            token_value: out.token_value().expect("token").to_string(),
            target,
        };
        let mut config = client_config(&env, "1.2.677.0");
        config.kind = SessionKind::Port;
        let mut channel = Channel::open(info, config).await.expect("open");
        let mut signals = channel.take_port_signals().expect("signals");
        match channel.next_event().await {
            Some(Ok(Event::HandshakeComplete { customer_message })) => {
                assert_eq!(customer_message, None)
            }
            other => panic!("expected HandshakeComplete, got {other:?}"),
        }
        let signal = signals.try_recv().expect("handshake signal");
        let PortSignal::Handshake {
            agent_version,
            properties,
        } = signal
        else {
            panic!("{signal:?}");
        };
        assert_eq!(agent_version, "3.3.1802.0");
        // As port-remote-host.jsonl line 6 (keys in the agent's order).
        assert_eq!(
            properties.to_string(),
            r#"{"host":"localhost","localPortNumber":"18092","portNumber":"18080","type":"LocalPortForwarding"}"#
        );
        channel.terminate().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_session_refusals() {
    bounded(30, async {
        let env = start(world("")).await;
        let ssm = aws_sdk_ssm::Client::new(&env.sdk);
        let target = env.target(&env.task, "app");
        let code = |r: Result<_, aws_sdk_ssm::error::SdkError<_, _>>| match r {
            Ok(_) => "ok".to_string(),
            Err(e) => aws_sdk_ssm::error::ProvideErrorMetadata::code(&e)
                .unwrap_or("?")
                .to_string(),
        };
        let start = |t: &str, doc: &str| {
            ssm.start_session()
                .target(t)
                .document_name(doc)
                .parameters("portNumber", vec!["80".to_string()])
        };
        assert_eq!(
            code(
                start("ecs:nope_1_2", "AWS-StartPortForwardingSession")
                    .send()
                    .await
            ),
            "TargetNotConnected"
        );
        assert_eq!(
            code(start(&target, "AWS-StartInteractiveCommand").send().await),
            "InvalidDocument"
        );
        assert_eq!(
            code(
                start(&target, "AWS-StartPortForwardingSessionToRemoteHost")
                    .send()
                    .await
            ),
            "ValidationException",
            "host is required"
        );
        let bad_port = ssm
            .start_session()
            .target(&target)
            .document_name("AWS-StartPortForwardingSession")
            .parameters("portNumber", vec!["70000".to_string()])
            .send()
            .await;
        let err = bad_port.expect_err("bad port");
        assert_eq!(err.code(), Some("ValidationException"));
        assert!(err.message().unwrap_or("").contains("portNumber"));
        assert_eq!(
            code(
                start(&target, "AWS-StartPortForwardingSession")
                    .send()
                    .await
            ),
            "ok"
        );
        // A stopped task's agent is gone.
        env.ecs()
            .stop_task()
            .cluster(super::tests::CLUSTER)
            .task(&env.task)
            .send()
            .await
            .expect("StopTask");
        assert_eq!(
            code(
                start(&target, "AWS-StartPortForwardingSession")
                    .send()
                    .await
            ),
            "TargetNotConnected"
        );
    })
    .await;
}

/// `agent_pacing: real`: 1 KiB per message and 1 ms after each, so 256 KiB
/// from the destination cannot take less than a quarter of a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_pacing_caps_what_the_agent_sends() {
    bounded(60, async {
        let env = start(world("exec:\n  agent_pacing: real\n")).await;
        let (echo, _server) = echo_server().await;
        let fwd = forward(&env, &format!("0:localhost:{echo}"), "1.2.707.0")
            .await
            .expect("forward");
        let sent = data(256 * 1024, 5);
        let started = std::time::Instant::now();
        let back = echo_through(fwd.local, sent.clone()).await;
        let took = started.elapsed();
        assert_eq!(sha(&back), sha(&sent));
        assert!(took >= Duration::from_millis(250), "paced: took {took:?}");
        fwd.stop().await.expect("run");
    })
    .await;
}

/// `agent_pacing: real` on exec: the first output waits a second, as the
/// real agent's shell plugin does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_pacing_delays_the_first_exec_output() {
    bounded(60, async {
        let env = start(world("exec:\n  agent_pacing: real\n")).await;
        let out = env
            .ecs()
            .execute_command()
            .cluster(super::tests::CLUSTER)
            .task(&env.task)
            .container("app")
            .command("echo hi")
            .interactive(true)
            .send()
            .await
            .expect("ExecuteCommand");
        let session = out.session().expect("session");
        let info = SessionInfo {
            session_id: session.session_id().expect("id").to_string(),
            stream_url: session.stream_url().expect("url").to_string(),
            token_value: session.token_value().expect("token").to_string(),
            target: env.target(&env.task, "app"),
        };
        let started = std::time::Instant::now();
        let mut channel = Channel::open(info, client_config(&env, "1.2.707.0"))
            .await
            .expect("open");
        let mut first = None;
        let mut seen = Vec::new();
        while let Some(event) = channel.next_event().await {
            seen.push(format!("{:?} {event:?}", started.elapsed()));
            match event {
                Ok(Event::Output(bytes)) if first.is_none() && !bytes.is_empty() => {
                    first = Some(started.elapsed())
                }
                Ok(Event::Closed { .. }) | Err(_) => break,
                _ => {}
            }
        }
        let first = first.unwrap_or_else(|| panic!("no output: {seen:?}"));
        assert!(
            first >= Duration::from_millis(950),
            "first output after {first:?}"
        );
    })
    .await;
}

#[test]
fn agent_pacing_loads_and_is_checked() {
    use crate::sandbox::world::{AgentPacing, World};
    assert_eq!(world("").exec.agent_pacing, AgentPacing::None);
    assert_eq!(
        world("exec:\n  agent_pacing: real\n").exec.agent_pacing,
        AgentPacing::Real
    );
    assert_eq!(
        world("exec:\n  agent_pacing: none\n").exec.agent_pacing,
        AgentPacing::None
    );
    let bad = World::from_yaml_str(
        "exec:\n  agent_pacing: fast\n",
        std::path::Path::new("w.yml"),
        None,
    )
    .expect_err("unknown pacing");
    let text = bad.to_string();
    assert!(text.starts_with("w.yml:2:"), "{text}");
    assert!(text.contains("real"), "{text}");
}

/// The pacing schedule: a busy sender whose wake-ups come up to a
/// millisecond late (tokio's timer) still averages one piece per gap, as
/// the agent's 1 ms sleep does; a pause starts afresh instead of bursting.
#[test]
fn paced_slots_average_one_piece_per_gap() {
    let gap = Duration::from_millis(1);
    let t0 = tokio::time::Instant::now();
    let mut slot = None;
    let mut now = t0;
    for i in 0..1000u32 {
        slot = Some(super::next_paced_slot(slot, now, gap));
        // The next wake-up: at the slot, rounded up to the timer's next
        // millisecond plus a little.
        let due = slot.unwrap();
        now = due + Duration::from_micros(u64::from(i % 10) * 90);
    }
    let took = now - t0;
    assert!(
        took >= Duration::from_millis(999) && took <= Duration::from_millis(1002),
        "{took:?}"
    );
    // Idle for a second: the next slot is one gap from now, not in the past.
    let later = now + Duration::from_secs(1);
    assert_eq!(super::next_paced_slot(slot, later, gap), later + gap);
}

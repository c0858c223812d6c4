//! The sandbox's ECS Exec agent against an independent client: the
//! `aws-ssm-bridge` crate, a Rust implementation of the Session Manager
//! protocol written without ecsx's code. ExecuteCommand (AWS SDK for Rust)
//! opens the session; `Session::attach` speaks its data channel.

use std::sync::Arc;
use std::time::Duration;

use aws_ssm_bridge::{CloseReason, EndpointPolicy, Session, SessionConfig};
use ecsx::sandbox::world::DeriveInput;
use ecsx::sandbox::{serve, Sandbox, World};
use futures::StreamExt;
use serde_json::json;

const CLUSTER: &str = "app-cluster";

fn world() -> World {
    World::derive(&DeriveInput {
        region: "us-east-1".into(),
        cluster: CLUSTER.into(),
        service: Some("web".into()),
        task_definition: json!({
            "family": "web",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "containerDefinitions": [{"name": "app", "image": "web:latest"}]
        }),
        service_definition: None,
    })
}

/// Reads output until it ends with `suffix` (or the stream ends).
async fn read_until(output: &mut aws_ssm_bridge::OutputStream, seen: &mut Vec<u8>, suffix: &[u8]) {
    while !seen.ends_with(suffix) {
        match output.next().await {
            Some(chunk) => seen.extend_from_slice(&chunk),
            None => break,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_ssm_bridge_completes_a_session() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let world = world();
        let task = world.tasks[0].id.clone();
        let runtime_id = world.tasks[0].containers[0]
            .runtime_id
            .clone()
            .unwrap_or_default();
        let sandbox = Sandbox::new(world);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = Arc::clone(&sandbox);
        tokio::spawn(async move {
            let _ = serve(listener, served, async move {
                let _ = stopped.await;
            })
            .await;
        });
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(format!("http://{addr}"))
            .credentials_provider(aws_sdk_ecs::config::Credentials::new(
                "AKIDSANDBOXBRIDGE",
                "sandbox-bridge-secret",
                None,
                None,
                "test",
            ))
            .load()
            .await;
        // The sleep lets the bridge subscribe to output before there is any.
        let out = aws_sdk_ecs::Client::new(&sdk)
            .execute_command()
            .cluster(CLUSTER)
            .task(&task)
            .command("sh -c 'sleep 1; echo ready; exec cat'")
            .interactive(true)
            .send()
            .await
            .expect("ExecuteCommand");
        let s = out.session().expect("session");

        let mut config = SessionConfig::new(format!("ecs:{CLUSTER}_{task}_{runtime_id}"));
        config.endpoint_policy = EndpointPolicy::AllowAny;
        let session = Session::attach(
            s.session_id().expect("id"),
            s.stream_url().expect("url"),
            s.token_value().expect("token"),
            config,
        )
        .await
        .expect("attach");
        let mut output = session.output();
        session.wait_ready().await.expect("ready");
        let mut seen = Vec::new();
        read_until(&mut output, &mut seen, b"ready\r\n").await;
        assert_eq!(seen, b"ready\r\n");

        // The pty turns \r into \n, echoes the line, and cat writes it back.
        session.send(&b"ping\r"[..]).await.expect("send");
        read_until(&mut output, &mut seen, b"ping\r\nping\r\n").await;
        assert_eq!(String::from_utf8_lossy(&seen), "ready\r\nping\r\nping\r\n");

        // EOF: cat exits, the agent says channel_closed.
        session.send(&[0x04u8][..]).await.expect("EOF");
        tokio::time::timeout(Duration::from_secs(10), session.closed())
            .await
            .expect("closed in time");
        assert!(
            matches!(
                session.close_reason(),
                Some(CloseReason::AgentClosed { .. })
            ),
            "{:?}",
            session.close_reason()
        );
        for _ in 0..40 {
            if sandbox.live_exec_sessions() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(sandbox.live_exec_sessions(), 0);
        let _ = stop.send(());
    })
    .await
    .expect("test exceeded its time bound");
}

/// The sandbox's port-forwarding agent against the independent client:
/// ssm:StartSession (AWS SDK for Rust) opens the session, aws-ssm-bridge's
/// `PortForwarder` (its own smux) forwards two concurrent connections to an
/// echo server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_ssm_bridge_forwards_a_port() {
    use aws_ssm_bridge::documents::PortForwardingSession;
    use aws_ssm_bridge::shutdown::ShutdownSignal;
    use aws_ssm_bridge::{DocumentSpec, PortForwardConfig, PortForwarder};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    tokio::time::timeout(Duration::from_secs(60), async {
        let world = world();
        let task = world.tasks[0].id.clone();
        let runtime_id = world.tasks[0].containers[0]
            .runtime_id
            .clone()
            .unwrap_or_default();
        let sandbox = Sandbox::new(world);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = Arc::clone(&sandbox);
        tokio::spawn(async move {
            let _ = serve(listener, served, async move {
                let _ = stopped.await;
            })
            .await;
        });
        // The destination: an echo server.
        let echo = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let echo_port = echo.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((conn, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = conn.into_split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(format!("http://{addr}"))
            .credentials_provider(aws_sdk_ecs::config::Credentials::new(
                "AKIDSANDBOXBRIDGE",
                "sandbox-bridge-secret",
                None,
                None,
                "test",
            ))
            .load()
            .await;
        let target = format!("ecs:{CLUSTER}_{task}_{runtime_id}");
        let document = PortForwardingSession::new(echo_port);
        let out = aws_sdk_ssm::Client::new(&sdk)
            .start_session()
            .target(&target)
            .document_name(PortForwardingSession::DOCUMENT_NAME)
            .parameters("portNumber", vec![echo_port.to_string()])
            .send()
            .await
            .expect("StartSession");
        let mut config = SessionConfig::new(target);
        config.endpoint_policy = EndpointPolicy::AllowAny;
        config.document = Some(DocumentSpec::new(&document));
        let session = Arc::new(
            Session::attach(
                out.session_id().expect("id"),
                out.stream_url().expect("url"),
                out.token_value().expect("token"),
                config,
            )
            .await
            .expect("attach"),
        );
        let forwarder = PortForwarder::bind(PortForwardConfig::default())
            .await
            .expect("bind the forwarder");
        let local = forwarder.local_addr();
        let shutdown = ShutdownSignal::new();
        let forwarding = tokio::spawn(forwarder.forward(Arc::clone(&session), shutdown.clone()));

        let mut conns = Vec::new();
        for i in 0..2u8 {
            conns.push(tokio::spawn(async move {
                let sent: Vec<u8> = (0..200_000u32).map(|n| (n as u8).wrapping_add(i)).collect();
                let conn = tokio::net::TcpStream::connect(local)
                    .await
                    .expect("connect");
                let (mut r, mut w) = conn.into_split();
                let to_send = sent.clone();
                let writer = tokio::spawn(async move { w.write_all(&to_send).await.map(|_| w) });
                let mut back = vec![0u8; sent.len()];
                r.read_exact(&mut back).await.expect("echo");
                let _ = writer.await;
                assert!(back == sent, "connection {i} came back different");
            }));
        }
        for c in conns {
            c.await.expect("connection");
        }
        shutdown.shutdown();
        let _ = forwarding.await;
        let _ = stop.send(());
    })
    .await
    .expect("test exceeded its time bound");
}

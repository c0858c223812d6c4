//! The sandbox against real clients: the official `aws` CLI (botocore's
//! parsers are the strictest judge of the wire format) and the AWS SDK for
//! Rust (what ecsx itself uses), each on 127.0.0.1 with fake credentials.
//!
//! The aws CLI is `ECSX_AWS_CLI`, else `aws` on PATH. Without one, these tests
//! print a notice and pass, except under CI (`CI` set), where they fail.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use ecsx::sandbox::world::DeriveInput;
use ecsx::sandbox::{serve, Sandbox, World};
use serde_json::{json, Value};

const CLUSTER: &str = "app-cluster";
const ACCESS_KEY: &str = "AKIDSANDBOXEXAMPLE";
const SECRET_KEY: &str = "sandbox-secret-do-not-print";

/// The world of a typical config: cluster app-cluster, service web (Fargate,
/// awsvpc, two containers), in us-east-1; `yaml` is a world file on top.
fn world(yaml: &str) -> World {
    let base = World::derive(&DeriveInput {
        region: "us-east-1".into(),
        cluster: CLUSTER.into(),
        service: Some("web".into()),
        task_definition: json!({
            "family": "web",
            "cpu": "256",
            "memory": "512",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "taskRoleArn": "arn:aws:iam::123456789012:role/web-task",
            "containerDefinitions": [
                {"name": "app", "image": "web:latest", "essential": true},
                {"name": "sidecar", "image": "nginx:1.27", "essential": false}
            ]
        }),
        service_definition: Some(json!({
            "desiredCount": 2,
            "launchType": "FARGATE",
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-0aaa"], "assignPublicIp": "DISABLED"}}
        })),
    });
    World::from_yaml_str(yaml, Path::new("test-world.yml"), Some(base)).expect("world")
}

/// A sandbox served on 127.0.0.1:0 from a thread of its own, so that blocking
/// tests (the aws CLI) and async ones (the SDK) can both use it.
struct Server {
    addr: SocketAddr,
    sandbox: Arc<Sandbox>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    fn start(world: World) -> Server {
        let sandbox = Sandbox::new(world);
        let served = sandbox.clone();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                addr_tx
                    .send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                let shutdown = async move {
                    let _ = stopped.await;
                };
                serve(listener, served, shutdown).await.expect("serve");
            });
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("sandbox started");
        Server {
            addr,
            sandbox,
            stop: Some(stop),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

// ---- the aws CLI ----

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The aws CLI to run, or `None` (after a notice) when there is none outside CI.
fn aws_cli() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ECSX_AWS_CLI").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    if let Some(path) = find_on_path("aws") {
        return Some(path);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "no aws CLI: set ECSX_AWS_CLI or put `aws` on PATH (CI must run the fidelity tests)"
        );
    }
    eprintln!(
        "notice: no aws CLI (ECSX_AWS_CLI or `aws` on PATH); skipping the aws CLI fidelity test"
    );
    None
}

/// Run `aws ARGS` against `server` with fake credentials and nothing of the
/// caller's AWS environment.
fn aws(cli: &Path, server: &Server, args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(cli);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PAGER", "")
        .args([
            "--endpoint-url",
            &server.url(),
            "--region",
            "us-east-1",
            "--output",
            "json",
        ])
        .args(args);
    cmd.output().expect("run the aws CLI")
}

/// `aws ARGS`, which must succeed, as JSON.
fn aws_json(cli: &Path, server: &Server, args: &[&str]) -> Value {
    let out = aws(cli, server, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "aws {args:?} failed: {:?}\n{stderr}",
        out.status
    );
    assert!(!stderr.contains(SECRET_KEY));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("aws {args:?}: not JSON ({e})"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

#[test]
fn aws_cli_reads_tasks_services_clusters_and_identity() {
    let Some(cli) = aws_cli() else { return };
    let server = Server::start(world(
        r#"
caller: arn:aws:sts::123456789012:assumed-role/Developer/alice
clusters:
  - name: app-cluster
    execute_command_configuration:
      kms_key_id: arn:aws:kms:us-east-1:123456789012:key/exec
      logging: OVERRIDE
      log_configuration:
        cloud_watch_log_group_name: /ecs/exec
        cloud_watch_encryption_enabled: true
tasks:
  - id: 0123456789abcdef0123456789abcdef
    service: web
    last_status: STOPPED
    stopped_reason: "Essential container in task exited"
"#,
    ));
    let cli = cli.as_path();

    let all =
        strings(&aws_json(cli, &server, &["ecs", "list-tasks", "--cluster", CLUSTER])["taskArns"]);
    assert_eq!(all.len(), 2, "{all:?}");
    let prefix = "arn:aws:ecs:us-east-1:123456789012:task/app-cluster/";
    for arn in &all {
        let id = arn.strip_prefix(prefix).unwrap_or_else(|| panic!("{arn}"));
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{arn}"
        );
    }
    let web = strings(
        &aws_json(
            cli,
            &server,
            &[
                "ecs",
                "list-tasks",
                "--cluster",
                CLUSTER,
                "--service-name",
                "web",
            ],
        )["taskArns"],
    );
    assert_eq!(web, all);
    let stopped = aws_json(
        cli,
        &server,
        &[
            "ecs",
            "list-tasks",
            "--cluster",
            CLUSTER,
            "--desired-status",
            "STOPPED",
        ],
    );
    assert_eq!(
        strings(&stopped["taskArns"]),
        [format!("{prefix}0123456789abcdef0123456789abcdef")]
    );

    let first_id = all[0].rsplit('/').next().unwrap();
    let described = aws_json(
        cli,
        &server,
        &[
            "ecs",
            "describe-tasks",
            "--cluster",
            CLUSTER,
            "--tasks",
            &all[1],
            first_id,
            "ffffffffffffffffffffffffffffffff",
            "0123456789abcdef0123456789abcdef",
        ],
    );
    let tasks = described["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 3);
    assert_eq!(tasks[0]["taskArn"], all[1].as_str());
    assert_eq!(tasks[1]["taskArn"], all[0].as_str());
    for t in &tasks[..2] {
        assert_eq!(t["lastStatus"], "RUNNING");
        assert_eq!(t["desiredStatus"], "RUNNING");
        assert_eq!(t["enableExecuteCommand"], true);
        assert_eq!(t["launchType"], "FARGATE");
        assert_eq!(t["platformVersion"], "1.4.0");
        assert_eq!(t["group"], "service:web");
        assert_eq!(
            t["taskDefinitionArn"],
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
        );
        // awscli v1 prints timestamps as the service sent them (epoch seconds).
        let started = t["startedAt"]
            .as_f64()
            .unwrap_or_else(|| panic!("{}", t["startedAt"]));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!((now - 86_400.0..now).contains(&started), "{started}");
        let containers = t["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 2);
        for c in containers {
            assert_eq!(c["managedAgents"][0]["name"], "ExecuteCommandAgent");
            assert_eq!(c["managedAgents"][0]["lastStatus"], "RUNNING");
            assert!(c["runtimeId"]
                .as_str()
                .unwrap()
                .starts_with(t["taskArn"].as_str().unwrap().rsplit('/').next().unwrap()));
        }
        let details = t["attachments"][0]["details"].as_array().unwrap();
        assert!(details.iter().any(|d| d["name"] == "privateIPv4Address"
            && d["value"].as_str().unwrap().starts_with("10.")));
    }
    assert_eq!(tasks[2]["lastStatus"], "STOPPED");
    assert_eq!(
        tasks[2]["stoppedReason"],
        "Essential container in task exited"
    );
    assert_eq!(
        described["failures"],
        json!([{"arn": format!("{prefix}ffffffffffffffffffffffffffffffff"), "reason": "MISSING"}])
    );

    let services = aws_json(
        cli,
        &server,
        &[
            "ecs",
            "describe-services",
            "--cluster",
            CLUSTER,
            "--services",
            "web",
            "ghost",
        ],
    );
    let svc = &services["services"][0];
    assert_eq!(
        svc["serviceArn"],
        "arn:aws:ecs:us-east-1:123456789012:service/app-cluster/web"
    );
    assert_eq!(svc["status"], "ACTIVE");
    assert_eq!(svc["desiredCount"], 2);
    assert_eq!(svc["runningCount"], 2);
    assert_eq!(svc["pendingCount"], 0);
    assert_eq!(svc["enableExecuteCommand"], true);
    assert_eq!(svc["deployments"][0]["status"], "PRIMARY");
    assert_eq!(svc["deployments"][0]["rolloutState"], "COMPLETED");
    assert!(!svc["events"].as_array().unwrap().is_empty());
    assert_eq!(services["failures"][0]["reason"], "MISSING");

    let clusters = aws_json(
        cli,
        &server,
        &[
            "ecs",
            "describe-clusters",
            "--clusters",
            CLUSTER,
            "--include",
            "CONFIGURATIONS",
        ],
    );
    let cluster = &clusters["clusters"][0];
    assert_eq!(cluster["clusterName"], CLUSTER);
    assert_eq!(cluster["status"], "ACTIVE");
    assert_eq!(cluster["runningTasksCount"], 2);
    let exec = &cluster["configuration"]["executeCommandConfiguration"];
    assert_eq!(exec["logging"], "OVERRIDE");
    assert_eq!(
        exec["kmsKeyId"],
        "arn:aws:kms:us-east-1:123456789012:key/exec"
    );
    assert_eq!(
        exec["logConfiguration"]["cloudWatchLogGroupName"],
        "/ecs/exec"
    );
    assert_eq!(
        exec["logConfiguration"]["cloudWatchEncryptionEnabled"],
        true
    );

    let td = aws_json(
        cli,
        &server,
        &[
            "ecs",
            "describe-task-definition",
            "--task-definition",
            "web",
        ],
    );
    assert_eq!(
        td["taskDefinition"]["taskDefinitionArn"],
        "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
    );
    assert_eq!(td["taskDefinition"]["revision"], 1);
    assert_eq!(td["taskDefinition"]["status"], "ACTIVE");
    assert_eq!(
        td["taskDefinition"]["taskRoleArn"],
        "arn:aws:iam::123456789012:role/web-task"
    );
    assert_eq!(
        td["taskDefinition"]["containerDefinitions"][0]["name"],
        "app"
    );

    let me = aws_json(cli, &server, &["sts", "get-caller-identity"]);
    assert_eq!(me["Account"], "123456789012");
    assert_eq!(
        me["Arn"],
        "arn:aws:sts::123456789012:assumed-role/Developer/alice"
    );
    assert!(me["UserId"].as_str().unwrap().ends_with(":alice"), "{me}");

    let stats = server.sandbox.stats();
    assert_eq!(stats.by_operation.get("sts:GetCallerIdentity"), Some(&1));
    assert_eq!(stats.by_operation.get("ecs:DescribeTasks"), Some(&1));
}

#[test]
fn aws_cli_pages_through_250_tasks() {
    let Some(cli) = aws_cli() else { return };
    let server = Server::start(world("task_count: 250\n"));
    let listed = aws_json(
        &cli,
        &server,
        &[
            "ecs",
            "list-tasks",
            "--cluster",
            CLUSTER,
            "--service-name",
            "web",
            "--page-size",
            "100",
        ],
    );
    let arns = strings(&listed["taskArns"]);
    assert_eq!(arns.len(), 250);
    let unique: std::collections::HashSet<&String> = arns.iter().collect();
    assert_eq!(unique.len(), 250);
    assert_eq!(
        server.sandbox.stats().by_operation.get("ecs:ListTasks"),
        Some(&3),
        "3 pages of 100"
    );
    // --max-items stops early and hands back a token the next call resumes from.
    let head = aws_json(
        &cli,
        &server,
        &[
            "ecs",
            "list-tasks",
            "--cluster",
            CLUSTER,
            "--max-items",
            "120",
        ],
    );
    assert_eq!(strings(&head["taskArns"]), arns[..120]);
    let token = head["NextToken"].as_str().expect("NextToken").to_string();
    let rest = aws_json(
        &cli,
        &server,
        &[
            "ecs",
            "list-tasks",
            "--cluster",
            CLUSTER,
            "--starting-token",
            &token,
        ],
    );
    assert_eq!(strings(&rest["taskArns"]), arns[120..]);
}

#[test]
fn aws_cli_sees_aws_errors() {
    let Some(cli) = aws_cli() else { return };
    let server = Server::start(world(""));
    let out = aws(&cli, &server, &["ecs", "list-tasks", "--cluster", "nope"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(254 | 255)),
        "{:?}: {stderr}",
        out.status
    );
    assert!(stderr.contains("ClusterNotFoundException"), "{stderr}");
    assert!(stderr.contains("Cluster not found."), "{stderr}");
    let out = aws(
        &cli,
        &server,
        &[
            "ecs",
            "list-tasks",
            "--cluster",
            CLUSTER,
            "--service-name",
            "nope",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("ServiceNotFoundException"));
    let out = aws(
        &cli,
        &server,
        &[
            "ecs",
            "describe-task-definition",
            "--task-definition",
            "web:7",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ClientException")
            && stderr.contains("Unable to describe task definition."),
        "{stderr}"
    );
}

#[test]
fn aws_cli_terminates_exec_sessions_and_speaks_kms() {
    let Some(cli) = aws_cli() else { return };
    let server = Server::start(world(
        "kms_keys:\n  - id: 11111111-2222-3333-4444-555555555555\n    aliases: [alias/app]\n    description: app key\n",
    ));
    let cli = cli.as_path();

    // A session opened with the SDK, its process started over the data channel.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (session_id, pid, socket) = runtime.block_on(start_exec_session(&server));
    let out = aws_json(
        cli,
        &server,
        &["ssm", "terminate-session", "--session-id", &session_id],
    );
    assert_eq!(out["SessionId"], session_id.as_str());
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(pid, 0) != 0 }
    });
    assert!(gone, "the session's process survived TerminateSession");
    drop(socket);
    let unknown = aws(
        cli,
        &server,
        &[
            "ssm",
            "terminate-session",
            "--session-id",
            "ecs-execute-command-nope",
        ],
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("DoesNotExistException"));

    let key = aws_json(
        cli,
        &server,
        &["kms", "describe-key", "--key-id", "alias/app"],
    );
    let arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";
    assert_eq!(key["KeyMetadata"]["Arn"], arn);
    assert_eq!(
        key["KeyMetadata"]["KeyId"],
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(key["KeyMetadata"]["KeyState"], "Enabled");
    assert_eq!(key["KeyMetadata"]["Description"], "app key");
    let missing = aws(
        cli,
        &server,
        &["kms", "describe-key", "--key-id", "alias/none"],
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("NotFoundException"));

    let data_key = aws_json(
        cli,
        &server,
        &[
            "kms",
            "generate-data-key",
            "--key-id",
            "alias/app",
            "--number-of-bytes",
            "64",
            "--encryption-context",
            "aws:ssm:SessionId=s-1",
        ],
    );
    assert_eq!(data_key["KeyId"], arn);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let plaintext = b64
        .decode(data_key["Plaintext"].as_str().expect("Plaintext"))
        .expect("base64");
    assert_eq!(plaintext.len(), 64);
    let blob = b64
        .decode(data_key["CiphertextBlob"].as_str().expect("CiphertextBlob"))
        .expect("base64");
    let dir = tempfile::tempdir().expect("temp dir");
    let blob_file = dir.path().join("blob");
    std::fs::write(&blob_file, &blob).expect("write blob");
    let blob_arg = format!("fileb://{}", blob_file.display());
    let opened = aws_json(
        cli,
        &server,
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            &blob_arg,
            "--encryption-context",
            "aws:ssm:SessionId=s-1",
        ],
    );
    assert_eq!(opened["KeyId"], arn);
    assert_eq!(
        b64.decode(opened["Plaintext"].as_str().expect("Plaintext"))
            .expect("base64"),
        plaintext
    );
    let wrong = aws(
        cli,
        &server,
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            &blob_arg,
            "--encryption-context",
            "aws:ssm:SessionId=s-2",
        ],
    );
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("InvalidCiphertextException"));
}

/// ExecuteCommand (SDK) for `sh -c 'echo $$; exec sleep 30'`, then the data
/// channel opened by hand: the session id, the process id it printed, and the
/// socket (kept open).
async fn start_exec_session(
    server: &Server,
) -> (
    String,
    i32,
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
) {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    let config = sdk_config(server).await;
    let task = server.sandbox.world().tasks[0].id.clone();
    let out = aws_sdk_ecs::Client::new(&config)
        .execute_command()
        .cluster(CLUSTER)
        .task(task)
        .container("app")
        .command("sh -c 'echo $$; exec sleep 30'")
        .interactive(true)
        .send()
        .await
        .expect("ExecuteCommand");
    let session = out.session().expect("session");
    let (mut ws, _) = tokio_tungstenite::connect_async(session.stream_url().expect("url"))
        .await
        .expect("dial");
    let open = json!({"MessageSchemaVersion": "1.0", "RequestId": "r",
        "TokenValue": session.token_value(), "ClientId": "c", "ClientVersion": "1"});
    ws.send(WsMessage::text(open.to_string()))
        .await
        .expect("open");
    let mut output = Vec::new();
    while !output.ends_with(b"\r\n") {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("output in time")
            .expect("frame")
            .expect("read");
        if let WsMessage::Binary(bytes) = frame {
            let message = ecsx::protocol::decode(&bytes).expect("decode");
            if message.message_type == "output_stream_data" {
                output.extend(message.payload);
            }
        }
    }
    let pid = String::from_utf8_lossy(&output)
        .trim()
        .parse()
        .expect("pid");
    (session.session_id().expect("id").to_string(), pid, ws)
}

// ---- the AWS SDK for Rust ----

fn credentials() -> aws_sdk_ecs::config::Credentials {
    aws_sdk_ecs::config::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "sandbox-test")
}

/// Standard retries, more attempts and short backoffs, so throttling is retried quickly.
fn retries() -> aws_sdk_ecs::config::retry::RetryConfig {
    aws_sdk_ecs::config::retry::RetryConfig::standard()
        .with_max_attempts(10)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(50))
}

async fn sdk_config(server: &Server) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(server.url())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(credentials())
        .retry_config(retries())
        .load()
        .await
}

async fn all_task_arns(ecs: &aws_sdk_ecs::Client) -> Vec<String> {
    ecs.list_tasks()
        .cluster(CLUSTER)
        .service_name("web")
        .max_results(100)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("ListTasks pages")
}

#[tokio::test]
async fn sdk_paginates_describes_and_identifies() {
    let server = Server::start(world("task_count: 250\n"));
    let config = sdk_config(&server).await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let arns = all_task_arns(&ecs).await;
    assert_eq!(arns.len(), 250);
    assert_eq!(
        arns.iter().collect::<std::collections::HashSet<_>>().len(),
        250
    );

    let described = ecs
        .describe_tasks()
        .cluster(CLUSTER)
        .set_tasks(Some(arns[..100].to_vec()))
        .send()
        .await
        .expect("DescribeTasks");
    assert_eq!(described.tasks().len(), 100);
    for task in described.tasks() {
        assert_eq!(task.last_status(), Some("RUNNING"));
        assert!(task.enable_execute_command());
        assert!(task.started_at().is_some());
        let agent = &task.containers()[0].managed_agents()[0];
        assert_eq!(
            agent.name().map(|n| n.as_str()),
            Some("ExecuteCommandAgent")
        );
        assert_eq!(agent.last_status(), Some("RUNNING"));
    }
    assert!(described.failures().is_empty());

    let err = ecs
        .list_tasks()
        .cluster("nope")
        .send()
        .await
        .expect_err("unknown cluster");
    assert!(err.into_service_error().is_cluster_not_found_exception());

    let sts = aws_sdk_sts::Client::new(&config);
    let me = sts
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(me.account(), Some("123456789012"));
    assert_eq!(me.arn(), Some("arn:aws:iam::123456789012:user/sandbox"));
    assert!(me.user_id().is_some_and(|u| u.starts_with("AIDA")));
}

#[tokio::test]
async fn sdk_retries_throttled_calls() {
    let server = Server::start(world("task_count: 250\nthrottle_rate: 0.3\n"));
    let config = sdk_config(&server).await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let sts = aws_sdk_sts::Client::new(&config);
    for _ in 0..3 {
        assert_eq!(all_task_arns(&ecs).await.len(), 250);
    }
    for _ in 0..10 {
        let me = sts
            .get_caller_identity()
            .send()
            .await
            .expect("GetCallerIdentity, retried");
        assert_eq!(me.account(), Some("123456789012"));
    }
    let stats = server.sandbox.stats();
    assert!(stats.throttled > 0, "{stats:?}");
    assert!(stats.calls >= 19 + stats.throttled, "{stats:?}");
}

/// The calls `ecsx verify` makes, through the aws CLI: IAM and ELBv2
/// (awsQuery), EC2 (ec2Query), ECR, Secrets Manager, SSM, Logs (awsJson).
#[test]
fn aws_cli_reads_what_verify_asks() {
    let Some(cli) = aws_cli() else { return };
    let base = World::derive(&DeriveInput {
        region: "us-east-1".into(),
        cluster: CLUSTER.into(),
        service: Some("web".into()),
        task_definition: json!({
            "family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
            "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
            "taskRoleArn": "arn:aws:iam::123456789012:role/web-task",
            "containerDefinitions": [{"name": "app", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1",
                "secrets": [{"name": "A", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:web/db-AbCdEf"},
                            {"name": "B", "valueFrom": "/web/key"}],
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web"}}}]
        }),
        service_definition: Some(json!({
            "loadBalancers": [{"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123", "containerName": "app", "containerPort": 80}],
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-0aaa"]}}
        })),
    });
    let world = World::from_yaml_str(
        "iam:\n  roles:\n    - name: web-task\n      policies:\n        x:\n          Statement:\n            - {Effect: Allow, Action: \"ssmmessages:*\", Resource: \"*\"}\n            - {Effect: Deny, NotAction: \"ssmmessages:*\", Resource: \"*\"}\nresources:\n  vpc_endpoints:\n    - {vpc_id: vpc-9ff8aed63113f6247, service_name: com.amazonaws.us-east-1.ssmmessages}\n",
        Path::new("verify.yml"),
        Some(base),
    )
    .expect("world");
    let server = Server::start(world);

    let role = aws_json(
        &cli,
        &server,
        &["iam", "get-role", "--role-name", "web-task"],
    );
    assert_eq!(
        role["Role"]["Arn"],
        "arn:aws:iam::123456789012:role/web-task"
    );
    // botocore decodes the URL-encoded trust policy into JSON.
    assert_eq!(
        role["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "ecs-tasks.amazonaws.com"
    );
    let sim = aws_json(
        &cli,
        &server,
        &[
            "iam",
            "simulate-principal-policy",
            "--policy-source-arn",
            "arn:aws:iam::123456789012:role/web-task",
            "--action-names",
            "ssmmessages:OpenDataChannel",
            "s3:GetObject",
            "kms:Decrypt",
        ],
    );
    let decisions: Vec<&str> = sim["EvaluationResults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["EvalDecision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, vec!["allowed", "explicitDeny", "explicitDeny"]);
    let images = aws_json(
        &cli,
        &server,
        &[
            "ecr",
            "describe-images",
            "--repository-name",
            "web",
            "--image-ids",
            "imageTag=v1",
        ],
    );
    assert_eq!(images["imageDetails"][0]["imageTags"][0], "v1");
    let secret = aws_json(
        &cli,
        &server,
        &["secretsmanager", "describe-secret", "--secret-id", "web/db"],
    );
    assert_eq!(secret["Name"], "web/db");
    let params = aws_json(
        &cli,
        &server,
        &["ssm", "get-parameters", "--names", "/web/key", "/nope"],
    );
    assert_eq!(params["Parameters"][0]["Name"], "/web/key");
    assert_eq!(params["InvalidParameters"][0], "/nope");
    let groups = aws_json(
        &cli,
        &server,
        &[
            "logs",
            "describe-log-groups",
            "--log-group-name-prefix",
            "/ecs/",
        ],
    );
    assert_eq!(groups["logGroups"][0]["logGroupName"], "/ecs/web");
    let tgs = aws_json(
        &cli,
        &server,
        &[
            "elbv2",
            "describe-target-groups",
            "--target-group-arns",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123",
        ],
    );
    assert_eq!(tgs["TargetGroups"][0]["TargetGroupName"], "web");
    let subnets = aws_json(
        &cli,
        &server,
        &["ec2", "describe-subnets", "--subnet-ids", "subnet-0aaa"],
    );
    let vpc = subnets["Subnets"][0]["VpcId"].as_str().unwrap().to_string();
    let endpoints = aws_json(
        &cli,
        &server,
        &[
            "ec2",
            "describe-vpc-endpoints",
            "--filters",
            &format!("Name=vpc-id,Values={vpc}"),
        ],
    );
    assert_eq!(
        endpoints["VpcEndpoints"][0]["ServiceName"],
        "com.amazonaws.us-east-1.ssmmessages"
    );
    assert_eq!(endpoints["VpcEndpoints"][0]["VpcEndpointType"], "Interface");

    for (args, code) in [
        (
            vec!["iam", "get-role", "--role-name", "nope"],
            "NoSuchEntity",
        ),
        (
            vec![
                "ecr",
                "describe-images",
                "--repository-name",
                "web",
                "--image-ids",
                "imageTag=v9",
            ],
            "ImageNotFoundException",
        ),
        (
            vec!["secretsmanager", "describe-secret", "--secret-id", "nope"],
            "ResourceNotFoundException",
        ),
        (
            vec![
                "elbv2",
                "describe-target-groups",
                "--target-group-arns",
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/1",
            ],
            "TargetGroupNotFound",
        ),
        (
            vec!["ec2", "describe-subnets", "--subnet-ids", "subnet-nope"],
            "InvalidSubnetID.NotFound",
        ),
    ] {
        let out = aws(&cli, &server, &args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("({code})")), "{args:?}: {stderr}");
    }
}

#[test]
fn aws_cli_reads_parameters_secrets_and_s3_objects() {
    let Some(cli) = aws_cli() else { return };
    let server = Server::start(world(
        r#"
resources:
  parameters:
    - {name: /app/tag, type: String, value: "1.2.3"}
    - {name: /app/hosts, type: StringList, value: "a,b"}
    - {name: /app/password, type: SecureString, value: "hunter2"}
  secrets:
    - {name: app/db, arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-Ab12Cd"}
  s3_objects:
    - {bucket: tf-states, key: app/terraform.tfstate, body: '{"version": 4}'}
"#,
    ));
    let cli = cli.as_path();
    let p = aws_json(
        cli,
        &server,
        &["ssm", "get-parameter", "--name", "/app/tag"],
    );
    assert_eq!(p["Parameter"]["Value"], "1.2.3");
    assert_eq!(p["Parameter"]["Type"], "String");
    let p = aws_json(
        cli,
        &server,
        &[
            "ssm",
            "get-parameter",
            "--name",
            "/app/password",
            "--with-decryption",
        ],
    );
    assert_eq!(p["Parameter"]["Value"], "hunter2");
    let p = aws_json(
        cli,
        &server,
        &["ssm", "get-parameter", "--name", "/app/password"],
    );
    assert_ne!(p["Parameter"]["Value"], "hunter2");
    let out = aws(cli, &server, &["ssm", "get-parameter", "--name", "/nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ParameterNotFound"));

    let s = aws_json(
        cli,
        &server,
        &["secretsmanager", "describe-secret", "--secret-id", "app/db"],
    );
    assert_eq!(
        s["ARN"],
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-Ab12Cd"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("state");
    let got = aws_json(
        cli,
        &server,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "tf-states",
            "--key",
            "app/terraform.tfstate",
            file.to_str().expect("utf-8 path"),
        ],
    );
    assert!(
        got.get("ContentLength").is_some() || got.is_object(),
        "{got}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), r#"{"version": 4}"#);
    let out = aws(
        cli,
        &server,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "tf-states",
            "--key",
            "missing",
            file.to_str().expect("utf-8 path"),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NoSuchKey"));
    assert_eq!(
        server.sandbox.stats().by_operation.get("s3:GetObject"),
        Some(&2)
    );
}

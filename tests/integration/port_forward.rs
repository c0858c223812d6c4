//! `ecsx port-forward` end to end: the binary, the SDK's StartSession, the
//! sandbox's agent dialing TCP servers these tests run on loopback, and
//! real local connections through the forward.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::common::*;

fn app() -> std::path::PathBuf {
    testdata("app/ecspresso.yml")
}

/// A sandbox with one task (no picker), plus world text.
fn one_task(extra: &str) -> (tempfile::TempDir, Sandbox) {
    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::with_world_text(&app(), dir.path(), &format!("task_count: 1\n{extra}"));
    (dir, sb)
}

/// An echo server on `ip:0`, every connection on its own thread; its port.
fn echo_server(ip: &str) -> u16 {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            thread::spawn(move || {
                let mut back = conn.try_clone().unwrap();
                let _ = std::io::copy(&mut conn, &mut back);
            });
        }
    });
    port
}

/// A small HTTP/1.1 server: `GET /n` answers `n` bytes, keep-alive.
fn http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut writer = conn;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let n: usize = line
                        .split_whitespace()
                        .nth(1)
                        .and_then(|p| p.trim_start_matches('/').parse().ok())
                        .unwrap_or(0);
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 {
                            return;
                        }
                        if header == "\r\n" {
                            break;
                        }
                    }
                    let body = "x".repeat(n);
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nContent-Type: text/plain\r\n\r\n{body}"
                    );
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `ecsx port-forward`; killed if a test fails.
struct Forwarding {
    child: Child,
    /// One line per forward, as printed.
    lines: Vec<String>,
    stderr: Option<ChildStderr>,
}

impl Forwarding {
    /// Starts `cmd` and reads `n` lines of stdout.
    fn start(mut cmd: Command, n: usize) -> Forwarding {
        let mut child = cmd
            .env("ECSX_TASK_POLL_INTERVAL", "200ms")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ecsx");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take();
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            for _ in 0..n {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let _ = tx.send(line.trim().to_string());
            }
            // Keep reading so ecsx never blocks on stdout.
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
        });
        let mut lines = Vec::new();
        let mut f = Forwarding {
            child,
            lines: Vec::new(),
            stderr,
        };
        for _ in 0..n {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => lines.push(line),
                Err(_) => {
                    let _ = f.child.kill();
                    let mut err = String::new();
                    if let Some(mut e) = f.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    panic!("port-forward printed {lines:?}, then nothing; stderr:\n{err}");
                }
            }
        }
        f.lines = lines;
        f
    }

    fn addr(&self, i: usize) -> SocketAddr {
        self.lines[i]
            .parse()
            .unwrap_or_else(|_| panic!("not an address: {:?}", self.lines[i]))
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory arguments.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    /// Waits for the exit (bounded); its code and stderr.
    fn wait(mut self, within: Duration) -> (Option<i32>, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > within {
                let _ = self.child.kill();
                let mut err = String::new();
                if let Some(mut e) = self.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("port-forward did not end within {within:?}; stderr:\n{err}");
            }
            thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        if let Some(mut e) = self.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status.code(), err)
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Forwarding {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn port_forward(sb: &Sandbox) -> Command {
    let mut cmd = sb.ecsx(&app());
    cmd.arg("port-forward");
    cmd
}

fn data(n: usize, salt: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_add(salt).wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `bytes` through `addr` (an echo behind it) on one thread while
/// reading the echo on this one; the sha256 of what came back.
fn echo_through(addr: SocketAddr, bytes: Vec<u8>) -> String {
    let conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut writer = conn.try_clone().unwrap();
    let n = bytes.len();
    let w = thread::spawn(move || writer.write_all(&bytes));
    let mut back = Vec::with_capacity(n);
    let mut reader = conn.take(n as u64);
    reader.read_to_end(&mut back).unwrap();
    w.join().unwrap().unwrap();
    assert_eq!(back.len(), n, "short echo");
    sha(&back)
}

/// SIGINT, exit 0, and the sessions terminated.
fn stop(f: Forwarding) -> String {
    f.signal(libc::SIGINT);
    let (code, err) = f.wait(Duration::from_secs(15));
    assert_eq!(code, Some(0), "stderr:\n{err}");
    assert!(err.contains("sessions were terminated"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn sixty_four_mib_each_way_through_one_connection() {
    let (_d, sb) = one_task("");
    let echo = echo_server("127.0.0.1");
    let f = Forwarding::start(
        {
            let mut c = port_forward(&sb);
            c.args(["--port", &echo.to_string()]);
            c
        },
        1,
    );
    let sent = data(64 * 1024 * 1024, 1);
    let expected = sha(&sent);
    assert_eq!(echo_through(f.addr(0), sent), expected);
    stop(f);
}

#[test]
fn fifty_concurrent_connections_each_checked() {
    let (_d, sb) = one_task("");
    let echo = echo_server("127.0.0.1");
    let mut cmd = port_forward(&sb);
    cmd.args(["-L", &format!("0:localhost:{echo}")]);
    let f = Forwarding::start(cmd, 1);
    let addr = f.addr(0);
    let all: Vec<_> = (0..50u32)
        .map(|i| {
            thread::spawn(move || {
                let sent = data(64 * 1024 + i as usize * 1013, i);
                let expected = sha(&sent);
                assert_eq!(echo_through(addr, sent), expected, "connection {i}");
            })
        })
        .collect();
    for t in all {
        t.join().unwrap();
    }
    stop(f);
}

#[test]
fn http_requests_and_responses_through_the_forward() {
    let (_d, sb) = one_task("");
    let http = http_server();
    let mut cmd = port_forward(&sb);
    cmd.args(["--port", &http.to_string(), "--local-port", "0"]);
    let f = Forwarding::start(cmd, 1);
    // Several requests on one kept-alive connection, then on new ones.
    let mut conn = TcpStream::connect(f.addr(0)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    for n in [0usize, 5, 70_000, 3] {
        write!(conn, "GET /{n} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert_eq!(status, "HTTP/1.1 200 OK\r\n");
        let mut length = 0;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            if h == "\r\n" {
                break;
            }
            if let Some(v) = h.strip_prefix("Content-Length: ") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        assert_eq!(length, n);
        assert!(body.iter().all(|&b| b == b'x'));
    }
    drop(reader);
    conn.shutdown(Shutdown::Both).unwrap();
    for _ in 0..3 {
        let mut c = TcpStream::connect(f.addr(0)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        c.write_all(b"GET /11 HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let mut buf = [0u8; 256];
        let mut got = Vec::new();
        while !got.ends_with(b"xxxxxxxxxxx") {
            let n = c.read(&mut buf).unwrap();
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
    }
    stop(f);
}

#[test]
fn host_reaches_another_local_address() {
    let (_d, sb) = one_task("");
    // Bound on 127.0.0.2 only: reachable through --host, not as localhost.
    let echo = echo_server("127.0.0.2");
    let mut cmd = port_forward(&sb);
    cmd.args([
        "--port",
        &echo.to_string(),
        "--host",
        "127.0.0.2",
        "-o",
        "json",
    ]);
    let f = Forwarding::start(cmd, 1);
    let v: serde_json::Value = serde_json::from_str(&f.lines[0]).unwrap();
    assert_eq!(v["host"], "127.0.0.2");
    assert_eq!(v["port"], echo);
    assert!(v["task"].as_str().unwrap().len() == 32, "{v}");
    let local: SocketAddr = v["local"].as_str().unwrap().parse().unwrap();
    assert!(local.ip().is_loopback());
    let sent = data(500_000, 3);
    let expected = sha(&sent);
    assert_eq!(echo_through(local, sent), expected);
    stop(f);
}

#[test]
fn connect_to_port_error_closes_the_connection_and_the_forward_goes_on() {
    let (_d, sb) = one_task("");
    let closed = closed_port();
    let echo = echo_server("127.0.0.1");
    let mut cmd = port_forward(&sb);
    cmd.args([
        "-L",
        &format!("0:localhost:{closed}"),
        "-L",
        &format!("0:localhost:{echo}"),
    ]);
    let mut f = Forwarding::start(cmd, 2);
    for _ in 0..2 {
        let mut c = TcpStream::connect(f.addr(0)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = c.write_all(b"hello");
        let mut buf = Vec::new();
        let n = c.read_to_end(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "a connection the task cannot make is closed");
    }
    // The other forward, in the same process, works meanwhile.
    let sent = data(100_000, 4);
    let expected = sha(&sent);
    assert_eq!(echo_through(f.addr(1), sent), expected);
    thread::sleep(Duration::from_millis(300));
    assert!(f.running(), "the forward keeps listening");
    let err = stop(f);
    let notices = err
        .lines()
        .filter(|l| l.contains("could not connect") && l.contains(&format!("localhost:{closed}")))
        .count();
    assert_eq!(notices, 2, "one line per failed connection:\n{err}");
}

#[test]
fn a_dropped_socket_mid_transfer_loses_nothing() {
    let (_d, sb) = one_task(
        "seed: 11\nexec:\n  output_duplicate_rate: 0.02\n  output_reorder_rate: 0.02\n  ack_drop_rate: 0.01\n  pause_after_messages: 2000\n  pause_for: 100ms\n  drop_socket_after_bytes: 3000000\n",
    );
    let echo = echo_server("127.0.0.1");
    let mut cmd = port_forward(&sb);
    cmd.args(["--port", &echo.to_string()]);
    let f = Forwarding::start(cmd, 1);
    let addr = f.addr(0);
    let all: Vec<_> = (0..3u32)
        .map(|i| {
            thread::spawn(move || {
                let sent = data(4 * 1024 * 1024, i);
                let expected = sha(&sent);
                assert_eq!(echo_through(addr, sent), expected, "connection {i}");
            })
        })
        .collect();
    for t in all {
        t.join().unwrap();
    }
    // That the socket dropped and was resumed is counted in-process
    // (sandbox::agent::port_tests::faults_and_a_dropped_socket_lose_nothing).
    stop(f);
}

#[test]
fn ctrl_c_terminates_the_session() {
    let (_d, sb) = one_task("");
    let echo = echo_server("127.0.0.1");
    let mut cmd = port_forward(&sb);
    cmd.args(["--port", &echo.to_string(), "--output", "json"]);
    let f = Forwarding::start(cmd, 1);
    let v: serde_json::Value = serde_json::from_str(&f.lines[0]).unwrap();
    let session = v["session"].as_str().unwrap().to_string();
    let resumed = post(
        &sb.url,
        "AmazonSSM.ResumeSession",
        &format!(r#"{{"SessionId":"{session}"}}"#),
    );
    assert!(resumed.contains("TokenValue"), "live before: {resumed}");
    stop(f);
    let resumed = post(
        &sb.url,
        "AmazonSSM.ResumeSession",
        &format!(r#"{{"SessionId":"{session}"}}"#),
    );
    assert!(
        !resumed.contains("TokenValue"),
        "terminated after: {resumed}"
    );
}

#[test]
fn sigterm_and_timeout_end_it_too() {
    let (_d, sb) = one_task("");
    let echo = echo_server("127.0.0.1");
    let mut cmd = port_forward(&sb);
    cmd.args(["--port", &echo.to_string()]);
    let f = Forwarding::start(cmd, 1);
    f.signal(libc::SIGTERM);
    let (code, err) = f.wait(Duration::from_secs(15));
    assert_eq!(code, Some(0), "{err}");

    let mut cmd = port_forward(&sb);
    cmd.args(["--port", &echo.to_string(), "--timeout", "1s"]);
    let f = Forwarding::start(cmd, 1);
    let (code, err) = f.wait(Duration::from_secs(15));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("--timeout reached"), "{err}");
}

#[test]
fn a_task_stopped_mid_forward_ends_ecsx_with_its_reason() {
    let (_d, sb) = one_task("");
    let echo = echo_server("127.0.0.1");
    let mut cmd = port_forward(&sb);
    cmd.args(["--port", &echo.to_string(), "-o", "json"]);
    let f = Forwarding::start(cmd, 1);
    let v: serde_json::Value = serde_json::from_str(&f.lines[0]).unwrap();
    let task = v["task"].as_str().unwrap().to_string();
    crate::interactive::stop_task(&sb.url, "app-cluster", &task);
    let (code, err) = f.wait(Duration::from_secs(20));
    assert_eq!(code, Some(255), "{err}");
    let last = err.lines().last().unwrap_or("");
    assert!(
        last.contains(&task) && last.contains("Stopped by the test"),
        "{err}"
    );
}

#[test]
fn ecspresso_v2_spelling() {
    let (_d, sb) = one_task("");
    let echo = echo_server("127.0.0.1");
    let mut cmd = sb.ecsx(&app());
    cmd.args([
        "exec",
        "--port-forward",
        "--local-port",
        "0",
        "--port",
        &echo.to_string(),
        "--host",
        "localhost",
    ]);
    let f = Forwarding::start(cmd, 1);
    let sent = data(200_000, 8);
    let expected = sha(&sent);
    assert_eq!(echo_through(f.addr(0), sent), expected);
    stop(f);
}

#[test]
fn usage_and_refusals_are_one_line() {
    let (_d, sb) = one_task("");
    let out = run(&mut port_forward(&sb));
    assert_one_line_error(&out, 2, &["nothing to forward", "--port"]);
    let out = run(port_forward(&sb).args(["-L", "8080:80"]));
    assert_one_line_error(&out, 2, &["-L", "LOCAL_PORT:HOST:REMOTE_PORT"]);
    let out = run(sb.ecsx(&app()).args(["exec", "--port", "80"]));
    assert_one_line_error(&out, 255, &["--port-forward"]);
    // A busy local port fails before any session.
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let out = run(port_forward(&sb).args(["--port", "80", "--local-port", &port.to_string()]));
    assert_one_line_error(&out, 255, &["cannot listen on 127.0.0.1", "in use"]);
}

#[test]
fn a_denied_start_session_stops_at_the_pre_flight() {
    let (_d, sb) = one_task(
        "iam:\n  caller_policies:\n    exec-only:\n      Version: \"2012-10-17\"\n      Statement:\n        - Effect: Allow\n          Action: [\"ecs:*\"]\n          Resource: \"*\"\n",
    );
    let out = run(port_forward(&sb).args(["--port", "80"]));
    assert_code(&out, 255);
    let err = stderr(&out);
    assert!(err.contains("[NG] port.caller.start_session"), "{err}");
    assert!(
        err.contains("document/AWS-StartPortForwardingSession"),
        "{err}"
    );
    assert!(err.contains("--skip-verify"), "{err}");
    // --skip-verify goes on (the sandbox does not enforce IAM).
    let echo = echo_server("127.0.0.1");
    let mut cmd = port_forward(&sb);
    cmd.args(["--port", &echo.to_string(), "--skip-verify"]);
    let f = Forwarding::start(cmd, 1);
    stop(f);
}

#[test]
fn a_bind_beyond_loopback_is_taken_when_written_and_warned_once() {
    let (_d, sb) = one_task("");
    let echo = echo_server("127.0.0.1");
    let mut cmd = port_forward(&sb);
    cmd.args([
        "-L",
        &format!("0.0.0.0:0:localhost:{echo}"),
        "-L",
        &format!("0.0.0.0:0:localhost:{echo}"),
        "-L",
        &format!("0:localhost:{echo}"),
    ]);
    let f = Forwarding::start(cmd, 3);
    assert!(f.lines[0].starts_with("0.0.0.0:"), "{:?}", f.lines);
    assert!(f.lines[2].starts_with("127.0.0.1:"), "{:?}", f.lines);
    let port = f.addr(0).port();
    let sent = data(10_000, 2);
    let expected = sha(&sent);
    assert_eq!(
        echo_through(SocketAddr::from(([127, 0, 0, 1], port)), sent),
        expected
    );
    let err = stop(f);
    let warnings = err.lines().filter(|l| l.contains("warning:")).count();
    assert_eq!(warnings, 1, "{err}");
    assert!(err.contains("0.0.0.0"), "{err}");
}

#[test]
fn target_not_connected_is_retried_then_explained() {
    let (_d, sb) = one_task("exec:\n  target_not_connected: 2\n");
    let echo = echo_server("127.0.0.1");
    let mut cmd = port_forward(&sb);
    cmd.args(["--port", &echo.to_string()]);
    let f = Forwarding::start(cmd, 1);
    let sent = data(1000, 1);
    let expected = sha(&sent);
    assert_eq!(echo_through(f.addr(0), sent), expected);
    stop(f);

    let (_d, sb) = one_task("exec:\n  target_not_connected: 100\n");
    let out = run(port_forward(&sb).args(["--port", "80"]));
    assert_one_line_error(&out, 1, &["TargetNotConnected", "ecsx verify"]);
}

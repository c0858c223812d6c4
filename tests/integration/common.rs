//! Shared helpers: a clean environment for the binary, a sandbox server
//! process, and paths into testdata/.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Environment variables that change ecsx's or the SDK's behaviour.
const CLEARED: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_ECS",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_SSM",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "ECSPRESSO_ENVFILE",
    "ECSPRESSO_EXT_STR",
    "ECSPRESSO_EXT_CODE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_MAX_ATTEMPTS",
    "ECSPRESSO_CONFIG",
    "NO_COLOR",
    "TAG",
];

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn testdata(rel: &str) -> PathBuf {
    root().join("testdata").join(rel)
}

/// The binary with a clean environment, fake credentials, no IMDS, no
/// shared config files.
pub fn ecsx() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecsx"));
    for var in CLEARED {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", "AKIDTESTEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret-do-not-print")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/ecsx-test/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/ecsx-test/credentials",
        )
        .env("TZ", "UTC")
        .stdin(Stdio::null());
    cmd
}

/// Run to completion and capture.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("spawn ecsx")
}

/// Run to completion with `input` on stdin, written from a thread so that a
/// large input cannot deadlock against the child's output.
pub fn run_with_stdin(cmd: &mut Command, input: Vec<u8>) -> Output {
    use std::io::Write as _;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ecsx");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().expect("write stdin");
    out
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Assert the exit code, showing both streams on failure.
#[track_caller]
pub fn assert_code(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code\nstdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// Assert an error is one line on stderr containing every fragment.
#[track_caller]
pub fn assert_one_line_error(out: &Output, code: i32, fragments: &[&str]) {
    assert_code(out, code);
    let err = stderr(out);
    // Warnings and exec's notes (the only running task, the session banner
    // `ecsx: task ID, container NAME: CMD`) are not errors.
    let info = |l: &str| {
        l.contains("warning:")
            || l.starts_with("ecsx: using the only running task")
            || (l.starts_with("ecsx: task ") && l.contains(", container "))
    };
    let lines: Vec<&str> = err.lines().filter(|l| !info(l)).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got:\n{err}");
    for f in fragments {
        assert!(lines[0].contains(f), "error line lacks {f:?}: {}", lines[0]);
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// A sandbox served by `ecsx sandbox serve` in its own process.
pub struct Sandbox {
    child: Child,
    pub url: String,
    /// What the server wrote to stderr (it runs with `--debug`): shown when
    /// the test fails, so that a failure says what the sandbox saw.
    log: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Sandbox {
    /// Serve the world derived from `config`, with an optional world file.
    pub fn start(config: &Path, world: Option<&Path>) -> Sandbox {
        let mut cmd = ecsx();
        cmd.arg("--config")
            .arg(config)
            .args(["sandbox", "serve", "--addr", "127.0.0.1:0"]);
        if let Some(world) = world {
            cmd.arg("--world").arg(world);
        }
        Self::spawn(cmd)
    }

    /// Serve a world given only as a YAML text (written to a temp file kept alive by the caller).
    pub fn with_world_text(config: &Path, dir: &Path, yaml: &str) -> Sandbox {
        let path = dir.join("world.yml");
        std::fs::write(&path, yaml).unwrap();
        Self::start(config, Some(&path))
    }

    /// Serve a whole world file, with no config (run in `dir`, which must
    /// hold no ecspresso config): for configs whose templates need the
    /// sandbox to render at all.
    pub fn world_only(world: &Path, dir: &Path) -> Sandbox {
        let mut cmd = ecsx();
        cmd.current_dir(dir)
            .args(["sandbox", "serve", "--addr", "127.0.0.1:0", "--world"])
            .arg(world);
        Self::spawn(cmd)
    }

    fn spawn(mut cmd: Command) -> Sandbox {
        let mut child = cmd
            .arg("--debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sandbox");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "sandbox did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        if let Some(mut stderr) = child.stderr.take() {
            let log = std::sync::Arc::clone(&log);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stderr.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    log.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        Sandbox {
            child,
            url: line.trim().to_string(),
            log,
        }
    }

    /// `ecsx --endpoint-url <sandbox> --config <config> ARGS`, with
    /// AWS_REGION for configs that name no region.
    pub fn ecsx(&self, config: &Path) -> Command {
        let mut cmd = ecsx();
        cmd.env("AWS_REGION", "us-east-1")
            .arg("--endpoint-url")
            .arg(&self.url)
            .arg("--config")
            .arg(config);
        cmd
    }
}

impl Sandbox {
    /// Kill the server outright (SIGKILL): AWS disappearing mid-session.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log.lock().map(|l| l.clone()).unwrap_or_default();
            eprintln!(
                "--- the sandbox's log ({}) ---\n{}--- end of the sandbox's log ---",
                self.url,
                String::from_utf8_lossy(&log)
            );
        }
        // SIGTERM first: the server then ends its sessions and removes its
        // task folders; SIGKILL only if it does not stop in time.
        // SAFETY: kill has no memory arguments.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(3) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POST an awsJson request to the sandbox with std only; returns the body.
pub fn post(url: &str, target: &str, body: &str) -> String {
    use std::io::{Read, Write as _};
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the sandbox");
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: {target}\r\nContent-Type: application/x-amz-json-1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

//! `exec --all-tasks`: one one-off command in many tasks at once, at most
//! `parallel` sessions open, each output line prefixed with its task's short
//! id, and one result per task.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use crate::aws::Aws;
use crate::ecs::Target;
use crate::error::Error;
use crate::exec::run::{self, BoxFuture, Input, RunOptions, Sink, StdoutPipe};
use crate::exec::session::ExecSession;
use crate::exec::target::{self, Chosen};
use crate::exec::wrap::Mode;

/// Exit status given to a task whose session could not run the command.
pub const FAILED: i32 = 255;

/// How one task fared.
#[derive(Debug, Clone)]
pub struct TaskResult {
    /// The task's id.
    pub task_id: String,
    /// The command's exit status, or [`FAILED`].
    pub exit: i32,
    /// From the session's start to its end.
    pub duration: Duration,
    /// Its stdout, when collected (JSON output).
    pub stdout: Vec<u8>,
    /// Why there is no exit status, when there is none.
    pub error: Option<String>,
}

/// Where output goes.
pub enum Output<'a> {
    /// Line by line to stdout, each line prefixed (`3f2a9c1e | `), coloured
    /// per task when `color`.
    Prefixed { pipe: &'a StdoutPipe, color: bool },
    /// Kept per task, for a report at the end.
    Collected,
}

/// The short id shown before each line: the first 8 characters.
pub fn short_id(task_id: &str) -> &str {
    &task_id[..task_id.len().min(8)]
}

const COLORS: [&str; 6] = ["36", "33", "35", "32", "34", "31"];

/// Cuts output into whole lines, each sent with its prefix in one write,
/// so lines of different tasks never interleave mid-line.
struct LineSink<'a> {
    pipe: Option<&'a StdoutPipe>,
    prefix: Vec<u8>,
    partial: Vec<u8>,
    collected: Vec<u8>,
}

impl LineSink<'_> {
    fn lines(&mut self, bytes: &[u8], end: bool) -> Vec<u8> {
        let mut out = Vec::new();
        self.partial.extend_from_slice(bytes);
        let cut = if end {
            if !self.partial.is_empty() && !self.partial.ends_with(b"\n") {
                self.partial.push(b'\n');
            }
            self.partial.len()
        } else {
            match memchr::memrchr(b'\n', &self.partial) {
                Some(nl) => nl + 1,
                None => return out,
            }
        };
        let whole: Vec<u8> = self.partial.drain(..cut).collect();
        for line in whole.split_inclusive(|&b| b == b'\n') {
            out.extend_from_slice(&self.prefix);
            out.extend_from_slice(line);
        }
        out
    }
}

impl Sink for LineSink<'_> {
    fn write(&mut self, bytes: Vec<u8>) -> BoxFuture<'_, std::io::Result<()>> {
        Box::pin(async move {
            match self.pipe {
                Some(pipe) => {
                    let out = self.lines(&bytes, false);
                    if !out.is_empty() {
                        pipe.send(out).await?;
                    }
                }
                None => self.collected.extend_from_slice(&bytes),
            }
            Ok(())
        })
    }
}

/// Run `command` in each chosen container, at most `parallel` at once.
/// Results come back in the order of `chosen`.
pub async fn run_all(
    aws: &Aws,
    target: &Target,
    chosen: Vec<Chosen>,
    command: &str,
    parallel: usize,
    deadline: Option<(tokio::time::Instant, String)>,
    output: Output<'_>,
) -> Vec<TaskResult> {
    let (pipe, color) = match &output {
        Output::Prefixed { pipe, color } => (Some(*pipe), *color),
        Output::Collected => (None, false),
    };
    let width = chosen.len();
    let mut results: Vec<(usize, TaskResult)> = stream::iter(chosen.into_iter().enumerate())
        .map(|(i, c)| {
            let deadline = deadline.clone();
            async move {
                let prefix = match color {
                    true => format!(
                        "\x1b[{}m{}\x1b[0m | ",
                        COLORS[i % COLORS.len()],
                        short_id(&c.task_id)
                    ),
                    false => format!("{} | ", short_id(&c.task_id)),
                };
                let mut sink = LineSink {
                    pipe,
                    prefix: prefix.into_bytes(),
                    partial: Vec::new(),
                    collected: Vec::new(),
                };
                let started = Instant::now();
                let outcome = one(aws, target, &c, command, deadline, &mut sink).await;
                if let Some(pipe) = pipe {
                    let rest = sink.lines(&[], true);
                    if !rest.is_empty() {
                        let _ = pipe.send(rest).await;
                    }
                }
                let (exit, error) = match outcome {
                    Ok(code) => (code, None),
                    Err(Error::Timeout(t)) => (124, Some(format!("reached --timeout {t}"))),
                    Err(e) => (FAILED, Some(e.to_string())),
                };
                (
                    i,
                    TaskResult {
                        task_id: c.task_id.clone(),
                        exit,
                        duration: started.elapsed(),
                        stdout: sink.collected,
                        error,
                    },
                )
            }
        })
        .buffer_unordered(parallel.max(1).min(width.max(1)))
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

async fn one(
    aws: &Aws,
    target: &Target,
    chosen: &Chosen,
    command: &str,
    deadline: Option<(tokio::time::Instant, String)>,
    sink: &mut LineSink<'_>,
) -> crate::error::Result<i32> {
    target::check_ready(chosen)?;
    let session = ExecSession::start(aws, target, chosen, command, Mode::OneOff).await?;
    let options = RunOptions {
        deadline,
        watch: Some((aws.clone(), target.clone())),
        signals: false,
        input: Input::None,
        on_input: None,
    };
    // Banners before the command starts are dropped: they would repeat
    // once per task.
    run::run(session, options, sink, &mut |_| {}).await
}

/// ecsx's exit status for a fan-out: 0 when every command exited 0, else
/// the highest status among them.
pub fn combined_status(results: &[TaskResult]) -> i32 {
    results.iter().map(|r| r.exit).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_whole_and_prefixed() {
        let mut sink = LineSink {
            pipe: None,
            prefix: b"abc | ".to_vec(),
            partial: Vec::new(),
            collected: Vec::new(),
        };
        assert_eq!(sink.lines(b"one\ntw", false), b"abc | one\n");
        assert_eq!(sink.lines(b"o\nthree", false), b"abc | two\n");
        assert_eq!(sink.lines(b"", true), b"abc | three\n");
        assert_eq!(sink.lines(b"", true), b"");
    }

    #[test]
    fn the_worst_status_wins() {
        let r = |exit| TaskResult {
            task_id: "t".into(),
            exit,
            duration: Duration::ZERO,
            stdout: vec![],
            error: None,
        };
        assert_eq!(combined_status(&[r(0), r(0)]), 0);
        assert_eq!(combined_status(&[r(0), r(3), r(1)]), 3);
        assert_eq!(combined_status(&[r(0), r(255)]), 255);
        assert_eq!(short_id("3f2a9c1e0000"), "3f2a9c1e");
    }
}

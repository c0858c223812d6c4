//! The session API without the binary: an in-process sandbox, the real SDK,
//! `target::choose`, `ExecSession`, `run::run`, and the fan-out.

use crate::app::App;
use crate::cli::Cli;
use crate::exec::fanout::{self, Output};
use crate::exec::run::{self, BoxFuture, Input, RunOptions, Sink};
use crate::exec::session::{ExecSession, SessionEvent};
use crate::exec::target;
use crate::exec::wrap::Mode;

/// An app on an in-process sandbox built from the test config (two tasks).
fn app() -> App {
    use clap::Parser;
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/app/ecspresso.yml");
    let cli = Cli::try_parse_from(["ecsx", "--sandbox", "--config", config, "tasks"]).unwrap();
    App::new(cli.global)
}

#[derive(Default)]
struct Collect(Vec<u8>);

impl Sink for Collect {
    fn write(&mut self, bytes: Vec<u8>) -> BoxFuture<'_, std::io::Result<()>> {
        self.0.extend_from_slice(&bytes);
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_off_session_gives_exact_output_and_status() {
    let mut app = app();
    let target = app.target().unwrap();
    let aws = app.aws().await.unwrap().clone();
    let tasks = target::running_tasks(&aws, &target).await.unwrap();
    let id = crate::ecs::task_id(&tasks[0]).to_string();
    let chosen = target::choose(&aws, &target, Some(&id), None, false)
        .await
        .unwrap();
    assert_eq!(chosen.task_id, id);
    target::check_ready(&chosen).unwrap();
    let session = ExecSession::start(
        &aws,
        &target,
        &chosen,
        "printf 'a\\nb\\r\\nc'; exit 7",
        Mode::OneOff,
    )
    .await
    .unwrap();
    let mut out = Collect::default();
    let status = run::run(session, RunOptions::plain(), &mut out, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(status, 7);
    assert_eq!(out.0, b"a\nb\r\nc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_come_in_order_and_input_reaches_a_pipe_command() {
    let mut app = app();
    let target = app.target().unwrap();
    let aws = app.aws().await.unwrap().clone();
    let first = target::running_tasks(&aws, &target).await.unwrap()[0].clone();
    let id = crate::ecs::task_id(&first).to_string();
    let chosen = target::choose(&aws, &target, Some(&id), None, false)
        .await
        .unwrap();
    // Events by hand: Started before any stdout, Exited after it.
    let mut session = ExecSession::start(&aws, &target, &chosen, "echo hi", Mode::OneOff)
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Some(event) = session.next().await.unwrap() {
        let exited = matches!(event, SessionEvent::Exited(_));
        seen.push(event);
        if exited {
            break;
        }
    }
    session.close().await;
    let started = seen
        .iter()
        .position(|e| *e == SessionEvent::Started)
        .unwrap_or_else(|| panic!("no Started: {seen:?}"));
    let stdout = seen
        .iter()
        .position(|e| matches!(e, SessionEvent::Stdout(_)))
        .unwrap_or_else(|| panic!("no Stdout: {seen:?}"));
    assert!(started < stdout, "{seen:?}");
    assert_eq!(seen.last(), Some(&SessionEvent::Exited(0)));

    // Pipe mode with input bytes.
    let session = ExecSession::start(&aws, &target, &chosen, "tr a-z A-Z", Mode::Pipe)
        .await
        .unwrap();
    let mut options = RunOptions::plain();
    options.input = Input::Bytes(b"shout\n".to_vec());
    let mut out = Collect::default();
    let status = run::run(session, options, &mut out, &mut |_| {})
        .await
        .unwrap();
    assert_eq!((status, out.0.as_slice()), (0, &b"SHOUT\n"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fan_out_runs_in_every_task() {
    let mut app = app();
    let target = app.target().unwrap();
    let aws = app.aws().await.unwrap().clone();
    let mut chosen = Vec::new();
    for task in target::running_tasks(&aws, &target).await.unwrap() {
        let container = target::choose_container(&aws, &target, &task, None)
            .await
            .unwrap();
        chosen.push(target::Chosen::new(task, container, &target));
    }
    assert_eq!(chosen.len(), 2);
    let results = fanout::run_all(
        &aws,
        &target,
        chosen.clone(),
        "pwd; exit 2",
        1,
        None,
        Output::Collected,
    )
    .await;
    assert_eq!(results.len(), 2);
    for (r, c) in results.iter().zip(&chosen) {
        assert_eq!(r.task_id, c.task_id);
        assert_eq!(r.exit, 2);
        // Each task's working folder is named after it.
        assert!(String::from_utf8_lossy(&r.stdout)
            .trim()
            .ends_with(&c.task_id));
    }
    assert_eq!(fanout::combined_status(&results), 2);
}

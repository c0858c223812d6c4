//! Choosing one of several candidates (running tasks), as ecspresso users
//! know it: a numbered list and `Select task number (1-N):` at a terminal,
//! or ecspresso's filter command (`peco`, `fzf`, `head -1` in a script),
//! which reads the candidate lines on its stdin and prints the chosen one.
//!
//! The filter command comes from `--filter-command` /
//! `ECSPRESSO_FILTER_COMMAND`, else the config's `filter_command:`. It needs
//! no terminal of ecsx's (peco and fzf open /dev/tty themselves), so scripts
//! can pick with it; the numbered prompt is only shown when the caller says
//! the terminal is free to ask on.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use dialoguer::theme::SimpleTheme;

use crate::error::{Error, Result};

/// One choice: `id` is what the filter command's answer is matched on (the
/// first word of the chosen line), `summary` what a person reads beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub summary: String,
}

impl Candidate {
    /// The line a filter command gets: the id first, then the summary.
    pub fn filter_line(&self) -> String {
        format!("{} ({})", self.id, self.summary)
    }
}

/// How the choice was made, or why it could not be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The index of the chosen candidate.
    Picked(usize),
    /// No filter command and no terminal to ask on: the caller explains.
    CannotAsk,
}

/// The filter command the app settled on (see [`set_filter_command`]).
static FILTER: Mutex<Option<String>> = Mutex::new(None);

/// Record the filter command in force for this process: the app calls it
/// with [`filter_command`]'s answer once the flag and the config are known.
pub fn set_filter_command(command: Option<String>) {
    if let Ok(mut slot) = FILTER.lock() {
        *slot = command;
    }
}

/// The filter command recorded by [`set_filter_command`], if any.
pub fn configured_filter_command() -> Option<String> {
    FILTER.lock().ok().and_then(|slot| slot.clone())
}

/// The filter command in force: the flag or ECSPRESSO_FILTER_COMMAND (clap
/// reads both into `flag`), else the config's `filter_command:`; blank is none.
pub fn filter_command(flag: Option<&str>, config: Option<&str>) -> Option<String> {
    flag.or(config)
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
}

/// Choose one of `candidates` (at least two) by the filter command if there
/// is one, else by the numbered prompt when `can_prompt`. `noun` names them
/// (`task`). Ctrl-C at the prompt, or an empty answer from the filter
/// command, is [`Error::Interrupted`] (exit 130).
pub async fn choose(
    noun: &str,
    candidates: &[Candidate],
    filter: Option<&str>,
    can_prompt: bool,
) -> Result<Choice> {
    if let Some(command) = filter {
        let lines: Vec<String> = candidates.iter().map(Candidate::filter_line).collect();
        let command_owned = command.to_owned();
        let answer = tokio::task::spawn_blocking(move || run_filter(&command_owned, &lines))
            .await
            .map_err(|e| Error::Usage(format!("the filter command failed: {e}")))??;
        return match_answer(noun, command, candidates, &answer).map(Choice::Picked);
    }
    if !can_prompt {
        return Ok(Choice::CannotAsk);
    }
    let lines: Vec<String> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{}. {} ({})", i + 1, c.id, c.summary))
        .collect();
    prompt(noun, lines).await.map(Choice::Picked)
}

/// Run `command` (through `sh -c` when it has more than one word, as
/// ecspresso does) with `lines` on its stdin; returns its stdout.
fn run_filter(command: &str, lines: &[String]) -> Result<String> {
    let cannot = |e: &dyn std::fmt::Display| {
        Error::Usage(format!(
            "cannot run the filter command {command:?}: {e}; fix --filter-command, ECSPRESSO_FILTER_COMMAND or `filter_command:` in the config"
        ))
    };
    let mut cmd = if command.split_whitespace().count() > 1 {
        let mut sh = Command::new("sh");
        sh.args(["-c", command]);
        sh
    } else {
        Command::new(command)
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| cannot(&e))?;
    let mut stdin = child.stdin.take().expect("piped");
    let mut text = lines.join("\n");
    text.push('\n');
    // From a thread: a filter that answers before reading everything (`head
    // -1`) must not block us, and its early exit is no error.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(text.as_bytes());
    });
    let mut answer = String::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut answer)
        .map_err(|e| cannot(&e))?;
    let status = child.wait().map_err(|e| cannot(&e))?;
    let _ = writer.join();
    // 126/127: sh could not find or run it.
    if matches!(status.code(), Some(126 | 127)) {
        return Err(cannot(&format!("sh exited {status}")));
    }
    Ok(answer)
}

/// The candidate the filter command's answer names (its first line's first
/// word); nothing chosen is a cancel.
fn match_answer(
    noun: &str,
    command: &str,
    candidates: &[Candidate],
    answer: &str,
) -> Result<usize> {
    let line = answer.lines().find(|l| !l.trim().is_empty());
    let Some(line) = line else {
        return Err(Error::Interrupted);
    };
    let word = line.split_whitespace().next().unwrap_or_default();
    candidates.iter().position(|c| c.id == word).ok_or_else(|| {
        Error::Usage(format!(
            "the filter command {command:?} answered {line:?}, which is not one of the {noun}s it was given; it must print one of its input lines"
        ))
    })
}

/// The numbered prompt on stderr, by dialoguer: the list, then `Select NOUN
/// number (1-N):` until the answer is a number in range.
async fn prompt(noun: &str, lines: Vec<String>) -> Result<usize> {
    // Listen for Ctrl-C before the prompt shows, so none is missed: the
    // prompt reads keys in raw mode and raises SIGINT itself on Ctrl-C.
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let noun = noun.to_owned();
    let asked = tokio::task::spawn_blocking(move || ask(&noun, &lines));
    tokio::select! {
        answer = asked => match answer {
            Ok(Ok(index)) => Ok(index),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted
                || e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Error::Interrupted),
            Ok(Err(e)) => Err(Error::Usage(format!("reading the answer failed: {e}"))),
            Err(e) => Err(Error::Usage(format!("reading the answer failed: {e}"))),
        },
        _ = sigint.recv() => {
            let _ = writeln!(std::io::stderr());
            Err(Error::Interrupted)
        }
    }
}

fn ask(noun: &str, lines: &[String]) -> std::io::Result<usize> {
    let term = dialoguer::console::Term::stderr();
    term.write_line(&format!("Select {noun}:"))?;
    for line in lines {
        term.write_line(line)?;
    }
    let n = lines.len();
    let answer: String = dialoguer::Input::with_theme(&SimpleTheme)
        .with_prompt(format!("Select {noun} number (1-{n})"))
        .validate_with(move |text: &String| -> std::result::Result<(), String> {
            match text.trim().parse::<usize>() {
                Ok(k) if (1..=n).contains(&k) => Ok(()),
                _ => Err(format!("Enter a number from 1 to {n}.")),
            }
        })
        .interact_on(&term)
        .map_err(std::io::Error::from)?;
    answer
        .trim()
        .parse::<usize>()
        .map(|k| k - 1)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tasks() -> Vec<Candidate> {
        ["aaaa1111", "bbbb2222", "cccc3333"]
            .iter()
            .map(|id| Candidate {
                id: id.to_string(),
                summary: "RUNNING, started 2026-11-30 10:00:00, exec ready".into(),
            })
            .collect()
    }

    #[test]
    fn the_flag_or_env_wins_over_the_config_and_blank_is_none() {
        assert_eq!(
            filter_command(Some("fzf"), Some("peco")).as_deref(),
            Some("fzf")
        );
        assert_eq!(filter_command(None, Some("peco")).as_deref(), Some("peco"));
        assert_eq!(filter_command(Some("  "), Some("peco")), None);
        assert_eq!(filter_command(None, None), None);
    }

    #[tokio::test]
    async fn a_filter_command_picks_by_the_first_word_of_its_line() {
        let t = tasks();
        let choice = choose("task", &t, Some("head -1"), false).await.unwrap();
        assert_eq!(choice, Choice::Picked(0));
        let choice = choose("task", &t, Some("grep bbbb"), false).await.unwrap();
        assert_eq!(choice, Choice::Picked(1));
        let choice = choose("task", &t, Some("tail -n 1"), false).await.unwrap();
        assert_eq!(choice, Choice::Picked(2));
    }

    #[tokio::test]
    async fn an_empty_answer_cancels_and_a_strange_one_is_explained() {
        let t = tasks();
        let e = choose("task", &t, Some("grep nothing-matches"), false)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Interrupted), "{e}");
        assert_eq!(e.exit_code(), 130);
        let e = choose("task", &t, Some("echo dddd4444"), false)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not one of the tasks"), "{e}");
        let e = choose("task", &t, Some("/nonexistent/filter"), false)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("cannot run the filter command"),
            "{e}"
        );
        let e = choose("task", &t, Some("no-such-filter-command --x"), false)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("ECSPRESSO_FILTER_COMMAND"), "{e}");
    }

    #[tokio::test]
    async fn without_a_filter_or_a_terminal_nobody_is_asked() {
        assert_eq!(
            choose("task", &tasks(), None, false).await.unwrap(),
            Choice::CannotAsk
        );
    }
}

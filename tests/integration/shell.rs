//! Shell integration: completion scripts that load and complete, man pages
//! that render, help with its global flags apart and examples at the end.

use std::process::Command;

use crate::common::*;

/// Whether a tool is installed; in CI it must be (.ci/run installs it).
fn have(tool: &str, arg: &str) -> bool {
    let found = Command::new(tool).arg(arg).output().is_ok();
    if !found {
        assert!(std::env::var_os("CI").is_none(), "{tool} is required in CI");
        eprintln!("{tool} not found: skipping");
    }
    found
}

/// The folder of the binary, to put first on PATH.
fn bin_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_BIN_EXE_ecsx"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn path_with_ecsx() -> String {
    format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn every_shell_gets_a_completion_script() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef ecsx"),
        ("fish", "complete -c ecsx"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[ecsx]"),
    ] {
        let out = run(ecsx().args(["completion", shell]));
        assert_code(&out, 0);
        assert!(stdout(&out).contains(marker), "{shell}: {}", stdout(&out));
        assert!(
            stdout(&out).contains("verify"),
            "{shell} lacks the commands"
        );
    }
    let out = run(ecsx().args(["completion", "tcsh"]));
    assert_code(&out, 2);
    assert!(stderr(&out).contains("bash"), "{}", stderr(&out));
}

#[test]
fn the_bash_script_loads_and_completes_commands_and_flags() {
    if !have("bash", "--version") {
        return;
    }
    // Sourced as a user would; then ask its completion function what it
    // offers for `ecsx ve<TAB>`, `ecsx exec --tas<TAB>` and `ecsx completion <TAB>`.
    let script = r#"
source <(ecsx completion bash) || exit 3
complete -p ecsx || exit 4
spec=$(complete -p ecsx)
fn=$(printf '%s\n' "$spec" | sed -n 's/.*-F \([^ ]*\).*/\1/p')
offer() {
  COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  "$fn" ecsx "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
  echo "$1 ${*:2}: ${COMPREPLY[*]}"
}
offer ecsx ve
offer ecsx exec --tas
offer ecsx completion ''
"#;
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", script])
        .env("PATH", path_with_ecsx())
        .output()
        .unwrap();
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("-F _ecsx ecsx"), "{text}");
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {text}"))
            .to_string()
    };
    assert_eq!(line("ecsx ve:"), "ecsx ve: verify");
    assert!(line("ecsx exec --tas:").contains("--task-id"), "{text}");
    let shells = line("ecsx completion :");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        assert!(shells.contains(shell), "{shells}");
    }
}

#[test]
fn the_man_pages_render() {
    if !have("man", "--version") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let render = |page: &std::path::Path| {
        let out = Command::new("man")
            .arg("-l")
            .arg(page)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .env("LANG", "C.UTF-8")
            .output()
            .unwrap();
        assert_code(&out, 0);
        // groff's warnings would land on stderr.
        assert!(stderr(&out).trim().is_empty(), "{}", stderr(&out));
        stdout(&out)
    };

    let out = run(ecsx().arg("man"));
    assert_code(&out, 0);
    let page = dir.path().join("ecsx.1");
    std::fs::write(&page, &out.stdout).unwrap();
    let text = render(&page);
    for part in [
        "NAME",
        "SYNOPSIS",
        "--quiet",
        "exec",
        "verify",
        "completion",
    ] {
        assert!(text.contains(part), "ecsx(1) lacks {part}:\n{text}");
    }

    let out = run(ecsx().args(["man", "exec"]));
    assert_code(&out, 0);
    let page = dir.path().join("ecsx-exec.1");
    std::fs::write(&page, &out.stdout).unwrap();
    let text = render(&page);
    for part in ["ecsx-exec", "--task-id", "--pipe", "Examples:"] {
        assert!(text.contains(part), "ecsx-exec(1) lacks {part}:\n{text}");
    }

    let pages = dir.path().join("man1");
    let out = run(ecsx().args(["man", "--out-dir"]).arg(&pages));
    assert_code(&out, 0);
    for name in [
        "ecsx.1",
        "ecsx-exec.1",
        "ecsx-verify.1",
        "ecsx-sandbox-serve.1",
    ] {
        assert!(pages.join(name).is_file(), "{name} not written");
    }
    render(&pages.join("ecsx-sandbox-serve.1"));

    let out = run(ecsx().args(["man", "nonsense"]));
    assert_one_line_error(&out, 2, &["no command \"nonsense\"", "exec"]);
}

#[test]
fn help_puts_global_flags_apart_and_ends_with_examples() {
    let out = run(ecsx().args(["tasks", "--help"]));
    assert_code(&out, 0);
    let text = stdout(&out);
    let (own, global) = text
        .split_once("Global options:")
        .expect("a global heading");
    assert!(own.contains("--all") && !own.contains("--region"), "{text}");
    assert!(
        global.contains("--region") && global.contains("--quiet"),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("ecsx tasks -o tsv | cut -f1                 # just the task ids"),
        "{text}"
    );
}

#[test]
fn a_closed_pipe_ends_completion_quietly() {
    let out = Command::new("bash")
        .args([
            "-c",
            "ecsx completion bash | true; echo \"${PIPESTATUS[0]}\"",
        ])
        .env("PATH", path_with_ecsx())
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "0", "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

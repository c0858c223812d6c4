//! How ecsx turns the user's command into what the ECS Exec agent runs, and
//! the remote output back into exactly the command's bytes and exit status.
//!
//! The agent runs a command in a pseudo-terminal, split shell-style and
//! without a shell, and never reports an exit status (protocol.md §5). So
//! ecsx sends `sh -c '<script>'`, where the script
//!
//! 1. checks for `base64` (the only tool it needs besides `sh`),
//! 2. tries `stty` to switch off the terminal's `\n` → `\r\n` mapping (and, for
//!    `--pipe`, echo), and reports which it managed in a *ready* line,
//! 3. decodes the user's command from base64 (so no quoting can break it),
//! 4. runs it in a subshell (stdin from /dev/null in one-off mode, from the
//!    base64-decoded terminal input with `--pipe`, the terminal itself when
//!    interactive), and
//! 5. prints an *exit* line with `$?` (one-off and pipe modes keep a Ctrl-C
//!    handler so that the shell outlives an interrupt of the command).
//!
//! Every marker carries a per-run random nonce, so no command output can
//! forge one. [`OutputFilter`] strips the markers, sends what came before the
//! ready line to stderr, undoes the `\r\n` mapping when `stty` was missing
//! (the mapping inserts a `\r` before every `\n` and touches nothing else, so
//! removing the `\r` right before each `\n` gives back the exact bytes), and
//! yields the exit status.

/// What kind of session the script sets up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Output only; the command's stdin is /dev/null.
    OneOff,
    /// The command's stdin is fed from ecsx's stdin, base64-carried.
    Pipe,
    /// A terminal session: raw input, the remote terminal as is.
    Interactive,
    /// As `Pipe`, for callers that read only their own marked lines (`cp`):
    /// without `stty` it goes on, and the terminal's echo of the input then
    /// comes back as output.
    Upload,
}

/// Quote one argument for `sh`.
pub fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return arg.to_string();
    }
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// The command line for `sh` from an argv, each argument kept exactly.
pub fn join_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A fresh random nonce for markers.
pub fn new_nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_string()
}

fn marker(nonce: &str, what: &str) -> String {
    format!("__ecsx_{nonce}_{what}")
}

/// How the user's command gets into the script without a single quote (the
/// whole script is one single-quoted word for the agent): `(prelude, word)`,
/// where `word` is a double-quoted shell word holding the command.
///
/// Printable ASCII without `'` goes in as is, with `\`, `"`, `$` and `` ` ``
/// escaped: no process is started to decode it. Anything else (a `'`, a
/// newline, UTF-8) is spelled as `printf` octal escapes in a variable, which
/// costs one fork of the shell and no program; a sentinel keeps trailing
/// newlines.
fn embed(command: &str) -> (String, String) {
    let plain = command
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'\'');
    if plain {
        let mut word = String::with_capacity(command.len() + 2);
        word.push('"');
        for c in command.chars() {
            if matches!(c, '\\' | '"' | '$' | '`') {
                word.push('\\');
            }
            word.push(c);
        }
        word.push('"');
        return (String::new(), word);
    }
    let mut format = String::with_capacity(command.len() * 2);
    for b in command.bytes() {
        if b.is_ascii_alphanumeric() || b" _./=:,+@".contains(&b) {
            format.push(b as char);
        } else {
            format.push_str(&format!("\\{b:03o}"));
        }
    }
    (
        format!("__ecsx_c=$(printf \"{format}_\") || exit 127; __ecsx_c=${{__ecsx_c%_}}; "),
        "\"$__ecsx_c\"".to_string(),
    )
}

/// The command string for ExecuteCommand.
pub fn remote_command(command: &str, mode: Mode, nonce: &str) -> String {
    let nob64 = marker(nonce, "nobase64");
    let nostty = marker(nonce, "nostty");
    let ready = marker(nonce, "ready");
    let exit = marker(nonce, "exit");
    // Only the input of --pipe and cp uploads travels base64-encoded.
    let check = format!("command -v base64 >/dev/null 2>&1 || {{ echo {nob64}; exit 127; }}; ");
    // Ctrl-C reaches the whole foreground group: this shell survives it (a
    // handler, not an ignore, so the command, in a subshell, gets the default
    // action back) and still reports the command's status.
    let survive = "trap : INT; ";
    let (prelude, word) = embed(command);
    let report = format!("printf \"\\n{exit}%d\\n\" $?");
    // One-off output needs no `stty`: the filter undoes the terminal's
    // `\n` -> `\r\n` exactly, and not starting it saves a program per session
    // (it shows when a command runs on a hundred tasks at once).
    let script = match mode {
        Mode::OneOff => format!(
            "{survive}echo {ready}t; {prelude}( eval {word} ) </dev/null; {report}"
        ),
        Mode::Pipe => format!(
            "{check}{survive}stty -echo -onlcr 2>/dev/null || {{ echo {nostty}; exit 127; }}; echo {ready}r; {prelude}base64 -d | ( eval {word} ); {report}"
        ),
        Mode::Upload => format!(
            "{check}{survive}stty -echo -onlcr 2>/dev/null && __ecsx_m=r || __ecsx_m=t; echo {ready}$__ecsx_m; {prelude}base64 -d | ( eval {word} ); {report}"
        ),
        Mode::Interactive => format!("{prelude}( eval {word} ); {report}"),
    };
    debug_assert!(!script.contains('\''));
    format!("sh -c '{script}'")
}

/// What the remote side said about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remote {
    /// Still waiting for the ready line (one-off and pipe modes).
    Starting,
    /// The command runs; input may be sent.
    Running,
    /// The command ended with this status.
    Exited(i32),
    /// The image has no `base64`.
    NoBase64,
    /// The image has no `stty` (needed by `--pipe` to turn echo off).
    NoStty,
}

/// Output split for the user's streams.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Filtered {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Streaming filter over the remote terminal's output.
#[derive(Debug)]
pub struct OutputFilter {
    mode: Mode,
    ready: Vec<u8>,
    exit: Vec<u8>,
    nob64: Vec<u8>,
    nostty: Vec<u8>,
    state: Remote,
    /// Undo `\n` → `\r\n` (no stty in one-off mode).
    invert_onlcr: bool,
    /// Bytes held back: a possible marker prefix, or a `\r` that may precede `\n`.
    held: Vec<u8>,
}

impl OutputFilter {
    pub fn new(mode: Mode, nonce: &str) -> OutputFilter {
        OutputFilter {
            mode,
            ready: marker(nonce, "ready").into_bytes(),
            exit: marker(nonce, "exit").into_bytes(),
            nob64: marker(nonce, "nobase64").into_bytes(),
            nostty: marker(nonce, "nostty").into_bytes(),
            state: if mode == Mode::Interactive {
                Remote::Running
            } else {
                Remote::Starting
            },
            invert_onlcr: false,
            held: Vec::new(),
        }
    }

    pub fn state(&self) -> &Remote {
        &self.state
    }

    /// Feed remote output; returns what to write now.
    pub fn feed(&mut self, bytes: &[u8]) -> Filtered {
        let mut out = Filtered::default();
        self.held.extend_from_slice(bytes);
        loop {
            match self.state {
                Remote::Starting => {
                    if !self.scan_start(&mut out) {
                        break;
                    }
                }
                Remote::Running => {
                    self.scan_running(&mut out);
                    break;
                }
                _ => {
                    // After the exit line only the shell's end remains: drop it.
                    self.held.clear();
                    break;
                }
            }
        }
        out
    }

    /// At the end of the session: release anything held back.
    pub fn finish(&mut self) -> Filtered {
        let mut out = Filtered::default();
        let held = std::mem::take(&mut self.held);
        match self.state {
            Remote::Starting => out.stderr = held,
            Remote::Running => out.stdout = held,
            _ => {}
        }
        out
    }

    /// Look for a complete line carrying a start marker. Returns whether the
    /// state changed (so scanning goes on).
    fn scan_start(&mut self, out: &mut Filtered) -> bool {
        while let Some(nl) = self.held.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.held.drain(..=nl).collect();
            let text = trim_eol(&line);
            if let Some(rest) = text.strip_prefix(self.ready.as_slice()) {
                self.invert_onlcr = rest != b"r";
                self.state = Remote::Running;
                return true;
            }
            if text.ends_with(&self.nob64) {
                self.state = Remote::NoBase64;
                return true;
            }
            if text.ends_with(&self.nostty) {
                self.state = Remote::NoStty;
                return true;
            }
            // Banners and shell noise before the command starts.
            out.stderr.extend_from_slice(&line);
        }
        false
    }

    fn scan_running(&mut self, out: &mut Filtered) {
        // Find the exit marker; everything before it is output.
        if let Some(at) = find(&self.held, &self.exit) {
            let after = &self.held[at + self.exit.len()..];
            let digits: Vec<u8> = after
                .iter()
                .copied()
                .take_while(u8::is_ascii_digit)
                .collect();
            let complete = after.len() > digits.len() && !digits.is_empty();
            if !complete {
                // Wait for the rest of the exit line; keep the newline the
                // script printed before the marker.
                let before: Vec<u8> = self.held.drain(..at.saturating_sub(2)).collect();
                self.emit(&before, false, out);
                return;
            }
            let status = std::str::from_utf8(&digits)
                .ok()
                .and_then(|d| d.parse().ok())
                .unwrap_or(255);
            let mut before: Vec<u8> = self.held[..at].to_vec();
            // The script printed a newline before the marker.
            if before.ends_with(b"\r\n") && (self.mode == Mode::Interactive || self.invert_onlcr) {
                before.truncate(before.len() - 2);
            } else if before.ends_with(b"\n") {
                before.pop();
            }
            self.held.clear();
            self.emit(&before, true, out);
            self.state = Remote::Exited(status);
            return;
        }
        // Hold back a tail that could be the start of the marker ("\r\n" + marker).
        let partial = partial_suffix(&self.held, &self.exit);
        let keep = partial + trailing_newline_run(&self.held[..self.held.len() - partial]);
        let ready_len = self.held.len() - keep;
        let ready: Vec<u8> = self.held.drain(..ready_len).collect();
        self.emit(&ready, false, out);
    }

    /// Write bytes to stdout, undoing `\r\n` when needed. A trailing `\r` is
    /// kept until the next byte unless this is the last output.
    fn emit(&mut self, bytes: &[u8], last: bool, out: &mut Filtered) {
        if !self.invert_onlcr || self.mode == Mode::Interactive {
            out.stdout.extend_from_slice(bytes);
            return;
        }
        let mut start = 0;
        for cr in memchr::memchr_iter(b'\r', bytes) {
            match bytes.get(cr + 1) {
                Some(b'\n') => {
                    out.stdout.extend_from_slice(&bytes[start..cr]);
                    start = cr + 1;
                }
                Some(_) => {}
                None if !last => {
                    // Undecided: keep for the next feed.
                    out.stdout.extend_from_slice(&bytes[start..cr]);
                    self.held.splice(0..0, [b'\r']);
                    return;
                }
                None => {}
            }
        }
        out.stdout.extend_from_slice(&bytes[start..]);
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && (line[end - 1] == b'\n' || line[end - 1] == b'\r') {
        end -= 1;
    }
    &line[..end]
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay, needle)
}

/// The length of the longest suffix of `hay` that is a proper prefix of `needle`.
fn partial_suffix(hay: &[u8], needle: &[u8]) -> usize {
    let Some(&first) = needle.first() else {
        return 0;
    };
    let max = (needle.len() - 1).min(hay.len());
    let tail = &hay[hay.len() - max..];
    // Candidates start where the needle's first byte is, longest first.
    memchr::memchr_iter(first, tail)
        .map(|at| tail.len() - at)
        .find(|&n| tail[tail.len() - n..] == needle[..n])
        .unwrap_or(0)
}

/// How many trailing bytes are `\r`/`\n`: they might belong to the exit line.
fn trailing_newline_run(hay: &[u8]) -> usize {
    hay.iter()
        .rev()
        .take_while(|&&b| b == b'\n' || b == b'\r')
        .count()
        .min(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: &str = "0123456789abcdef";

    fn run(filter: &mut OutputFilter, chunks: &[&[u8]]) -> Filtered {
        let mut all = Filtered::default();
        for c in chunks {
            let f = filter.feed(c);
            all.stdout.extend(f.stdout);
            all.stderr.extend(f.stderr);
        }
        let f = filter.finish();
        all.stdout.extend(f.stdout);
        all.stderr.extend(f.stderr);
        all
    }

    /// What a pty with ONLCR does to output.
    fn onlcr(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                out.push(b'\r');
            }
            out.push(b);
        }
        out
    }

    fn remote_stream(output: &[u8], status: i32, stty: bool) -> Vec<u8> {
        let mut s = format!(
            "motd banner\n__ecsx_{N}_ready{}\n",
            if stty { "r" } else { "t" }
        )
        .into_bytes();
        s = onlcr(&s);
        let mut body = output.to_vec();
        body.extend(format!("\n__ecsx_{N}_exit{status}\n").as_bytes());
        s.extend(if stty { body } else { onlcr(&body) });
        s
    }

    #[test]
    fn quoting_survives_any_argument() {
        assert_eq!(shell_quote("ls"), "ls");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(
            join_argv(&["echo".into(), "a\"b".into(), "*".into()]),
            "echo 'a\"b' '*'"
        );
    }

    /// Runs what the agent would run (it splits `sh -c '<script>'`
    /// shell-style) with this machine's `sh`, and filters the output as a
    /// session does (no pty here, so the `t` mode's `\r\n` undoing is not
    /// exercised; the filter tests below do that).
    fn run_remote(command: &str, mode: Mode, input: &[u8]) -> (Vec<u8>, Remote) {
        use std::io::Write;
        let remote = remote_command(command, mode, N);
        let script = remote
            .strip_prefix("sh -c '")
            .and_then(|s| s.strip_suffix('\''))
            .expect("one single-quoted word");
        assert!(!script.contains('\''));
        let mut child = std::process::Command::new("sh")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let mut f = OutputFilter::new(mode, N);
        let mut got = f.feed(&out.stdout).stdout;
        got.extend(f.finish().stdout);
        (got, f.state().clone())
    }

    #[test]
    fn the_command_reaches_the_shell_exactly() {
        for command in [
            "echo hi",
            "printf '%s|' \"$0\" a\\ b 'it'\\''s' \"`echo x`\" $((1+2))",
            "echo \"$HOME\" | tr / _",
            "printf 'a\\nb'\nprintf 'line two'",
            "echo \"héllo ✓\"",
            "exit 3",
            "echo (",
            "",
        ] {
            let (got, state) = run_remote(command, Mode::OneOff, b"");
            let want = std::process::Command::new("sh")
                .args(["-c", command])
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            assert_eq!(got, want.stdout, "{command:?}");
            assert_eq!(
                state,
                Remote::Exited(want.status.code().unwrap()),
                "{command:?}"
            );
        }
    }

    #[test]
    fn pipe_mode_feeds_the_command_and_plain_commands_start_no_decoder() {
        // (Upload mode: Pipe stops at once without a terminal for `stty`.)
        let (got, state) = run_remote("tr a-z A-Z", Mode::Upload, b"aGVsbG8K\n");
        assert_eq!(got, b"HELLO\n");
        assert_eq!(state, Remote::Exited(0));
        let (got, state) = run_remote("-x 2>/dev/null; echo $?", Mode::OneOff, b"");
        assert_eq!((got, state), (b"127\n".to_vec(), Remote::Exited(0)));
        // Printable ASCII without a single quote is embedded as is; anything
        // else costs a printf, never a `base64 -d` of the command.
        let plain = remote_command("echo \"a b\" $X", Mode::OneOff, N);
        assert!(
            !plain.contains("__ecsx_c") && !plain.contains("base64"),
            "{plain}"
        );
        let quoted = remote_command("echo 'a'", Mode::OneOff, N);
        assert!(quoted.contains("\\047a\\047"), "{quoted}");
        assert!(!quoted.contains("base64"), "{quoted}");
        assert!(remote_command("cat", Mode::Pipe, N).contains("command -v base64"));
    }

    proptest::proptest! {
        /// Any text given to `printf %s` comes back exactly: no quoting or
        /// escaping in the embedding can change it.
        #[test]
        fn any_argument_survives_the_embedding(arg in "[ -~\n\t\\pL]{0,40}") {
            let (got, state) = run_remote(&format!("printf %s {}", shell_quote(&arg)), Mode::OneOff, b"");
            proptest::prop_assert_eq!(String::from_utf8_lossy(&got), arg);
            proptest::prop_assert_eq!(state, Remote::Exited(0));
        }
    }

    #[test]
    fn output_is_exact_with_and_without_stty() {
        let samples: Vec<Vec<u8>> = vec![
            b"hello\n".to_vec(),
            b"no newline".to_vec(),
            b"crlf\r\nkept\r\n".to_vec(),
            b"lone\rcarriage\r".to_vec(),
            b"".to_vec(),
            b"\n\n\n".to_vec(),
            (0u8..=255).collect(),
        ];
        for stty in [true, false] {
            for sample in &samples {
                let stream = remote_stream(sample, 7, stty);
                // Every split point, to exercise the held-back tails.
                for split in [1usize, 2, 3, 5, 7, 64] {
                    let chunks: Vec<&[u8]> = stream.chunks(split).collect();
                    let mut f = OutputFilter::new(Mode::OneOff, N);
                    let got = run(&mut f, &chunks);
                    assert_eq!(
                        got.stdout, *sample,
                        "stty {stty} split {split} sample {sample:?}"
                    );
                    assert_eq!(got.stderr, b"motd banner\r\n");
                    assert_eq!(f.state(), &Remote::Exited(7));
                }
            }
        }
    }

    proptest::proptest! {
        /// Any output, cut anywhere, comes out exact: bytes drawn mostly from
        /// line ends and near-misses of the exit marker, which the filter
        /// holds back. (Only the marker itself, with the session's nonce, is
        /// taken as the end.)
        #[test]
        fn any_output_cut_anywhere_is_exact(
            pieces in proptest::collection::vec(0usize..6, 0..200),
            cuts in proptest::collection::vec(1usize..300, 1..20),
            stty in proptest::bool::ANY,
            status in 0i32..256,
        ) {
            let exit = format!("__ecsx_{N}_exit");
            let fragments: [&[u8]; 6] = [b"\r", b"\n", b"x", &exit.as_bytes()[..exit.len() - 1], &exit.as_bytes()[..9], b"\r\n"];
            let sample: Vec<u8> = pieces.iter().flat_map(|&i| fragments[i].iter().copied()).collect();
            let stream = remote_stream(&sample, status, stty);
            let mut chunks = Vec::new();
            let mut rest = stream.as_slice();
            for &c in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (head, tail) = rest.split_at(c.min(rest.len()));
                chunks.push(head);
                rest = tail;
            }
            let mut f = OutputFilter::new(Mode::OneOff, N);
            let got = run(&mut f, &chunks);
            proptest::prop_assert_eq!(&got.stdout, &sample);
            proptest::prop_assert_eq!(f.state(), &Remote::Exited(status));
        }
    }

    #[test]
    fn a_forged_marker_without_the_nonce_is_output() {
        let out = b"__ecsx_ffffffffffffffff_exit0\n".to_vec();
        let stream = remote_stream(&out, 0, true);
        let mut f = OutputFilter::new(Mode::OneOff, N);
        let got = run(&mut f, &[&stream]);
        assert_eq!(got.stdout, out);
        assert_eq!(f.state(), &Remote::Exited(0));
    }

    #[test]
    fn missing_tools_are_reported() {
        let mut f = OutputFilter::new(Mode::OneOff, N);
        f.feed(format!("__ecsx_{N}_nobase64\r\n").as_bytes());
        assert_eq!(f.state(), &Remote::NoBase64);
        let mut f = OutputFilter::new(Mode::Pipe, N);
        f.feed(format!("__ecsx_{N}_nostty\r\n").as_bytes());
        assert_eq!(f.state(), &Remote::NoStty);
    }

    #[test]
    fn a_session_that_ends_early_keeps_its_output() {
        let mut f = OutputFilter::new(Mode::OneOff, N);
        let got = run(&mut f, &[b"sh: not found\r\n"]);
        assert_eq!(got.stderr, b"sh: not found\r\n");
        assert_eq!(f.state(), &Remote::Starting);
    }

    #[test]
    fn interactive_strips_the_exit_line_from_the_terminal() {
        let mut f = OutputFilter::new(Mode::Interactive, N);
        let got = run(
            &mut f,
            &[
                b"$ exit 3\r\n",
                format!("\r\n__ecsx_{N}_exit3\r\n").as_bytes(),
            ],
        );
        assert_eq!(got.stdout, b"$ exit 3\r\n");
        assert_eq!(f.state(), &Remote::Exited(3));
    }
}

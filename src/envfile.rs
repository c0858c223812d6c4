//! `--envfile FILE`: environment variables loaded before any template is
//! rendered, in the format ecspresso reads (hashicorp/go-envparse): one
//! `KEY=VALUE` a line, an optional `export ` before the key, `#` comments,
//! values bare (trimmed, ending at ` #`), in single quotes (literal) or in
//! double quotes (with `\n`, `\t`, `\"`, `\\` escapes).

use std::path::Path;

use crate::error::{Error, Result};

/// Parses an env file; the error is `(line, message)`.
pub fn parse(text: &str) -> std::result::Result<Vec<(String, String)>, (usize, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export")
            .filter(|rest| rest.starts_with([' ', '\t']))
            .map(str::trim_start)
            .unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err((n, "expected KEY=VALUE".into()));
        };
        let key = key.trim_end();
        let valid = key.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic())
            && key.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
        if !valid {
            return Err((
                n,
                format!("{key:?} is not a variable name (letters, digits and _)"),
            ));
        }
        let value = value.trim_start();
        let (value, rest) = match value.chars().next() {
            Some('\'') => match value[1..].find('\'') {
                Some(end) => (value[1..1 + end].to_string(), &value[end + 2..]),
                None => return Err((n, "unterminated single-quoted value".into())),
            },
            Some('"') => {
                let mut s = String::new();
                let mut chars = value[1..].char_indices();
                let mut end = None;
                while let Some((j, c)) = chars.next() {
                    match c {
                        '"' => {
                            end = Some(j + 2);
                            break;
                        }
                        '\\' => match chars.next().map(|(_, c)| c) {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some('r') => s.push('\r'),
                            Some(c @ ('"' | '\\' | '$' | '\'')) => s.push(c),
                            Some(c) => {
                                return Err((
                                    n,
                                    format!("unknown escape \\{c} in a double-quoted value"),
                                ))
                            }
                            None => break,
                        },
                        c => s.push(c),
                    }
                }
                match end {
                    Some(end) => (s, &value[end..]),
                    None => {
                        return Err((
                            n,
                            "unterminated double-quoted value (values span one line)".into(),
                        ))
                    }
                }
            }
            _ => {
                let bare = match value.find(" #").or_else(|| value.find("\t#")) {
                    Some(k) => &value[..k],
                    None => value,
                };
                (bare.trim_end().to_string(), "")
            }
        };
        let rest = rest.trim_start();
        if !rest.is_empty() && !rest.starts_with('#') {
            return Err((n, format!("unexpected text after the quoted value: {rest}")));
        }
        out.push((key.to_string(), value));
    }
    Ok(out)
}

/// Reads and parses an env file.
pub fn read(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::read_file(path, "envfile", &e))?;
    parse(&text).map_err(|(line, message)| Error::Config {
        path: path.to_path_buf(),
        message: format!("line {line}: {message}; write KEY=VALUE lines"),
    })
}

/// Exports the variables of `files`, in order (later files win). Call it
/// before any thread reads the environment.
pub fn export(files: &[std::path::PathBuf]) -> Result<()> {
    for file in files {
        for (key, value) in read(file)? {
            crate::debug!("envfile {}: {key} set", file.display());
            std::env::set_var(key, value);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_ecspresso_reads() {
        let got = parse(
            "# comment\n\nA=1\nexport B=two words # note\nC=\"x\\ny \\\"q\\\"\" # c\nD='lit $X \\n'\nE=\nexportF=3\n  G = spaced\n",
        )
        .unwrap();
        let want: Vec<(String, String)> = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "x\ny \"q\""),
            ("D", "lit $X \\n"),
            ("E", ""),
            ("exportF", "3"),
            ("G", "spaced"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse("A=1\nnoequals\n").unwrap_err().0, 2);
        assert_eq!(parse("1A=x").unwrap_err().0, 1);
        assert_eq!(parse("\nA=\"open\n").unwrap_err().0, 2);
        assert_eq!(parse("A='x' y").unwrap_err().0, 1);
    }
}

//! Writing results: aligned tables, colour only on terminals that want it,
//! and stdout errors surfaced so that a closed pipe ends ecsx quietly.

use std::io::{IsTerminal, Write};

/// Whether to colour stdout: a terminal, no `--no-color`, no `NO_COLOR`.
pub fn color_enabled(no_color_flag: bool) -> bool {
    !no_color_flag
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal()
}

/// Paint `text` with an ANSI colour when `on`.
pub fn paint(text: &str, color: Color, on: bool) -> String {
    if !on {
        return text.to_string();
    }
    let code = match color {
        Color::Green => "32",
        Color::Yellow => "33",
        Color::Red => "31",
        Color::Bold => "1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

#[derive(Clone, Copy, Debug)]
pub enum Color {
    Green,
    Yellow,
    Red,
    Bold,
}

/// A table whose columns are padded to their widest cell. Cells may carry
/// colour codes: width is measured on the plain text.
pub struct Table {
    rows: Vec<Vec<(String, String)>>,
}

impl Table {
    pub fn new(header: &[&str], color: bool) -> Table {
        let header = header
            .iter()
            .map(|h| (h.to_string(), paint(h, Color::Bold, color)))
            .collect();
        Table { rows: vec![header] }
    }

    /// Add a row of (plain, painted) cells.
    pub fn row(&mut self, cells: Vec<(String, String)>) {
        self.rows.push(cells);
    }

    pub fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; columns];
        for row in &self.rows {
            for (i, (plain, _)) in row.iter().enumerate() {
                widths[i] = widths[i].max(plain.chars().count());
            }
        }
        for row in &self.rows {
            let mut line = String::new();
            for (i, (plain, painted)) in row.iter().enumerate() {
                line.push_str(painted);
                if i + 1 < row.len() {
                    let pad = widths[i] - plain.chars().count() + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            writeln!(out, "{line}")?;
        }
        Ok(())
    }
}

/// A plain cell.
pub fn cell(text: impl Into<String>) -> (String, String) {
    let text = text.into();
    (text.clone(), text)
}

/// A coloured cell.
pub fn colored(text: impl Into<String>, color: Color, on: bool) -> (String, String) {
    let text = text.into();
    let painted = paint(&text, color, on);
    (text, painted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_padded_on_plain_width() {
        let mut t = Table::new(&["A", "BB"], false);
        t.row(vec![cell("long"), colored("x", Color::Green, true)]);
        let mut out = Vec::new();
        t.write(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "A     BB\nlong  \u{1b}[32mx\u{1b}[0m\n");
    }
}

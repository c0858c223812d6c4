//! Translation of ecspresso's Go text/template forms into Tera.
//!
//! The source is scanned once. Text is copied unchanged (a stray `{%` or `{#`
//! that Go would print literally is turned into a Tera string output). Each
//! `{{ ... }}` is classified:
//! - Go comment `{{/* ... */}}`: becomes a Tera comment.
//! - Go action (keywords `if`/`else`/`end`, backtick strings, `name arg ...`):
//!   parsed here into a [`Pipeline`]; the output becomes a call to a hidden
//!   Tera function (`__ecsx_go(id=N)`, or `__ecsx_cond(id=N)` in `if`) that
//!   evaluates the pipeline with Go semantics. `range` and `with` become Tera
//!   `for` loops over what a hidden function gives (`__ecsx_range`,
//!   `__ecsx_with`: the elements, or the value when it is non-empty) with
//!   `.` held in the Tera variable `__dot`; `$x := PIPE` and `$x = PIPE`
//!   become `set __v_x`; `define`/`template` become a Tera macro and its
//!   call. Variables and `.` a pipeline uses are passed to the hidden
//!   function as arguments (`__v_x=__v_x`, `__dot=__dot`).
//! - Anything else (`fn(name=...)`, plain variables, filters): Tera, copied
//!   as is except that calls of ecsx's functions get a hidden `__line=N`
//!   argument so that runtime errors can name the line.
//!
//! Every newline of the source is kept, so Tera's line numbers are the
//! user's line numbers.

use std::path::Path;

use serde_json::Value;

use super::{Func, Funcs, TemplateError};

/// Name of the hidden Tera function printing a Go pipeline.
pub(crate) const GO_FN: &str = "__ecsx_go";
/// Name of the hidden Tera function giving a Go pipeline's truth value.
pub(crate) const COND_FN: &str = "__ecsx_cond";
/// Name of the hidden line argument.
pub(crate) const LINE_ARG: &str = "__line";
/// Name of the hidden Tera function giving a Go pipeline's value.
pub(crate) const VAL_FN: &str = "__ecsx_val";
/// Name of the hidden Tera function giving what `range` iterates.
pub(crate) const RANGE_FN: &str = "__ecsx_range";
/// Name of the hidden Tera function giving `with`'s value when it is true.
pub(crate) const WITH_FN: &str = "__ecsx_with";
/// The Tera variable holding Go's `.` inside range, with and define.
pub(crate) const DOT_VAR: &str = "__dot";

/// Go keywords that can start an action.
const GO_KEYWORDS: &[&str] = &[
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
];

/// Tera tag keywords (`{% keyword ... %}`).
const TERA_KEYWORDS: &[&str] = &[
    "if",
    "elif",
    "else",
    "endif",
    "for",
    "endfor",
    "set",
    "set_global",
    "raw",
    "endraw",
    "filter",
    "endfilter",
    "macro",
    "endmacro",
    "block",
    "endblock",
    "import",
    "include",
    "extends",
    "break",
    "continue",
];

/// A Go pipeline: commands separated by `|`.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub cmds: Vec<Command>,
    /// Line of the action, for errors.
    pub line: usize,
}

/// One command: a function and its arguments, or a single value.
#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub operands: Vec<Operand>,
}

#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Func {
        name: String,
        func: Func,
        line: usize,
    },
    Value(Value),
    /// `.` or `.Field.Sub`: the data (empty at the top level), or its field.
    Dot {
        path: Vec<String>,
    },
    /// `$name.Field` (`$` alone: the top-level data, empty).
    Var {
        name: String,
        path: Vec<String>,
    },
    Pipe(Pipeline),
}

impl Pipeline {
    /// Variables and whether `.` is used, for the hidden call's arguments.
    fn uses(&self, vars: &mut Vec<String>, dot: &mut bool) {
        for c in &self.cmds {
            for o in &c.operands {
                match o {
                    Operand::Dot { .. } => *dot = true,
                    Operand::Var { name, .. } if !name.is_empty() && !vars.contains(name) => {
                        vars.push(name.clone());
                    }
                    Operand::Pipe(p) => p.uses(vars, dot),
                    _ => {}
                }
            }
        }
    }
}

/// The result of translating a template.
#[derive(Debug)]
pub(crate) struct Translation {
    /// Tera source with the same lines as the input.
    pub text: String,
    /// Go pipelines referred to by `id=N`.
    pub exprs: Vec<Pipeline>,
}

/// Byte offset to line/column.
pub(crate) struct LineIndex<'a> {
    src: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { src, starts }
    }

    /// 1-based line of a byte offset.
    pub(crate) fn line(&self, pos: usize) -> usize {
        match self.starts.binary_search(&pos) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(crate) fn line_col(&self, pos: usize) -> (usize, usize) {
        let line = self.line(pos);
        let start = self.starts[line - 1];
        let col = self.src[start..pos.min(self.src.len())].chars().count() + 1;
        (line, col)
    }
}

struct Translator<'a> {
    src: &'a str,
    file: &'a Path,
    funcs: &'a Funcs,
    lines: LineIndex<'a>,
    out: String,
    exprs: Vec<Pipeline>,
    /// Open Go blocks.
    blocks: Vec<Block>,
    /// Declared variables: (name, block depth).
    vars: Vec<(String, usize)>,
    /// Templates defined and used (`define`, `template`): name → line used.
    defined: Vec<String>,
    used: Vec<(String, usize)>,
    /// Variables outside the `define` being read.
    saved_vars: Vec<(String, usize)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum BlockKind {
    If,
    Range,
    With,
    Define,
}

struct Block {
    kind: BlockKind,
    line: usize,
    seen_else: bool,
}

/// Translates `src` (see the module documentation).
pub(crate) fn translate(
    src: &str,
    funcs: &Funcs,
    file: &Path,
) -> Result<Translation, TemplateError> {
    let mut t = Translator {
        src,
        file,
        funcs,
        lines: LineIndex::new(src),
        out: String::with_capacity(src.len() + src.len() / 4),
        exprs: Vec::new(),
        blocks: Vec::new(),
        vars: Vec::new(),
        defined: Vec::new(),
        used: Vec::new(),
        saved_vars: Vec::new(),
    };
    t.run()?;
    Ok(Translation {
        text: t.out,
        exprs: t.exprs,
    })
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl<'a> Translator<'a> {
    fn syntax(&self, pos: usize, message: impl Into<String>) -> TemplateError {
        let (line, col) = self.lines.line_col(pos);
        TemplateError::Syntax {
            file: self.file.to_path_buf(),
            line,
            column: Some(col),
            message: message.into(),
        }
    }

    fn run(&mut self) -> Result<(), TemplateError> {
        let src = self.src;
        let bytes = src.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let Some(off) = src[i..].find('{') else {
                self.out.push_str(&src[i..]);
                break;
            };
            let j = i + off;
            self.out.push_str(&src[i..j]);
            i = match bytes.get(j + 1) {
                Some(b'{') => self.action(j)?,
                Some(b'%') => self.tera_tag(j)?,
                Some(b'#') => self.tera_comment(j),
                _ => {
                    self.out.push('{');
                    j + 1
                }
            };
        }
        if let Some(b) = self.blocks.last() {
            let name = match b.kind {
                BlockKind::If => "if",
                BlockKind::Range => "range",
                BlockKind::With => "with",
                BlockKind::Define => "define",
            };
            return Err(TemplateError::Syntax {
                file: self.file.to_path_buf(),
                line: b.line,
                column: None,
                message: format!("{{{{ {name} }}}} is never closed; add {{{{ end }}}}"),
            });
        }
        if let Some((name, line)) = self.used.iter().find(|(n, _)| !self.defined.contains(n)) {
            return Err(TemplateError::Render {
                file: self.file.to_path_buf(),
                line: Some(*line),
                message: format!(
                    "no template {name:?} is defined; add {{{{ define {name:?} }}}}...{{{{ end }}}}"
                ),
            });
        }
        Ok(())
    }

    /// Finds the end of a tag body starting at `from`: the byte offset of
    /// `close`, skipping quoted strings (`"` with backslash escapes, `'`, `` ` ``).
    /// `Err(Some(pos))`: a `"` string at `pos` is not closed on its line (as
    /// in Go); `Err(None)`: no `close` at all.
    fn find_close(&self, from: usize, close: &str) -> Result<usize, Option<usize>> {
        let bytes = self.src.as_bytes();
        let mut i = from;
        while i < bytes.len() {
            match bytes[i] {
                q @ (b'"' | b'\'' | b'`') => {
                    let start = i;
                    i += 1;
                    while i < bytes.len() && bytes[i] != q {
                        if q == b'"' && bytes[i] == b'\n' {
                            return Err(Some(start));
                        }
                        if q != b'`' && bytes[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                    if i >= bytes.len() && q == b'"' {
                        return Err(Some(start));
                    }
                    i += 1;
                }
                _ if bytes[i..].starts_with(close.as_bytes()) => return Ok(i),
                _ => i += 1,
            }
        }
        Err(None)
    }

    fn newlines(&self, from: usize, to: usize) -> usize {
        self.src[from..to].bytes().filter(|&b| b == b'\n').count()
    }

    /// Handles `{{ ... }}` starting at `start`; returns the offset after it.
    fn action(&mut self, start: usize) -> Result<usize, TemplateError> {
        let src = self.src;
        let bytes = src.as_bytes();
        let ltrim =
            bytes.get(start + 2) == Some(&b'-') && bytes.get(start + 3).is_some_and(|&b| is_ws(b));
        let body_start = if ltrim { start + 3 } else { start + 2 };
        let line = self.lines.line(start);

        // Go comment.
        let after_ws =
            body_start + (src[body_start..].len() - src[body_start..].trim_start().len());
        if src[after_ws..].starts_with("/*") {
            let Some(cend) = src[after_ws + 2..].find("*/") else {
                return Err(self.syntax(start, "unclosed comment; end it with */}}"));
            };
            let mut k = after_ws + 2 + cend + 2;
            while k < bytes.len() && is_ws(bytes[k]) {
                k += 1;
            }
            let rtrim = src[k..].starts_with("-}}");
            if !rtrim && !src[k..].starts_with("}}") {
                return Err(self.syntax(
                    k,
                    "comment ends with */ but is not followed by }}; write {{/* ... */}}",
                ));
            }
            let end = if rtrim { k + 3 } else { k + 2 };
            let nl = self.newlines(start, end);
            self.out.push_str(if ltrim { "{#-" } else { "{#" });
            self.out.push(' ');
            self.out.push_str(&"\n".repeat(nl));
            self.out.push_str(if rtrim { " -#}" } else { " #}" });
            return Ok(end);
        }

        let close = match self.find_close(body_start, "}}") {
            Ok(c) => c,
            Err(Some(q)) => {
                return Err(self.syntax(q, "unterminated quoted string; close it with \" before }}"))
            }
            Err(None) => return Err(self.syntax(start, "unclosed action: {{ without }}")),
        };
        let end = close + 2;
        let rtrim = close > body_start + 1 && bytes[close - 1] == b'-' && is_ws(bytes[close - 2]);
        let body_end = if rtrim { close - 1 } else { close };
        let body = &src[body_start..body_end];

        match classify(body, self.funcs) {
            Kind::Tera => {
                self.out.push_str(&src[start..body_start]);
                let injected = inject_lines(body, line, self.funcs);
                self.out.push_str(&injected);
                self.out.push_str(&src[body_end..end]);
                Ok(end)
            }
            Kind::Go => {
                let nl = self.newlines(start, end);
                let tag = self.go_action(start, body_start, body)?;
                // One Go action may become several Tera tags: the first
                // keeps the left trim and the newlines, the last the right.
                let tags: Vec<(bool, String)> = match tag {
                    GoTag::Print(call) => vec![(true, format!("{GO_FN}({call})"))],
                    GoTag::If(call) => vec![(false, format!("if {COND_FN}({call})"))],
                    GoTag::ElseIf(call) => vec![(false, format!("elif {COND_FN}({call})"))],
                    GoTag::Else => vec![(false, "else".to_string())],
                    GoTag::End(BlockKind::If) => vec![(false, "endif".to_string())],
                    GoTag::End(BlockKind::Define) => vec![(false, "endmacro".to_string())],
                    GoTag::End(_) => vec![(false, "endfor".to_string())],
                    GoTag::Loop(word) => vec![(false, word.to_string())],
                    GoTag::Set { var, call, global } => vec![(
                        false,
                        format!(
                            "{} __v_{var} = {VAL_FN}({call})",
                            if global { "set_global" } else { "set" }
                        ),
                    )],
                    GoTag::Range { call, vars } => {
                        let mut t = Vec::new();
                        match vars.as_slice() {
                            [key, value] => {
                                t.push((
                                    false,
                                    format!("for __pair in {RANGE_FN}(pairs=true, {call})"),
                                ));
                                t.push((false, format!("set __v_{key} = __pair.0")));
                                t.push((false, format!("set __v_{value} = __pair.1")));
                                t.push((false, format!("set {DOT_VAR} = __pair.1")));
                            }
                            [value] => {
                                t.push((false, format!("for {DOT_VAR} in {RANGE_FN}({call})")));
                                t.push((false, format!("set __v_{value} = {DOT_VAR}")));
                            }
                            _ => t.push((false, format!("for {DOT_VAR} in {RANGE_FN}({call})"))),
                        }
                        t
                    }
                    GoTag::With { call, var } => {
                        let mut t = vec![(false, format!("for {DOT_VAR} in {WITH_FN}({call})"))];
                        if let Some(v) = var {
                            t.push((false, format!("set __v_{v} = {DOT_VAR}")));
                        }
                        t
                    }
                    GoTag::Define(name) => {
                        vec![(false, format!("macro {}({DOT_VAR})", macro_name(&name)))]
                    }
                    GoTag::Template(name, call) => vec![(
                        true,
                        format!("self::{}({DOT_VAR}={VAL_FN}({call}))", macro_name(&name)),
                    )],
                };
                let last = tags.len() - 1;
                for (i, (print, inner)) in tags.iter().enumerate() {
                    let (open, close) = if *print { ("{{", "}}") } else { ("{%", "%}") };
                    self.out.push_str(open);
                    if ltrim && i == 0 {
                        self.out.push('-');
                    }
                    self.out.push(' ');
                    self.out.push_str(inner);
                    if i == 0 {
                        self.out.push_str(&"\n".repeat(nl));
                    }
                    self.out.push(' ');
                    if rtrim && i == last {
                        self.out.push('-');
                    }
                    self.out.push_str(close);
                }
                Ok(end)
            }
        }
    }

    /// The arguments of a hidden call: `id=N`, then the variables and `.`
    /// the pipeline uses.
    fn call_args(&mut self, p: Pipeline, pos: usize) -> Result<String, TemplateError> {
        let mut vars = Vec::new();
        let mut dot = false;
        p.uses(&mut vars, &mut dot);
        let id = self.push_expr(p);
        let mut call = format!("id={id}");
        for v in vars {
            if !self.vars.iter().any(|(n, _)| *n == v) {
                return Err(self.syntax(
                    pos,
                    format!("undefined variable ${v}; declare it first with {{{{ ${v} := ... }}}}"),
                ));
            }
            call.push_str(&format!(", __v_{v}=__v_{v}"));
        }
        if dot && self.blocks.iter().any(|b| b.kind != BlockKind::If) {
            call.push_str(&format!(", {DOT_VAR}={DOT_VAR}"));
        }
        Ok(call)
    }

    /// `$a, $b :=` or `$a :=` at the start of range/with: the names and the
    /// tokens after `:=`.
    fn declarations<'t>(&self, tokens: &'t [Token]) -> (Vec<String>, &'t [Token]) {
        let mut names = Vec::new();
        let mut i = 0;
        while let Some(Token {
            tok: Tok::Var { name, path },
            ..
        }) = tokens.get(i)
        {
            if name.is_empty() || !path.is_empty() {
                break;
            }
            names.push(name.clone());
            match tokens.get(i + 1).map(|t| &t.tok) {
                Some(Tok::Comma) => i += 2,
                Some(Tok::Declare) => return (names, &tokens[i + 2..]),
                _ => break,
            }
        }
        (Vec::new(), tokens)
    }

    fn declare(&mut self, names: &[String]) {
        let depth = self.blocks.len();
        for n in names {
            self.vars.push((n.clone(), depth));
        }
    }

    /// Parses a Go action body and updates the block stack.
    fn go_action(
        &mut self,
        start: usize,
        body_start: usize,
        body: &str,
    ) -> Result<GoTag, TemplateError> {
        let tokens = lex(body, body_start, self)?;
        let line = self.lines.line(start);
        let Some(first) = tokens.first() else {
            return Err(self.syntax(
                start,
                "empty action {{ }}; remove it or put an expression inside",
            ));
        };
        let keyword = match &first.tok {
            Tok::Ident(w) if GO_KEYWORDS.contains(&w.as_str()) => Some(w.as_str()),
            _ => None,
        };
        match keyword {
            Some("if") => {
                let p = self.parse_all(&tokens[1..], first.pos, "if")?;
                let call = self.call_args(p, first.pos)?;
                self.push_block(BlockKind::If, line);
                Ok(GoTag::If(call))
            }
            Some(kw @ ("range" | "with")) => {
                let (names, rest) = self.declarations(&tokens[1..]);
                let max = if kw == "range" { 2 } else { 1 };
                if names.len() > max {
                    return Err(self.syntax(
                        first.pos,
                        format!("too many variables in {kw}; write {{{{ {kw} $x := ... }}}}"),
                    ));
                }
                let p = self.parse_all(rest, first.pos, kw)?;
                let call = self.call_args(p, first.pos)?;
                if kw == "range" {
                    self.push_block(BlockKind::Range, line);
                    self.declare(&names);
                    Ok(GoTag::Range { call, vars: names })
                } else {
                    self.push_block(BlockKind::With, line);
                    self.declare(&names);
                    Ok(GoTag::With {
                        call,
                        var: names.into_iter().next(),
                    })
                }
            }
            Some("else") => {
                let Some(block) = self.blocks.last() else {
                    return Err(self.syntax(
                        first.pos,
                        "{{ else }} without {{ if }}, {{ range }} or {{ with }}",
                    ));
                };
                let kind = block.kind;
                if block.seen_else {
                    return Err(self.syntax(
                        first.pos,
                        "{{ else }} after {{ else }}; a block can have one else",
                    ));
                }
                match tokens.get(1).map(|t| &t.tok) {
                    None if kind != BlockKind::Define => {
                        if let Some(b) = self.blocks.last_mut() {
                            b.seen_else = true;
                        }
                        Ok(GoTag::Else)
                    }
                    Some(Tok::Ident(w)) if w == "if" && kind == BlockKind::If => {
                        let p = self.parse_all(&tokens[2..], tokens[1].pos, "else if")?;
                        let call = self.call_args(p, tokens[1].pos)?;
                        Ok(GoTag::ElseIf(call))
                    }
                    Some(Tok::Ident(w)) if w == "if" || w == "with" => {
                        Err(self.unsupported(line, &format!("else {w}")))
                    }
                    _ => Err(self.syntax(
                        first.pos,
                        "unexpected else; write {{ else }} (or {{ else if COND }} in an if)",
                    )),
                }
            }
            Some("end") => {
                if tokens.len() > 1 {
                    return Err(
                        self.syntax(tokens[1].pos, "unexpected token after end; write {{ end }}")
                    );
                }
                let Some(block) = self.blocks.pop() else {
                    return Err(self.syntax(
                        first.pos,
                        "{{ end }} without {{ if }}, {{ range }}, {{ with }} or {{ define }}",
                    ));
                };
                let depth = self.blocks.len();
                self.vars.retain(|(_, d)| *d <= depth);
                if block.kind == BlockKind::Define {
                    self.vars = std::mem::take(&mut self.saved_vars);
                }
                Ok(GoTag::End(block.kind))
            }
            Some(word @ ("break" | "continue")) => {
                if !self.blocks.iter().any(|b| b.kind == BlockKind::Range) {
                    return Err(self.syntax(
                        first.pos,
                        format!("{{{{ {word} }}}} outside {{{{ range }}}}"),
                    ));
                }
                Ok(GoTag::Loop(if word == "break" {
                    "break"
                } else {
                    "continue"
                }))
            }
            Some("define") => {
                let name = match (tokens.get(1).map(|t| &t.tok), tokens.len()) {
                    (Some(Tok::Str(n)), 2) => n.clone(),
                    _ => return Err(self.syntax(first.pos, "write {{ define \"name\" }}")),
                };
                if !self.blocks.is_empty() {
                    return Err(self.syntax(
                        first.pos,
                        "{{ define }} must be at the top level, outside if/range/with",
                    ));
                }
                if self.defined.contains(&name) {
                    return Err(
                        self.syntax(first.pos, format!("template {name:?} is defined twice"))
                    );
                }
                self.defined.push(name.clone());
                self.push_block(BlockKind::Define, line);
                // A defined template sees only its own variables.
                self.saved_vars = std::mem::take(&mut self.vars);
                Ok(GoTag::Define(name))
            }
            Some("template") => {
                let name = match tokens.get(1).map(|t| &t.tok) {
                    Some(Tok::Str(n)) => n.clone(),
                    _ => {
                        return Err(self.syntax(
                            first.pos,
                            "write {{ template \"name\" }} or {{ template \"name\" PIPELINE }}",
                        ))
                    }
                };
                let p = if tokens.len() > 2 {
                    self.parse_all(&tokens[2..], tokens[2].pos, "template")?
                } else {
                    Pipeline {
                        cmds: vec![Command {
                            operands: vec![Operand::Value(Value::Null)],
                        }],
                        line,
                    }
                };
                let call = self.call_args(p, first.pos)?;
                self.used.push((name.clone(), line));
                Ok(GoTag::Template(name, call))
            }
            Some(other) => Err(self.unsupported(line, other)),
            None => {
                // `$x := PIPE` / `$x = PIPE`
                if let (Some(Tok::Var { name, path }), Some(op @ (Tok::Declare | Tok::Assign))) = (
                    tokens.first().map(|t| &t.tok),
                    tokens.get(1).map(|t| &t.tok),
                ) {
                    if name.is_empty() || !path.is_empty() {
                        return Err(
                            self.syntax(first.pos, "only a variable ($name) can be assigned to")
                        );
                    }
                    let name = name.clone();
                    let declare = matches!(op, Tok::Declare);
                    let p = self.parse_all(&tokens[2..], first.pos, &format!("${name} :="))?;
                    let declared_at = self
                        .vars
                        .iter()
                        .rev()
                        .find(|(n, _)| *n == name)
                        .map(|(_, d)| *d);
                    if !declare && declared_at.is_none() {
                        return Err(self.syntax(first.pos, format!("undefined variable ${name}; declare it with {{{{ ${name} := ... }}}}")));
                    }
                    let call = self.call_args(p, first.pos)?;
                    // Assigning a variable of an outer block from inside a
                    // loop must outlive the loop's scope.
                    let global = !declare
                        && declared_at == Some(0)
                        && self.blocks.iter().any(|b| b.kind != BlockKind::If);
                    if declare {
                        self.declare(std::slice::from_ref(&name));
                    }
                    return Ok(GoTag::Set {
                        var: name,
                        call,
                        global,
                    });
                }
                let p = self.parse_all(&tokens, start, "")?;
                let call = self.call_args(p, start)?;
                Ok(GoTag::Print(call))
            }
        }
    }

    fn push_block(&mut self, kind: BlockKind, line: usize) {
        self.blocks.push(Block {
            kind,
            line,
            seen_else: false,
        });
    }

    fn unsupported(&self, line: usize, construct: &str) -> TemplateError {
        TemplateError::UnsupportedSyntax {
            construct: construct.to_string(),
            file: self.file.to_path_buf(),
            line,
        }
    }

    fn push_expr(&mut self, p: Pipeline) -> usize {
        self.exprs.push(p);
        self.exprs.len() - 1
    }

    fn parse_all(
        &self,
        tokens: &[Token],
        pos: usize,
        what: &str,
    ) -> Result<Pipeline, TemplateError> {
        if tokens.is_empty() {
            return Err(self.syntax(
                pos,
                format!("missing condition after {what}; write {{{{ {what} COND }}}}"),
            ));
        }
        let mut i = 0;
        let p = self.parse_pipeline(tokens, &mut i)?;
        if let Some(t) = tokens.get(i) {
            return Err(self.syntax(t.pos, "unexpected ) in action; check the parentheses"));
        }
        Ok(p)
    }

    fn parse_pipeline(&self, tokens: &[Token], i: &mut usize) -> Result<Pipeline, TemplateError> {
        let mut cmds = Vec::new();
        loop {
            let start_pos = tokens.get(*i).or(tokens.last()).map(|t| t.pos).unwrap_or(0);
            let mut operands = Vec::new();
            while let Some(t) = tokens.get(*i) {
                match &t.tok {
                    Tok::Pipe | Tok::RParen => break,
                    _ => {}
                }
                operands.push(self.parse_operand(tokens, i)?);
            }
            if operands.is_empty() {
                let msg = if cmds.is_empty() {
                    "missing value for command; check the {{ }} expression"
                } else {
                    "missing command after |; check the {{ }} expression"
                };
                return Err(self.syntax(start_pos, msg));
            }
            if !cmds.is_empty() && !matches!(operands[0], Operand::Func { .. }) {
                return Err(self.syntax(
                    start_pos,
                    "a value after | must be a function; check the {{ }} expression",
                ));
            }
            if operands.len() > 1 && !matches!(operands[0], Operand::Func { .. }) {
                return Err(self.syntax(
                    start_pos,
                    "arguments given to a value that is not a function; check the {{ }} expression",
                ));
            }
            cmds.push(Command { operands });
            match tokens.get(*i).map(|t| &t.tok) {
                Some(Tok::Pipe) => *i += 1,
                _ => break,
            }
        }
        let line = tokens.first().map(|t| self.lines.line(t.pos)).unwrap_or(1);
        Ok(Pipeline { cmds, line })
    }

    fn parse_operand(&self, tokens: &[Token], i: &mut usize) -> Result<Operand, TemplateError> {
        let t = &tokens[*i];
        *i += 1;
        Ok(match &t.tok {
            Tok::Ident(name) => match name.as_str() {
                "true" => Operand::Value(Value::Bool(true)),
                "false" => Operand::Value(Value::Bool(false)),
                "nil" => Operand::Value(Value::Null),
                _ => match self.funcs.get(name) {
                    Some(func) => Operand::Func {
                        name: name.clone(),
                        func,
                        line: self.lines.line(t.pos),
                    },
                    None if GO_KEYWORDS.contains(&name.as_str()) => {
                        return Err(self.syntax(t.pos, format!("unexpected keyword {name} inside an expression; check the {{{{ }}}} expression")))
                    }
                    None => {
                        return Err(TemplateError::UnknownFunction {
                            name: name.clone(),
                            file: self.file.to_path_buf(),
                            line: self.lines.line(t.pos),
                            available: self.funcs.available.clone(),
                        })
                    }
                },
            },
            Tok::Str(s) => Operand::Value(Value::String(s.clone())),
            Tok::Num(v) => Operand::Value(v.clone()),
            Tok::Dot { path } => Operand::Dot { path: path.clone() },
            Tok::Var { name, path } => Operand::Var {
                name: name.clone(),
                path: path.clone(),
            },
            Tok::Comma | Tok::Declare | Tok::Assign => {
                return Err(self.syntax(
                    t.pos,
                    "unexpected , := or = in an expression; declare variables as {{ $x := PIPELINE }}",
                ))
            }
            Tok::LParen => {
                let p = self.parse_pipeline(tokens, i)?;
                match tokens.get(*i) {
                    Some(Token { tok: Tok::RParen, .. }) => *i += 1,
                    _ => return Err(self.syntax(t.pos, "unclosed left parenthesis; add )")),
                }
                Operand::Pipe(p)
            }
            Tok::RParen | Tok::Pipe => unreachable!("handled by parse_pipeline"),
        })
    }

    /// Handles `{%` at `start`.
    fn tera_tag(&mut self, start: usize) -> Result<usize, TemplateError> {
        let src = self.src;
        let mut k = start + 2;
        if src[k..].starts_with('-') {
            k += 1;
        }
        let rest = src[k..].trim_start();
        let word: String = rest.chars().take_while(|&c| is_ident_char(c)).collect();
        if !TERA_KEYWORDS.contains(&word.as_str()) {
            // Go prints it as text.
            self.out.push_str("{{ \"{%\" }}");
            return Ok(start + 2);
        }
        let close = match self.find_close(k, "%}") {
            Ok(c) => c,
            Err(Some(q)) => {
                return Err(self.syntax(q, "unterminated quoted string; close it with \" before %}"))
            }
            Err(None) => {
                return Err(self.syntax(start, format!("unclosed tag {{% {word} without %}}")))
            }
        };
        let end = close + 2;
        if word == "raw" {
            // Copy verbatim up to and including {% endraw %}.
            let mut search = end;
            loop {
                let Some(off) = src[search..].find("{%") else {
                    return Err(self.syntax(start, "{% raw %} is never closed; add {% endraw %}"));
                };
                let tag = search + off;
                let inner = src[tag + 2..].trim_start_matches('-').trim_start();
                if inner.starts_with("endraw") {
                    if let Some(c) = src[tag..].find("%}") {
                        let e = tag + c + 2;
                        self.out.push_str(&src[start..e]);
                        return Ok(e);
                    }
                }
                search = tag + 2;
            }
        }
        let line = self.lines.line(start);
        self.out.push_str(&src[start..k]);
        self.out
            .push_str(&inject_lines(&src[k..close], line, self.funcs));
        self.out.push_str(&src[close..end]);
        Ok(end)
    }

    /// Handles `{#` at `start`: a Tera comment if closed by `#}` (and not
    /// shell `${#VAR}`), otherwise literal text.
    fn tera_comment(&mut self, start: usize) -> usize {
        let src = self.src;
        let shell = start > 0 && src.as_bytes()[start - 1] == b'$';
        match src[start + 2..].find("#}") {
            Some(off) if !shell => {
                let end = start + 2 + off + 2;
                self.out.push_str(&src[start..end]);
                end
            }
            _ => {
                self.out.push_str("{{ \"{#\" }}");
                start + 2
            }
        }
    }
}

/// A translated Go action; `call` holds the hidden call's arguments.
enum GoTag {
    Print(String),
    If(String),
    ElseIf(String),
    Else,
    End(BlockKind),
    Loop(&'static str),
    Set {
        var: String,
        call: String,
        global: bool,
    },
    Range {
        call: String,
        vars: Vec<String>,
    },
    With {
        call: String,
        var: Option<String>,
    },
    Define(String),
    Template(String, String),
}

/// The Tera macro of a Go template name (any text).
fn macro_name(name: &str) -> String {
    let mut out = String::from("__t_");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    out
}

#[derive(Debug, PartialEq)]
enum Kind {
    Go,
    Tera,
}

/// Decides whether an action body is Go or Tera (see the module docs).
fn classify(body: &str, funcs: &Funcs) -> Kind {
    let c = body.trim();
    let word: String = c.chars().take_while(|&ch| is_ident_char(ch)).collect();
    let rest = &c[word.len()..];
    let starts_ident = c.chars().next().is_some_and(is_ident_start);
    if starts_ident {
        if GO_KEYWORDS.contains(&word.as_str()) {
            return Kind::Go;
        }
        if rest.starts_with('(') {
            return Kind::Tera;
        }
    }
    if has_backtick(c) {
        return Kind::Go;
    }
    if c.starts_with('"') && c.contains('\\') {
        return Kind::Go;
    }
    if c.is_empty() || c.starts_with('$') || c.starts_with('.') {
        return Kind::Go;
    }
    if let Some(inner) = c.strip_prefix('(') {
        return classify(inner, funcs);
    }
    if !starts_ident {
        return Kind::Tera;
    }
    let next = rest.trim_start();
    if next.is_empty() {
        return if funcs.get(&word).is_some() {
            Kind::Go
        } else {
            Kind::Tera
        };
    }
    if next.len() == rest.len() {
        // No whitespace after the word: `x|f`, `x.y`, `x==1`...
        return Kind::Tera;
    }
    let nc = next.chars().next().unwrap_or(' ');
    if matches!(nc, '"' | '\'' | '(' | '.' | '$') || nc.is_ascii_digit() {
        return Kind::Go;
    }
    if is_ident_start(nc) {
        let w2: String = next.chars().take_while(|&ch| is_ident_char(ch)).collect();
        if matches!(w2.as_str(), "and" | "or" | "in" | "is" | "not") {
            return Kind::Tera;
        }
        return Kind::Go;
    }
    Kind::Tera
}

fn has_backtick(c: &str) -> bool {
    let mut in_dq = false;
    let mut escaped = false;
    for ch in c.chars() {
        match ch {
            _ if escaped => escaped = false,
            '\\' if in_dq => escaped = true,
            '"' => in_dq = !in_dq,
            '`' if !in_dq => return true,
            _ => {}
        }
    }
    false
}

/// Adds `__line=N` to calls of ecsx's functions in Tera code.
fn inject_lines(code: &str, first_line: usize, funcs: &Funcs) -> String {
    let mut out = String::with_capacity(code.len() + 16);
    let mut line = first_line;
    let mut chars = code.char_indices().peekable();
    let mut prev: Option<char> = None;
    while let Some((i, ch)) = chars.next() {
        match ch {
            '"' | '\'' | '`' => {
                out.push(ch);
                for (_, c) in chars.by_ref() {
                    out.push(c);
                    if c == '\n' {
                        line += 1;
                    }
                    if c == ch {
                        break;
                    }
                }
                prev = Some(ch);
            }
            c if is_ident_start(c)
                && !prev.is_some_and(|p| is_ident_char(p) || p == '.' || p == ':') =>
            {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if !is_ident_char(d) {
                        break;
                    }
                    end = j + d.len_utf8();
                    chars.next();
                }
                let word = &code[i..end];
                out.push_str(word);
                prev = word.chars().last();
                if chars.peek().map(|&(_, d)| d) == Some('(') && funcs.native(word) {
                    chars.next();
                    out.push('(');
                    out.push_str(LINE_ARG);
                    out.push('=');
                    out.push_str(&line.to_string());
                    let rest = &code[end + 1..];
                    if !rest.trim_start().starts_with(')') {
                        out.push_str(", ");
                    }
                    prev = Some('(');
                }
            }
            c => {
                if c == '\n' {
                    line += 1;
                }
                out.push(c);
                prev = Some(c);
            }
        }
    }
    out
}

#[derive(Debug)]
enum Tok {
    Ident(String),
    Str(String),
    Num(Value),
    /// `.` or `.Field.Sub`.
    Dot {
        path: Vec<String>,
    },
    /// `$`, `$name`, `$name.Field`.
    Var {
        name: String,
        path: Vec<String>,
    },
    Comma,
    Declare,
    Assign,
    Pipe,
    LParen,
    RParen,
}

#[derive(Debug)]
struct Token {
    tok: Tok,
    /// Absolute byte offset in the source.
    pos: usize,
}

/// Lexes a Go action body starting at absolute offset `base`.
fn lex(body: &str, base: usize, t: &Translator<'_>) -> Result<Vec<Token>, TemplateError> {
    let chars: Vec<(usize, char)> = body.char_indices().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let at = |k: usize| -> usize { base + chars.get(k).map(|&(o, _)| o).unwrap_or(body.len()) };
    while i < chars.len() {
        let (_, c) = chars[i];
        let pos = at(i);
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                i += 1;
            }
            '|' => {
                toks.push(Token {
                    tok: Tok::Pipe,
                    pos,
                });
                i += 1;
            }
            '(' => {
                toks.push(Token {
                    tok: Tok::LParen,
                    pos,
                });
                i += 1;
            }
            ')' => {
                toks.push(Token {
                    tok: Tok::RParen,
                    pos,
                });
                i += 1;
            }
            '`' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(t.syntax(pos, "unterminated raw string; close it with `"))
                        }
                        Some(&(_, '`')) => break,
                        Some(&(_, ch)) => s.push(ch),
                    }
                    i += 1;
                }
                i += 1;
                toks.push(Token {
                    tok: Tok::Str(s),
                    pos,
                });
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None | Some(&(_, '\n')) => {
                            return Err(
                                t.syntax(pos, "unterminated quoted string; close it with \"")
                            )
                        }
                        Some(&(_, '"')) => break,
                        Some(&(_, '\\')) => {
                            i += 1;
                            let (ch, used) = unescape(&chars[i..], '"')
                                .map_err(|m| t.syntax(at(i.saturating_sub(1)), m))?;
                            s.push_str(&ch);
                            i += used;
                            continue;
                        }
                        Some(&(_, ch)) => s.push(ch),
                    }
                    i += 1;
                }
                i += 1;
                toks.push(Token {
                    tok: Tok::Str(s),
                    pos,
                });
            }
            '\'' => {
                // Character constant: an integer in Go.
                i += 1;
                let ch = match chars.get(i) {
                    Some(&(_, '\\')) => {
                        i += 1;
                        let (s, used) =
                            unescape(&chars[i..], '\'').map_err(|m| t.syntax(pos, m))?;
                        i += used;
                        s.chars().next().unwrap_or('\0')
                    }
                    Some(&(_, ch)) if ch != '\'' => {
                        i += 1;
                        ch
                    }
                    _ => return Err(t.syntax(pos, "empty character constant ''")),
                };
                if chars.get(i).map(|&(_, c)| c) != Some('\'') {
                    return Err(t.syntax(
                        pos,
                        "unterminated character constant; use \"...\" for strings",
                    ));
                }
                i += 1;
                toks.push(Token {
                    tok: Tok::Num(Value::from(ch as u32)),
                    pos,
                });
            }
            '.' if !chars.get(i + 1).is_some_and(|&(_, d)| d.is_ascii_digit()) => {
                let start = i;
                i += 1;
                while chars
                    .get(i)
                    .is_some_and(|&(_, d)| is_ident_char(d) || d == '.')
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().map(|&(_, ch)| ch).collect();
                toks.push(Token {
                    tok: Tok::Dot {
                        path: field_path(&text),
                    },
                    pos,
                });
            }
            '$' => {
                i += 1;
                let start = i;
                while chars.get(i).is_some_and(|&(_, d)| is_ident_char(d)) {
                    i += 1;
                }
                let name: String = chars[start..i].iter().map(|&(_, ch)| ch).collect();
                let fstart = i;
                while chars
                    .get(i)
                    .is_some_and(|&(_, d)| is_ident_char(d) || d == '.')
                {
                    i += 1;
                }
                let fields: String = chars[fstart..i].iter().map(|&(_, ch)| ch).collect();
                toks.push(Token {
                    tok: Tok::Var {
                        name,
                        path: field_path(&fields),
                    },
                    pos,
                });
            }
            ',' => {
                toks.push(Token {
                    tok: Tok::Comma,
                    pos,
                });
                i += 1;
            }
            ':' if chars.get(i + 1).map(|&(_, d)| d) == Some('=') => {
                toks.push(Token {
                    tok: Tok::Declare,
                    pos,
                });
                i += 2;
            }
            '=' => {
                toks.push(Token {
                    tok: Tok::Assign,
                    pos,
                });
                i += 1;
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+' || c == '.')
                    && chars
                        .get(i + 1)
                        .is_some_and(|&(_, d)| d.is_ascii_digit() || d == '.')) =>
            {
                let start = i;
                i += 1;
                while chars.get(i).is_some_and(|&(_, d)| {
                    d.is_ascii_alphanumeric()
                        || d == '.'
                        || d == '_'
                        || ((d == '-' || d == '+')
                            && matches!(chars[i - 1].1, 'e' | 'E' | 'p' | 'P'))
                }) {
                    i += 1;
                }
                let text: String = chars[start..i].iter().map(|&(_, ch)| ch).collect();
                let v = parse_number(&text)
                    .ok_or_else(|| t.syntax(pos, format!("bad number syntax: {text}")))?;
                toks.push(Token {
                    tok: Tok::Num(v),
                    pos,
                });
            }
            c if is_ident_start(c) => {
                let start = i;
                while chars.get(i).is_some_and(|&(_, d)| is_ident_char(d)) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().map(|&(_, ch)| ch).collect();
                toks.push(Token {
                    tok: Tok::Ident(word),
                    pos,
                });
            }
            other => {
                return Err(t.syntax(
                    pos,
                    format!("unexpected {other:?} in action; check the {{{{ }}}} expression"),
                ));
            }
        }
    }
    Ok(toks)
}

/// `.A.B` → `["A", "B"]`.
fn field_path(text: &str) -> Vec<String> {
    text.split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Decodes one Go escape sequence (after the backslash). Returns the text and
/// the number of chars consumed.
fn unescape(chars: &[(usize, char)], quote: char) -> Result<(String, usize), String> {
    let Some(&(_, c)) = chars.first() else {
        return Err("unterminated escape sequence".into());
    };
    let simple = match c {
        'a' => Some('\u{07}'),
        'b' => Some('\u{08}'),
        'f' => Some('\u{0c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{0b}'),
        '\\' => Some('\\'),
        q if q == quote => Some(q),
        _ => None,
    };
    if let Some(ch) = simple {
        return Ok((ch.to_string(), 1));
    }
    let hex = |n: usize| -> Result<u32, String> {
        let digits: String = chars.iter().skip(1).take(n).map(|&(_, d)| d).collect();
        if digits.len() != n {
            return Err(format!("escape \\{c} needs {n} hex digits"));
        }
        u32::from_str_radix(&digits, 16)
            .map_err(|_| format!("bad hex digits in escape \\{c}{digits}"))
    };
    match c {
        'x' => {
            let v = hex(2)?;
            // A byte; valid UTF-8 only when ASCII.
            let ch = char::from_u32(v)
                .filter(|_| v < 0x80)
                .ok_or("\\x escapes above 7f are not supported; use \\u")?;
            Ok((ch.to_string(), 3))
        }
        'u' | 'U' => {
            let n = if c == 'u' { 4 } else { 8 };
            let v = hex(n)?;
            let ch = char::from_u32(v)
                .ok_or_else(|| format!("escape \\{c} is not a valid character"))?;
            Ok((ch.to_string(), n + 1))
        }
        '0'..='7' => {
            let digits: String = chars.iter().take(3).map(|&(_, d)| d).collect();
            let v = u32::from_str_radix(&digits, 8)
                .map_err(|_| "octal escape needs 3 digits".to_string())?;
            let ch = char::from_u32(v)
                .filter(|_| v < 0x80)
                .ok_or("octal escapes above \\177 are not supported")?;
            Ok((ch.to_string(), 3))
        }
        other => Err(format!("unknown escape sequence \\{other}")),
    }
}

fn parse_number(text: &str) -> Option<Value> {
    let cleaned = text.replace('_', "");
    let (neg, digits) = match cleaned.strip_prefix('-') {
        Some(d) => (true, d.to_string()),
        None => (false, cleaned.trim_start_matches('+').to_string()),
    };
    let lower = digits.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.chars().all(|d| d.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else {
        lower.parse::<i64>().ok()
    };
    if let Some(n) = int {
        return Some(Value::from(if neg { -n } else { n }));
    }
    if lower.starts_with("0x") {
        return None;
    }
    let f: f64 = lower.parse().ok()?;
    serde_json::Number::from_f64(if neg { -f } else { f }).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn funcs() -> Funcs {
        Funcs::new(&["tf_".to_string()])
    }

    #[test]
    fn classify_forms() {
        let f = funcs();
        for go in [
            " env `TAG` `latest` ",
            " must_env `X` ",
            " env \"A\" \"B\" ",
            " if (env `A` ``) ",
            " else ",
            " end ",
            " (env \"A\") | json_escape ",
            " tfstatef \"x[%d]\" 1 ",
            " must_env ",
            " eq .A \"x\" ",
            " \"a\\nb\" ",
        ] {
            assert_eq!(classify(go, &f), Kind::Go, "{go}");
        }
        for tera in [
            " env(name=\"TAG\") ",
            " x ",
            " x | json_escape ",
            " x and y ",
            " \"a\" ~ x ",
            " 1 + 2 ",
            " x is defined ",
            " loop.index ",
            " env(name=`A`) ",
        ] {
            assert_eq!(classify(tera, &f), Kind::Tera, "{tera}");
        }
    }

    #[test]
    fn inject_line_numbers() {
        let f = funcs();
        assert_eq!(
            inject_lines(" env(name=\"A\") ~ tf_tfstate(address='x(') ", 4, &f),
            " env(__line=4, name=\"A\") ~ tf_tfstate(__line=4, address='x(') "
        );
        assert_eq!(
            inject_lines(" x.env() ~ env( ) ", 2, &f),
            " x.env() ~ env(__line=2 ) "
        );
        assert_eq!(
            inject_lines("\n foo(a=1) ~\n must_env(name=\"env(\")", 1, &f),
            "\n foo(a=1) ~\n must_env(__line=3, name=\"env(\")"
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("42"), Some(Value::from(42)));
        assert_eq!(parse_number("-0x1F"), Some(Value::from(-31)));
        assert_eq!(parse_number("1_000"), Some(Value::from(1000)));
        assert_eq!(parse_number("1.5"), Some(Value::from(1.5)));
        assert_eq!(parse_number("1e3"), Some(Value::from(1000.0)));
        assert_eq!(parse_number("1x"), None);
    }
}

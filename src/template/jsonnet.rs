//! Jsonnet evaluation (rsjsonnet-lang) for configs and definitions written
//! as `.jsonnet`, as ecspresso does it: the file is evaluated first, with
//! `import` relative to the importing file, external variables
//! (`--ext-str`, `--ext-code`) and ecspresso's native functions
//! (`std.native('env')` and the others); the JSON it gives is then rendered
//! as a template by the caller.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rsjsonnet_lang::arena::Arena;
use rsjsonnet_lang::interner::InternedStr;
use rsjsonnet_lang::program::{
    AnalyzeError, Callbacks, EvalError, EvalErrorKind, EvalStackTraceItem, ImportError, LoadError,
    NativeError, Program, Thunk, Value as JValue, ValueKind,
};
use rsjsonnet_lang::span::{SpanContextId, SpanId};
use serde_json::Value;

use super::TemplateError;

/// External variables for `std.extVar`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExtVars {
    /// `--ext-str KEY=VALUE`: strings.
    pub strings: Vec<(String, String)>,
    /// `--ext-code KEY=EXPR`: Jsonnet expressions.
    pub code: Vec<(String, String)>,
}

impl ExtVars {
    /// Parses `KEY=VALUE` items of `--ext-str` and `--ext-code`; `flag`
    /// names the flag in errors.
    pub fn parse(strings: &[String], code: &[String]) -> Result<ExtVars, String> {
        let split = |flag: &str, items: &[String]| -> Result<Vec<(String, String)>, String> {
            let mut out: Vec<(String, String)> = Vec::new();
            for item in items.iter().filter(|i| !i.is_empty()) {
                let Some((k, v)) = item.split_once('=') else {
                    return Err(format!(
                        "{flag} {item:?}: write it as KEY=VALUE (several in ECSPRESSO_EXT_* separated by ;)"
                    ));
                };
                if k.is_empty() {
                    return Err(format!("{flag} {item:?}: the KEY before = is empty"));
                }
                // The last one of a name wins.
                out.retain(|(name, _)| name != k);
                out.push((k.to_string(), v.to_string()));
            }
            Ok(out)
        };
        Ok(ExtVars {
            strings: split("--ext-str", strings)?,
            code: split("--ext-code", code)?,
        })
    }
}

/// A native function: its name and parameter names.
pub(crate) struct NativeSpec {
    pub name: String,
    pub params: Vec<&'static str>,
}

/// Calls of native functions, implemented by the renderer.
pub(crate) trait Natives {
    /// The functions to register.
    fn specs(&self) -> Vec<NativeSpec>;
    /// Calls one; the error is a message without the file.
    fn call(&self, name: &str, args: &[Value]) -> Result<Value, String>;
}

/// A file loaded into the program, for positions in errors.
struct Source {
    path: PathBuf,
    text: Vec<u8>,
}

struct Host<'a, 'p> {
    natives: &'a dyn Natives,
    sources: HashMap<SpanContextId, Source>,
    /// Imported files by path: one evaluation per file.
    imported: HashMap<PathBuf, Thunk<'p>>,
    /// The message of the last failed native call or import.
    failure: Option<String>,
}

impl<'p> Host<'_, 'p> {
    fn dir_of(&self, program: &Program<'p>, from: SpanId) -> PathBuf {
        let (ctx, _, _) = program.span_manager().get_span(from);
        self.sources
            .get(&ctx)
            .and_then(|s| s.path.parent())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    fn read_import(
        &mut self,
        program: &Program<'p>,
        from: SpanId,
        path: &str,
    ) -> Result<(PathBuf, Vec<u8>), ImportError> {
        let target = if Path::new(path).is_absolute() {
            PathBuf::from(path)
        } else {
            self.dir_of(program, from).join(path)
        };
        match std::fs::read(&target) {
            Ok(bytes) => Ok((target, bytes)),
            Err(e) => {
                let why = if e.kind() == std::io::ErrorKind::NotFound {
                    "no such file".to_string()
                } else {
                    e.to_string()
                };
                self.failure = Some(format!(
                    "cannot import {}: {why}; imports are relative to the importing file",
                    target.display()
                ));
                Err(ImportError)
            }
        }
    }
}

impl<'p> Callbacks<'p> for Host<'_, 'p> {
    fn import(
        &mut self,
        program: &mut Program<'p>,
        from: SpanId,
        path: &str,
    ) -> Result<Thunk<'p>, ImportError> {
        let (target, bytes) = self.read_import(program, from, path)?;
        if let Some(thunk) = self.imported.get(&target) {
            return Ok(thunk.clone());
        }
        let (ctx, _) = program
            .span_manager_mut()
            .insert_source_context(bytes.len());
        let name = target.display().to_string();
        let loaded = program.load_source(ctx, &bytes, true, &name);
        self.sources.insert(
            ctx,
            Source {
                path: target.clone(),
                text: bytes,
            },
        );
        match loaded {
            Ok(thunk) => {
                self.imported.insert(target, thunk.clone());
                Ok(thunk)
            }
            Err(e) => {
                self.failure = Some(self.load_message(program, &e));
                Err(ImportError)
            }
        }
    }

    fn import_str(
        &mut self,
        program: &mut Program<'p>,
        from: SpanId,
        path: &str,
    ) -> Result<String, ImportError> {
        let (target, bytes) = self.read_import(program, from, path)?;
        String::from_utf8(bytes).map_err(|_| {
            self.failure = Some(format!(
                "importstr {}: the file is not UTF-8 text; use importbin",
                target.display()
            ));
            ImportError
        })
    }

    fn import_bin(
        &mut self,
        program: &mut Program<'p>,
        from: SpanId,
        path: &str,
    ) -> Result<Vec<u8>, ImportError> {
        Ok(self.read_import(program, from, path)?.1)
    }

    fn trace(&mut self, _program: &mut Program<'p>, message: &str, _stack: &[EvalStackTraceItem]) {
        eprintln!("ecsx: jsonnet trace: {message}");
    }

    fn native_call(
        &mut self,
        program: &mut Program<'p>,
        name: InternedStr<'p>,
        args: &[JValue<'p>],
    ) -> Result<JValue<'p>, NativeError> {
        let mut json_args = Vec::with_capacity(args.len());
        for a in args {
            match to_json(a) {
                Some(v) => json_args.push(v),
                None => {
                    self.failure = Some(format!(
                        "std.native('{}'): a function cannot be passed as an argument",
                        name.value()
                    ));
                    return Err(NativeError);
                }
            }
        }
        match self.natives.call(name.value(), &json_args) {
            Ok(v) => Ok(from_json(program, &v)),
            Err(message) => {
                self.failure = Some(message);
                Err(NativeError)
            }
        }
    }
}

/// A Jsonnet value as JSON (`None` for functions).
fn to_json(v: &JValue<'_>) -> Option<Value> {
    Some(match v.kind() {
        ValueKind::Null => Value::Null,
        ValueKind::Bool(b) => Value::Bool(b),
        ValueKind::Number(n) => number(n),
        ValueKind::String(s) => Value::String(s),
        ValueKind::Array(items) => Value::Array(items.iter().map(to_json).collect::<Option<_>>()?),
        ValueKind::Object(fields) => {
            let mut map = serde_json::Map::with_capacity(fields.len());
            for (k, v) in &fields {
                map.insert(k.value().to_string(), to_json(v)?);
            }
            Value::Object(map)
        }
        ValueKind::Function => return None,
    })
}

/// A number as JSON: integers without a fraction.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

fn from_json<'p>(program: &mut Program<'p>, v: &Value) -> JValue<'p> {
    match v {
        Value::Null => JValue::null(),
        Value::Bool(b) => JValue::bool(*b),
        Value::Number(n) => JValue::number(n.as_f64().unwrap_or_default()),
        Value::String(s) => JValue::string(s),
        Value::Array(items) => {
            let items: Vec<JValue<'p>> = items.iter().map(|i| from_json(program, i)).collect();
            program.make_array(&items)
        }
        Value::Object(map) => {
            let fields: Vec<(InternedStr<'p>, JValue<'p>)> = map
                .iter()
                .map(|(k, v)| (program.intern_str(k), from_json(program, v)))
                .collect();
            program.make_object(&fields)
        }
    }
}

/// Evaluates the Jsonnet file `path` (its contents `source`) and returns
/// the JSON text of its value.
pub(crate) fn evaluate(
    path: &Path,
    source: &[u8],
    vars: &ExtVars,
    natives: &dyn Natives,
) -> Result<String, TemplateError> {
    let arena = Arena::new();
    let mut program = Program::new(&arena);
    let mut host = Host {
        natives,
        sources: HashMap::new(),
        imported: HashMap::new(),
        failure: None,
    };
    let fail = |line: Option<usize>, message: String| TemplateError::Jsonnet {
        file: path.to_path_buf(),
        line,
        message,
    };

    for spec in natives.specs() {
        let name = program.intern_str(&spec.name);
        let params: Vec<InternedStr<'_>> =
            spec.params.iter().map(|p| program.intern_str(p)).collect();
        program.register_native_func(name, &params);
    }
    for (k, v) in &vars.strings {
        let thunk = program.value_to_thunk(&JValue::string(v));
        let name = program.intern_str(k);
        program.add_ext_var(name, &thunk);
    }
    for (k, code) in &vars.code {
        let (ctx, _) = program.span_manager_mut().insert_source_context(code.len());
        let label = format!("--ext-code {k}");
        host.sources.insert(
            ctx,
            Source {
                path: PathBuf::from(&label),
                text: code.as_bytes().to_vec(),
            },
        );
        let thunk = program
            .load_source(ctx, code.as_bytes(), true, &label)
            .map_err(|e| TemplateError::Jsonnet {
                file: PathBuf::from(&label),
                line: None,
                message: host.load_message(&program, &e),
            })?;
        let name = program.intern_str(k);
        program.add_ext_var(name, &thunk);
    }

    let (ctx, _) = program
        .span_manager_mut()
        .insert_source_context(source.len());
    host.sources.insert(
        ctx,
        Source {
            path: path.to_path_buf(),
            text: source.to_vec(),
        },
    );
    let thunk = program
        .load_source(ctx, source, true, &path.display().to_string())
        .map_err(|e| {
            let (file, line) = host.load_position(&program, &e);
            TemplateError::Jsonnet {
                file: file.unwrap_or_else(|| path.to_path_buf()),
                line,
                message: Host::load_what(&e),
            }
        })?;
    let value = program
        .eval_value(&thunk, &mut host)
        .map_err(|e| host.eval_error(&program, path, &e))?;
    let text = program
        .manifest_json(&value, true)
        .map_err(|e| host.eval_error(&program, path, &e))?;
    if text.is_empty() {
        return Err(fail(None, "evaluates to nothing".into()));
    }
    Ok(text)
}

impl<'p> Host<'_, 'p> {
    /// File and line of a span.
    fn position(&self, program: &Program<'p>, span: SpanId) -> (Option<PathBuf>, Option<usize>) {
        let (ctx, start, _) = program.span_manager().get_span(span);
        match self.sources.get(&ctx) {
            Some(src) => {
                let upto = &src.text[..start.min(src.text.len())];
                let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
                (Some(src.path.clone()), Some(line))
            }
            None => (None, None),
        }
    }

    fn load_span(e: &LoadError) -> Option<SpanId> {
        use rsjsonnet_lang::lexer::LexError as L;
        use rsjsonnet_lang::parser::ParseError as P;
        Some(match e {
            LoadError::Lex(l) => match l {
                L::InvalidChar { span, .. }
                | L::InvalidUtf8 { span, .. }
                | L::UnfinishedMultilineComment { span }
                | L::LeadingZeroInNumber { span }
                | L::MissingFracDigits { span }
                | L::MissingExpDigits { span }
                | L::MissingDigitAfterUnderscore { span }
                | L::ExpOverflow { span }
                | L::InvalidEscapeInString { span, .. }
                | L::IncompleteUnicodeEscape { span }
                | L::InvalidUtf16EscapeSequence { span, .. }
                | L::UnfinishedString { span }
                | L::MissingLineBreakAfterTextBlockStart { span }
                | L::MissingWhitespaceTextBlockStart { span }
                | L::InvalidTextBlockTermination { span } => *span,
            },
            LoadError::Parse(P::Expected { span, .. }) => *span,
            LoadError::Analyze(a) => match a {
                AnalyzeError::UnknownVariable { span, .. }
                | AnalyzeError::TextBlockAsImportPath { span }
                | AnalyzeError::ComputedImportPath { span } => *span,
                AnalyzeError::SelfOutsideObject { self_span } => *self_span,
                AnalyzeError::SuperOutsideObject { super_span } => *super_span,
                AnalyzeError::DollarOutsideObject { dollar_span } => *dollar_span,
                AnalyzeError::RepeatedLocalName { repeated_span, .. }
                | AnalyzeError::RepeatedFieldName { repeated_span, .. }
                | AnalyzeError::RepeatedParamName { repeated_span, .. } => *repeated_span,
                AnalyzeError::PositionalArgAfterNamed { arg_span } => *arg_span,
            },
        })
    }

    fn load_position(
        &self,
        program: &Program<'p>,
        e: &LoadError,
    ) -> (Option<PathBuf>, Option<usize>) {
        match Self::load_span(e) {
            Some(span) => self.position(program, span),
            None => (None, None),
        }
    }

    /// A load (syntax) error as one message, with its position (for errors
    /// in imported files, reported at the import).
    fn load_message(&self, program: &Program<'p>, e: &LoadError) -> String {
        let what = Self::load_what(e);
        match self.load_position(program, e) {
            (Some(file), Some(line)) => format!("{}:{line}: {what}", file.display()),
            _ => what,
        }
    }

    /// What a load (syntax) error is, without its position.
    fn load_what(e: &LoadError) -> String {
        match e {
            LoadError::Lex(l) => format!("syntax error: {}", words(&format!("{l:?}"))),
            LoadError::Parse(rsjsonnet_lang::parser::ParseError::Expected { instead, .. }) => {
                use rsjsonnet_lang::parser::ActualToken as A;
                let what = match instead {
                    A::EndOfFile => "end of file".to_string(),
                    A::Simple(k) => format!("`{}`", words(&format!("{k:?}"))),
                    A::OtherOp(op) => format!("operator `{op}`"),
                    A::Ident(name) => format!("`{name}`"),
                    A::Number => "a number".into(),
                    A::String | A::TextBlock => "a string".into(),
                };
                format!("syntax error: unexpected {what}; check the line for a missing value, comma or bracket")
            }
            LoadError::Analyze(AnalyzeError::UnknownVariable { name, .. }) => {
                format!("unknown variable {name}; define it with local {name} = ...")
            }
            LoadError::Analyze(a) => words(&format!("{a:?}")),
        }
    }

    fn eval_error(&mut self, program: &Program<'p>, path: &Path, e: &EvalError) -> TemplateError {
        let (span, message) = match &e.kind {
            EvalErrorKind::NativeCallFailed => (None, self.failure.take().unwrap_or_else(|| "a native function failed".into())),
            EvalErrorKind::ImportFailed { span, path } => (
                Some(*span),
                self.failure
                    .take()
                    .unwrap_or_else(|| format!("cannot import {path}")),
            ),
            EvalErrorKind::ExplicitError { span, message } => (Some(*span), format!("error: {message}")),
            EvalErrorKind::AssertFailed { span, message } => (
                Some(*span),
                format!("assertion failed{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()),
            ),
            EvalErrorKind::UnknownExtVar { name } => (
                None,
                format!("external variable {name} is not defined; pass --ext-str {name}=VALUE or --ext-code {name}=EXPR (or ECSPRESSO_EXT_STR / ECSPRESSO_EXT_CODE)"),
            ),
            EvalErrorKind::UnknownObjectField { span, field_name } => {
                (Some(*span), format!("field {field_name} does not exist"))
            }
            EvalErrorKind::CallParamNotBound { span, param_name } => (
                *span,
                format!("missing argument {param_name} in a function call"),
            ),
            EvalErrorKind::TooManyCallArgs { span, num_params } => (
                *span,
                format!("too many arguments in a function call (it takes {num_params})"),
            ),
            EvalErrorKind::Other { span, message } => (*span, message.clone()),
            other => (None, words(&format!("{other:?}"))),
        };
        let span = span.or_else(|| {
            e.stack_trace.iter().find_map(|item| match item {
                EvalStackTraceItem::Expr { span }
                | EvalStackTraceItem::Variable { span, .. }
                | EvalStackTraceItem::Import { span } => Some(*span),
                EvalStackTraceItem::Call { span, .. }
                | EvalStackTraceItem::ArrayItem { span, .. }
                | EvalStackTraceItem::ObjectField { span, .. } => *span,
                _ => None,
            })
        });
        let (file, line) = match span {
            Some(s) => self.position(program, s),
            None => (None, None),
        };
        TemplateError::Jsonnet {
            file: file.unwrap_or_else(|| path.to_path_buf()),
            line,
            message,
        }
    }
}

/// A Debug rendering of an error variant as words: `UnfinishedString { .. }`
/// gives "unfinished string".
fn words(debug: &str) -> String {
    let name: String = debug
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push(' ');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    if out.is_empty() {
        "invalid Jsonnet".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoNatives;
    impl Natives for NoNatives {
        fn specs(&self) -> Vec<NativeSpec> {
            vec![NativeSpec {
                name: "upper".into(),
                params: vec!["s"],
            }]
        }
        fn call(&self, name: &str, args: &[Value]) -> Result<Value, String> {
            match (name, args) {
                ("upper", [Value::String(s)]) if s != "boom" => Ok(Value::String(s.to_uppercase())),
                _ => Err(format!("{name}: it failed")),
            }
        }
    }

    fn eval(dir: &Path, name: &str, vars: &ExtVars) -> Result<Value, TemplateError> {
        let path = dir.join(name);
        let source = std::fs::read(&path).unwrap();
        let text = evaluate(&path, &source, vars, &NoNatives)?;
        Ok(serde_json::from_str(&text).unwrap())
    }

    #[test]
    fn imports_are_relative_to_the_importing_file_and_ext_vars_apply() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(
            dir.path().join("lib/base.libsonnet"),
            "local more = import 'more.libsonnet'; { name: 'web' } + more",
        )
        .unwrap();
        std::fs::write(dir.path().join("lib/more.libsonnet"), "{ port: 80 }").unwrap();
        std::fs::write(
            dir.path().join("td.jsonnet"),
            "local base = import 'lib/base.libsonnet';\n{ c: base { tag: std.extVar('TAG') }, n: std.extVar('N') * 2, u: std.native('upper')('x'), big: 123456789, f: 0.5 }",
        )
        .unwrap();
        let vars = ExtVars::parse(&["TAG=v1".into()], &["N=20 + 1".into()]).unwrap();
        let v = eval(dir.path(), "td.jsonnet", &vars).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"c": {"name": "web", "port": 80, "tag": "v1"}, "n": 42, "u": "X", "big": 123456789, "f": 0.5})
        );
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.jsonnet"),
            "{\n  a: std.extVar('NOPE'),\n}",
        )
        .unwrap();
        let e = eval(dir.path(), "a.jsonnet", &ExtVars::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a.jsonnet") && e.contains("NOPE") && e.contains("--ext-str"),
            "{e}"
        );

        std::fs::write(dir.path().join("b.jsonnet"), "{\n  a: 1,\n  b: ,\n}").unwrap();
        let e = eval(dir.path(), "b.jsonnet", &ExtVars::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("b.jsonnet:3"), "{e}");

        std::fs::write(
            dir.path().join("c.jsonnet"),
            "{\n  a: import 'missing.libsonnet',\n}",
        )
        .unwrap();
        let e = eval(dir.path(), "c.jsonnet", &ExtVars::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("c.jsonnet:2")
                && e.contains("missing.libsonnet")
                && e.contains("no such file"),
            "{e}"
        );

        std::fs::write(
            dir.path().join("d.jsonnet"),
            "{\n\n  a: std.native('upper')('boom'),\n}",
        )
        .unwrap();
        let e = eval(dir.path(), "d.jsonnet", &ExtVars::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("upper: it failed"), "{e}");

        std::fs::write(
            dir.path().join("e.jsonnet"),
            "{\n  a: error 'stop here',\n}",
        )
        .unwrap();
        let e = eval(dir.path(), "e.jsonnet", &ExtVars::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("e.jsonnet:2") && e.contains("stop here"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn ext_var_flags_are_checked() {
        assert!(ExtVars::parse(&["novalue".into()], &[]).is_err());
        assert!(ExtVars::parse(&["=x".into()], &[]).is_err());
        let v = ExtVars::parse(&["A=1".into(), "A=2".into(), "B=x=y".into()], &[]).unwrap();
        assert_eq!(
            v.strings,
            vec![("A".into(), "2".into()), ("B".into(), "x=y".into())]
        );
    }
}

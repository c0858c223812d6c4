//! Evaluation of translated Go pipelines, and the functions shared by the Go
//! and Tera forms.

use serde_json::Value;

use std::collections::HashMap;

use super::gotemplate::{Command, Operand, Pipeline, DOT_VAR};
use super::tfstate::{value_text, LookupError};
use super::{json_escape, Func, RenderCtx, TemplateError};

/// The Tera arguments of a hidden call: `__dot` and the `__v_*` variables.
pub(crate) type Scope = HashMap<String, Value>;

/// `value.A.B` as Go reads fields of maps: a missing key has no value.
fn field(value: &Value, path: &[String]) -> Value {
    let mut cur = value;
    for f in path {
        match cur.get(f) {
            Some(v) => cur = v,
            None => return Value::Null,
        }
    }
    cur.clone()
}

impl RenderCtx {
    /// Evaluates a Go pipeline.
    pub(crate) fn eval_pipeline(
        &self,
        p: &Pipeline,
        scope: &Scope,
    ) -> Result<Value, TemplateError> {
        let mut piped: Option<Value> = None;
        for cmd in &p.cmds {
            piped = Some(self.eval_command(cmd, piped, scope)?);
        }
        Ok(piped.unwrap_or(Value::Null))
    }

    fn eval_command(
        &self,
        cmd: &Command,
        piped: Option<Value>,
        scope: &Scope,
    ) -> Result<Value, TemplateError> {
        match &cmd.operands[0] {
            Operand::Func { name, func, line } => {
                self.call(name, *func, *line, &cmd.operands[1..], piped, scope)
            }
            // The parser allows a plain value only as the first command.
            other => self.eval_operand(other, scope),
        }
    }

    fn eval_operand(&self, op: &Operand, scope: &Scope) -> Result<Value, TemplateError> {
        match op {
            Operand::Func { name, func, line } => self.call(name, *func, *line, &[], None, scope),
            Operand::Value(v) => Ok(v.clone()),
            // ecspresso's data is an empty map: at the top level `.` is
            // empty and `.X` has no value; in range/with `.` is the element.
            Operand::Dot { path } => Ok(match scope.get(DOT_VAR) {
                Some(dot) => field(dot, path),
                None if path.is_empty() => Value::Object(Default::default()),
                None => Value::Null,
            }),
            Operand::Var { name, path } if name.is_empty() => Ok(if path.is_empty() {
                Value::Object(Default::default())
            } else {
                Value::Null
            }),
            Operand::Var { name, path } => Ok(scope
                .get(&format!("__v_{name}"))
                .map(|v| field(v, path))
                .unwrap_or(Value::Null)),
            Operand::Pipe(p) => self.eval_pipeline(p, scope),
        }
    }

    fn call(
        &self,
        name: &str,
        func: Func,
        line: usize,
        args: &[Operand],
        piped: Option<Value>,
        scope: &Scope,
    ) -> Result<Value, TemplateError> {
        let count = args.len() + usize::from(piped.is_some());
        // `and` and `or` stop at the first deciding argument, like Go's.
        if matches!(func, Func::And | Func::Or) {
            if count == 0 {
                return Err(self.arity(name, line, "at least 1", 0));
            }
            let mut last = Value::Null;
            for op in args {
                last = self.eval_operand(op, scope)?;
                if truth(&last) == matches!(func, Func::Or) {
                    return Ok(last);
                }
            }
            if let Some(v) = piped {
                last = v;
            }
            return Ok(last);
        }
        let mut vals = Vec::with_capacity(count);
        for op in args {
            vals.push(self.eval_operand(op, scope)?);
        }
        vals.extend(piped);
        let exact = |n: usize| -> Result<(), TemplateError> {
            if vals.len() == n {
                Ok(())
            } else {
                Err(self.arity(name, line, &n.to_string(), vals.len()))
            }
        };
        let at_least = |n: usize| -> Result<(), TemplateError> {
            if vals.len() >= n {
                Ok(())
            } else {
                Err(self.arity(name, line, &format!("at least {n}"), vals.len()))
            }
        };
        Ok(match func {
            Func::Env => {
                at_least(1)?;
                let names: Vec<String> = vals.iter().map(text).collect();
                Value::String(self.env_fallback(&names))
            }
            Func::MustEnv => {
                exact(1)?;
                Value::String(self.must_env(&text(&vals[0]), line)?)
            }
            Func::JsonEscape => {
                exact(1)?;
                Value::String(json_escape(&text(&vals[0])))
            }
            Func::Tfstate(i) => {
                exact(1)?;
                Value::String(self.tfstate(i, &text(&vals[0]), line)?)
            }
            Func::Tfstatef(i) => {
                at_least(1)?;
                let address = go_sprintf(&text(&vals[0]), &vals[1..])
                    .map_err(|m| self.render_err(line, format!("{name}: {m}")))?;
                Value::String(self.tfstate(i, &address, line)?)
            }
            Func::Ssm => {
                at_least(1)?;
                if vals.len() > 2 {
                    return Err(self.arity(name, line, "1 or 2", vals.len()));
                }
                Value::String(self.ssm(name, &text(&vals[0]), vals.get(1), line)?)
            }
            Func::SecretsManagerArn => {
                exact(1)?;
                Value::String(self.secret_arn(name, &text(&vals[0]), line)?)
            }
            Func::SecretsManagerArnf => {
                at_least(1)?;
                let id = go_sprintf(&text(&vals[0]), &vals[1..])
                    .map_err(|m| self.render_err(line, format!("{name}: {m}")))?;
                Value::String(self.secret_arn(name, &id, line)?)
            }
            Func::Printf => {
                at_least(1)?;
                let s = go_sprintf(&text(&vals[0]), &vals[1..])
                    .map_err(|m| self.render_err(line, format!("{name}: {m}")))?;
                Value::String(s)
            }
            Func::Not => {
                exact(1)?;
                Value::Bool(!truth(&vals[0]))
            }
            Func::Eq => {
                at_least(2)?;
                let mut any = false;
                for v in &vals[1..] {
                    any |= self.compare(name, line, &vals[0], v)? == std::cmp::Ordering::Equal;
                }
                Value::Bool(any)
            }
            Func::Ne | Func::Lt | Func::Le | Func::Gt | Func::Ge => {
                exact(2)?;
                let ord = self.compare(name, line, &vals[0], &vals[1])?;
                use std::cmp::Ordering::*;
                Value::Bool(match func {
                    Func::Ne => ord != Equal,
                    Func::Lt => ord == Less,
                    Func::Le => ord != Greater,
                    Func::Gt => ord == Greater,
                    _ => ord != Less,
                })
            }
            Func::Unsupported(u) => return Err(self.unsupported_fn(name, u, line)),
            Func::And | Func::Or => unreachable!("handled above"),
        })
    }

    fn compare(
        &self,
        name: &str,
        line: usize,
        a: &Value,
        b: &Value,
    ) -> Result<std::cmp::Ordering, TemplateError> {
        let ord = match (a, b) {
            (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
            (Value::Number(x), Value::Number(y)) => x
                .as_f64()
                .zip(y.as_f64())
                .and_then(|(x, y)| x.partial_cmp(&y)),
            (Value::Bool(x), Value::Bool(y)) if name == "eq" || name == "ne" => Some(x.cmp(y)),
            (Value::Null, Value::Null) if name == "eq" || name == "ne" => {
                Some(std::cmp::Ordering::Equal)
            }
            _ => None,
        };
        ord.ok_or_else(|| {
            self.render_err(
                line,
                format!(
                    "{name}: cannot compare {} with {}; compare values of the same type",
                    type_name(a),
                    type_name(b)
                ),
            )
        })
    }

    fn arity(&self, name: &str, line: usize, want: &str, got: usize) -> TemplateError {
        self.render_err(
            line,
            format!("wrong number of arguments for {name}: want {want}, got {got}"),
        )
    }

    /// What `range` iterates: a list's elements, a map's values in key
    /// order (Go's), `0..n` for an integer n; with `pairs`, `[key, value]`.
    pub(crate) fn range_items(
        &self,
        v: Value,
        pairs: bool,
        line: usize,
    ) -> Result<Value, TemplateError> {
        let items: Vec<(Value, Value)> = match v {
            Value::Null => Vec::new(),
            Value::Array(a) => a
                .into_iter()
                .enumerate()
                .map(|(i, x)| (Value::from(i), x))
                .collect(),
            Value::Object(m) => {
                let mut kv: Vec<(String, Value)> = m.into_iter().collect();
                kv.sort_by(|a, b| a.0.cmp(&b.0));
                kv.into_iter().map(|(k, x)| (Value::String(k), x)).collect()
            }
            Value::Number(n) if n.as_u64().is_some() && !pairs => (0..n.as_u64().unwrap_or(0))
                .map(|i| (Value::from(i), Value::from(i)))
                .collect(),
            other => {
                return Err(self.render_err(
                    line,
                    format!(
                        "range can't iterate over {} ({}); range over a list or a map",
                        text(&other),
                        type_name(&other)
                    ),
                ))
            }
        };
        Ok(Value::Array(
            items
                .into_iter()
                .map(|(k, x)| if pairs { Value::Array(vec![k, x]) } else { x })
                .collect(),
        ))
    }

    pub(crate) fn render_err(&self, line: usize, message: String) -> TemplateError {
        TemplateError::Render {
            file: self.file.clone(),
            line: Some(line),
            message,
        }
    }

    /// `env NAME [FALLBACK...]`: the first non-empty variable among the
    /// names, else the last argument as literal text. As in ecspresso
    /// (kayac/go-config), `env `X`` with X unset gives "X" itself, which is
    /// why real files write ``env `X` ``` for an empty default.
    pub(crate) fn env_fallback(&self, names: &[String]) -> String {
        for n in names {
            if let Some(v) = (self.env)(n).filter(|v| !v.is_empty()) {
                return v;
            }
        }
        names.last().cloned().unwrap_or_default()
    }

    pub(crate) fn must_env(&self, name: &str, line: usize) -> Result<String, TemplateError> {
        (self.env)(name).ok_or_else(|| TemplateError::MissingEnv {
            name: name.to_string(),
            file: self.file.clone(),
            line,
        })
    }

    pub(crate) fn tfstate(
        &self,
        idx: usize,
        address: &str,
        line: usize,
    ) -> Result<String, TemplateError> {
        let source = &self.states[idx];
        let state =
            source
                .state(self.remote.as_deref())
                .map_err(|message| TemplateError::TfstateLoad {
                    location: source.location.to_string(),
                    message: message.clone(),
                })?;
        match state.lookup(address) {
            Ok(v) => Ok(value_text(&v)),
            Err(LookupError::NotFound) => Err(TemplateError::TfstateNotFound {
                address: address.to_string(),
                file: self.file.clone(),
                line,
                state: source.location.to_string(),
            }),
            Err(LookupError::BadAddress(m)) => {
                Err(self.render_err(line, format!("bad tfstate address {address:?}: {m}")))
            }
        }
    }

    /// `ssm NAME [INDEX]`: the parameter's value, decrypted; INDEX picks an
    /// element of a StringList (and only of one), as ecspresso's.
    pub(crate) fn ssm(
        &self,
        func: &str,
        name: &str,
        index: Option<&Value>,
        line: usize,
    ) -> Result<String, TemplateError> {
        let index = match index {
            None => None,
            Some(v) => Some(
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .ok_or_else(|| {
                        self.render_err(
                            line,
                            format!("{func}: the index must be a number, got {}", text(v)),
                        )
                    })?,
            ),
        };
        super::ssm_value(self.remote.as_deref(), name, index)
            .map_err(|m| self.render_err(line, format!("{func} {name:?}: {m}")))
    }

    /// `secretsmanager_arn ID`: the secret's full ARN.
    pub(crate) fn secret_arn(
        &self,
        func: &str,
        id: &str,
        line: usize,
    ) -> Result<String, TemplateError> {
        super::secret_arn(self.remote.as_deref(), id)
            .map_err(|m| self.render_err(line, format!("{func} {id:?}: {m}")))
    }

    pub(crate) fn unsupported_fn(
        &self,
        name: &str,
        u: super::Unsupported,
        line: usize,
    ) -> TemplateError {
        TemplateError::UnsupportedFunction {
            name: name.to_string(),
            file: self.file.clone(),
            line,
            hint: u.hint().to_string(),
        }
    }
}

/// Go's notion of truth: false, 0, nil and empty values are false.
pub(crate) fn truth(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// How Go's text/template prints a value.
pub(crate) fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".to_string(),
        Value::Object(m) if m.is_empty() => "map[]".to_string(),
        other => text(other),
    }
}

/// A value as text (strings without quotes).
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => value_text(other),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

/// Go's fmt.Sprintf for the verbs templates use: %s %v %d %q %t %f %x and %%.
/// A verb without an argument, or an argument without a verb, is an error.
pub(crate) fn go_sprintf(format: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::with_capacity(format.len());
    let mut chars = format.chars();
    let mut next = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(verb) = chars.next() else {
            return Err(format!(
                "format {format:?} ends with a lone %; write %% for a percent sign"
            ));
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            return Err(format!(
                "format {format:?} has more verbs than the {} argument(s) given",
                args.len()
            ));
        };
        next += 1;
        match verb {
            's' | 'v' => out.push_str(&text(arg)),
            'd' => match arg {
                Value::Number(n) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
                Value::String(s) if s.parse::<i64>().is_ok() => out.push_str(s),
                other => {
                    return Err(format!("%d needs an integer, got {}", text(other)));
                }
            },
            'q' => {
                out.push('"');
                out.push_str(&json_escape(&text(arg)));
                out.push('"');
            }
            't' => match arg {
                Value::Bool(b) => out.push_str(&b.to_string()),
                other => return Err(format!("%t needs a bool, got {}", text(other))),
            },
            'f' => match arg.as_f64() {
                Some(f) => out.push_str(&format!("{f:.6}")),
                None => return Err(format!("%f needs a number, got {}", text(arg))),
            },
            'x' => match arg {
                Value::Number(n) if n.is_i64() => {
                    out.push_str(&format!("{:x}", n.as_i64().unwrap_or_default()))
                }
                other => {
                    for b in text(other).bytes() {
                        out.push_str(&format!("{b:02x}"));
                    }
                }
            },
            other => {
                return Err(format!(
                    "unsupported verb %{other} in {format:?}; use %s, %d, %v, %q or %%"
                ))
            }
        }
    }
    if next < args.len() {
        return Err(format!(
            "format {format:?} uses {next} argument(s) but {} were given",
            args.len()
        ));
    }
    Ok(out)
}

//! Templates for config files and task/service definitions.
//!
//! Two syntaxes work, also mixed in one file:
//!
//! **ecspresso's Go text/template forms**, translated to Tera before rendering
//! (see the gotemplate submodule): `{{ env `TAG` `latest` }}`, `{{ must_env `TAG` }}`,
//! `{{ env `JSON` | json_escape }}`, `{{ tfstate `aws_x.y.attr` }}`,
//! `{{ tfstatef `aws_x.y['%s'].arn` `app` }}`, `{{ if ... }}`/`{{ else if ... }}`/
//! `{{ else }}`/`{{ end }}`, parentheses, pipelines, `eq ne lt le gt ge not and
//! or printf`, `{{- trim -}}` markers, `{{/* comments */}}`, backtick and
//! double-quoted strings (with Go escapes). Not supported: `range`, `with`,
//! `define`/`template`/`block`, `$variables`.
//!
//! **Tera** (no HTML autoescaping, output is byte-exact). Functions and their
//! arguments:
//! - `env(name="TAG", default="latest")`: the variable if set and non-empty,
//!   else `default` (else empty). `name` may be a list of names, tried in order.
//! - `must_env(name="TAG")`: the variable (empty is fine); an error if unset.
//! - `tfstate(address="aws_ecr_repository.app.repository_url")`
//! - `tfstatef(format="aws_iam_role.role['%s'].arn", args=["app"])`
//! - filter `json_escape`: `{{ env(name="JSON") | json_escape }}`.
//!
//! Plugin functions carry the plugin's `func_prefix` in both syntaxes
//! (`tf_tfstate`, `tf_tfstatef`). `env`: in the Go form, `env "A" "B" "lit"`
//! is the first non-empty of $A, $B, $lit, else the last argument as text;
//! with one argument, empty when unset.
//!
//! tfstate addresses: `TYPE.NAME`, `TYPE.NAME[0]`, `TYPE.NAME['k']` or
//! `["k"]`, `data.TYPE.NAME`, `module.M[KEY].…` (nested), `output.NAME`,
//! followed by an attribute path (`attr.0.name`, `attr[0].name`, `tags.Name`).
//! Without an index, a counted/for_each resource gives all its instances
//! (a list or an object). Strings are returned as is, numbers and booleans as
//! text, null as empty, lists and objects as compact JSON. State files are
//! read once, on first use; only local files (format version 4) are read.

mod eval;
mod gotemplate;
mod jsonnet;
mod tfstate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use gotemplate::{LineIndex, Pipeline, COND_FN, GO_FN, LINE_ARG, RANGE_FN, VAL_FN, WITH_FN};
pub use jsonnet::ExtVars;
use jsonnet::{NativeSpec, Natives};
use tfstate::TfState;

/// What templates look up in AWS at render time (`ssm`, `secretsmanager_arn`,
/// tfstate on `s3://`), through the user's credentials. Errors are one-line
/// messages. Implementations cache and never log a parameter's value.
pub trait Remote: Send + Sync {
    /// SSM GetParameter with decryption: the parameter's type (`String`,
    /// `SecureString`, `StringList`) and value.
    fn ssm_parameter(&self, name: &str) -> Result<(String, String), String>;
    /// Secrets Manager DescribeSecret: the secret's full ARN.
    fn secret_arn(&self, id: &str) -> Result<String, String>;
    /// S3 GetObject: the object's bytes.
    fn s3_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>, String>;
}

/// A plugin entry of the config (`plugins:`).
#[derive(Debug, Clone, PartialEq)]
pub struct Plugin {
    pub name: String,
    pub config: Value,
    pub func_prefix: String,
}

/// A template error. Each displays as one line naming the file and line (when
/// known) and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{}: template syntax error: {message}", loc(file, Some(*line), *column))]
    Syntax {
        file: PathBuf,
        line: usize,
        column: Option<usize>,
        message: String,
    },
    #[error("{}:{line}: environment variable {name} is not set (must_env); export {name} or use env with a default", file.display())]
    MissingEnv {
        name: String,
        file: PathBuf,
        line: usize,
    },
    #[error("{}:{line}: unknown template function \"{name}\"; available: {}", file.display(), available.join(", "))]
    UnknownFunction {
        name: String,
        file: PathBuf,
        line: usize,
        available: Vec<String>,
    },
    #[error("{}:{line}: template function \"{name}\" is not supported by ecsx yet; {hint}", file.display())]
    UnsupportedFunction {
        name: String,
        file: PathBuf,
        line: usize,
        hint: String,
    },
    #[error("{}:{line}: {{{{ {construct} }}}} is not supported in ecsx templates; use if/else, or Tera syntax ({{% for %}}, {{% set %}})", file.display())]
    UnsupportedSyntax {
        construct: String,
        file: PathBuf,
        line: usize,
    },
    #[error("{}:{line}: tfstate address {address} not found in {state}; run terraform state list to see addresses", file.display())]
    TfstateNotFound {
        address: String,
        file: PathBuf,
        line: usize,
        state: String,
    },
    #[error("cannot load terraform state {location}: {message}")]
    TfstateLoad { location: String, message: String },
    #[error("tfstate plugin: {location} is not supported; ecsx reads local state files (path: FILE or url: file://FILE) and S3 (url: s3://BUCKET/KEY); for other backends run terraform state pull > terraform.tfstate and use that file")]
    UnsupportedStateLocation { location: String },
    #[error("{}: jsonnet: {message}", loc(file, *line, None))]
    Jsonnet {
        file: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error("plugin {plugin}: {message}")]
    PluginConfig { plugin: String, message: String },
    #[error("{}: template error: {message}", loc(file, *line, None))]
    Render {
        file: PathBuf,
        line: Option<usize>,
        message: String,
    },
}

fn loc(file: &Path, line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{}:{l}:{c}", file.display()),
        (Some(l), None) => format!("{}:{l}", file.display()),
        _ => file.display().to_string(),
    }
}

/// Functions ecspresso has that ecsx cannot provide.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Unsupported {
    CloudFormation,
}

impl Unsupported {
    fn hint(self) -> &'static str {
        match self {
            Unsupported::CloudFormation => "the cloudformation plugin needs AWS at render time; pass the value in an environment variable (must_env)",
        }
    }
}

/// A template function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Func {
    Env,
    MustEnv,
    JsonEscape,
    Tfstate(usize),
    Tfstatef(usize),
    Ssm,
    SecretsManagerArn,
    SecretsManagerArnf,
    Printf,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Not,
    And,
    Or,
    Unsupported(Unsupported),
}

/// The function names known to a renderer.
#[derive(Debug)]
pub(crate) struct Funcs {
    map: HashMap<String, Func>,
    /// ecsx's own functions, for error messages.
    pub(crate) available: Vec<String>,
}

impl Funcs {
    /// Functions with one tfstate plugin per prefix.
    pub(crate) fn new(tfstate_prefixes: &[String]) -> Funcs {
        let mut map = HashMap::new();
        let mut available = Vec::new();
        for (name, f) in [
            ("env", Func::Env),
            ("must_env", Func::MustEnv),
            ("json_escape", Func::JsonEscape),
            ("ssm", Func::Ssm),
            ("secretsmanager_arn", Func::SecretsManagerArn),
            ("secretsmanager_arnf", Func::SecretsManagerArnf),
        ] {
            map.insert(name.to_string(), f);
            available.push(name.to_string());
        }
        for (i, p) in tfstate_prefixes.iter().enumerate() {
            for (name, f) in [
                (format!("{p}tfstate"), Func::Tfstate(i)),
                (format!("{p}tfstatef"), Func::Tfstatef(i)),
            ] {
                available.push(name.clone());
                map.insert(name, f);
            }
        }
        for (name, f) in [
            ("printf", Func::Printf),
            ("eq", Func::Eq),
            ("ne", Func::Ne),
            ("lt", Func::Lt),
            ("le", Func::Le),
            ("gt", Func::Gt),
            ("ge", Func::Ge),
            ("not", Func::Not),
            ("and", Func::And),
            ("or", Func::Or),
            ("cfn_output", Func::Unsupported(Unsupported::CloudFormation)),
            ("cfn_export", Func::Unsupported(Unsupported::CloudFormation)),
        ] {
            map.entry(name.to_string()).or_insert(f);
        }
        Funcs { map, available }
    }

    pub(crate) fn get(&self, name: &str) -> Option<Func> {
        self.map.get(name).copied()
    }

    /// Whether `name` is a function also callable from Tera code.
    pub(crate) fn native(&self, name: &str) -> bool {
        matches!(
            self.get(name),
            Some(
                Func::Env
                    | Func::MustEnv
                    | Func::Tfstate(_)
                    | Func::Tfstatef(_)
                    | Func::Ssm
                    | Func::SecretsManagerArn
                    | Func::SecretsManagerArnf
                    | Func::Unsupported(_)
            )
        )
    }
}

/// Where a state is.
#[derive(Debug, Clone, PartialEq)]
enum StateLocation {
    File(PathBuf),
    S3 { bucket: String, key: String },
}

impl std::fmt::Display for StateLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateLocation::File(p) => write!(f, "{}", p.display()),
            StateLocation::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// A state, read on first use.
struct StateSource {
    location: StateLocation,
    loaded: OnceLock<Result<TfState, String>>,
}

impl StateSource {
    fn state(&self, remote: Option<&dyn Remote>) -> Result<&TfState, &String> {
        self.loaded
            .get_or_init(|| match &self.location {
                StateLocation::File(path) => TfState::load(path),
                StateLocation::S3 { bucket, key } => {
                    let Some(remote) = remote else {
                        return Err("reading state from S3 needs AWS access, which this command does not set up".into());
                    };
                    let bytes = remote.s3_object(bucket, key)?;
                    let text = String::from_utf8(bytes)
                        .map_err(|_| "the object is not UTF-8 text; is it a terraform state file?".to_string())?;
                    TfState::parse(&text)
                }
            })
            .as_ref()
    }
}

type EnvLookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Renders templates. Cheap to clone; state files are shared between clones.
#[derive(Clone)]
pub struct Renderer {
    env: Arc<EnvLookup>,
    states: Arc<Vec<StateSource>>,
    funcs: Arc<Funcs>,
    warnings: Vec<String>,
    ext: Arc<ExtVars>,
    remote: Option<Arc<dyn Remote>>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field(
                "states",
                &self
                    .states
                    .iter()
                    .map(|s| s.location.to_string())
                    .collect::<Vec<_>>(),
            )
            .field("functions", &self.funcs.available)
            .field("warnings", &self.warnings)
            .finish()
    }
}

const TEMPLATE_NAME: &str = "ecsx-template";

// Callers share renderers between threads and clone them.
const _: () = {
    const fn check<T: Send + Sync + Clone>() {}
    check::<Renderer>();
};

impl Renderer {
    /// Only `env`, `must_env`, `json_escape` (used for the config file itself).
    pub fn basic() -> Renderer {
        Renderer {
            env: Arc::new(|name: &str| std::env::var(name).ok()),
            states: Arc::new(Vec::new()),
            funcs: Arc::new(Funcs::new(&[])),
            warnings: Vec::new(),
            ext: Arc::new(ExtVars::default()),
            remote: None,
        }
    }

    /// Plus plugin functions. Only plugin `tfstate` is supported (config
    /// `path:` relative to `base_dir`, or `url:` a file:// URL or a local
    /// path, also relative to `base_dir`). Other plugins are skipped with a
    /// note in [`Renderer::warnings`]. State files are read on first use.
    pub fn with_plugins(plugins: &[Plugin], base_dir: &Path) -> Result<Renderer, TemplateError> {
        let mut prefixes: Vec<String> = Vec::new();
        let mut states = Vec::new();
        let mut warnings = Vec::new();
        for p in plugins {
            if !p.name.eq_ignore_ascii_case("tfstate") {
                warnings.push(format!(
                    "plugin {:?} is not supported by ecsx and was ignored; template functions it provides will fail",
                    p.name
                ));
                continue;
            }
            let err = |message: String| TemplateError::PluginConfig {
                plugin: p.name.clone(),
                message,
            };
            if !p
                .func_prefix
                .chars()
                .all(|c| c == '_' || c.is_ascii_alphanumeric())
                || p.func_prefix.starts_with(|c: char| c.is_ascii_digit())
            {
                return Err(err(format!(
                    "func_prefix {:?} must be letters, digits and _ (e.g. tf_)",
                    p.func_prefix
                )));
            }
            check_prefix_free(&prefixes, p)?;
            let location = state_location(&p.config, base_dir).map_err(|e| match e {
                LocErr::Config(m) => err(m),
                LocErr::Remote(location) => TemplateError::UnsupportedStateLocation { location },
            })?;
            prefixes.push(p.func_prefix.clone());
            states.push(StateSource {
                location,
                loaded: OnceLock::new(),
            });
        }
        Ok(Renderer {
            env: Arc::new(|name: &str| std::env::var(name).ok()),
            states: Arc::new(states),
            funcs: Arc::new(Funcs::new(&prefixes)),
            warnings,
            ext: Arc::new(ExtVars::default()),
            remote: None,
        })
    }

    /// Sets the Jsonnet external variables.
    pub fn with_ext_vars(mut self, ext: ExtVars) -> Renderer {
        self.ext = Arc::new(ext);
        self
    }

    /// Sets what `ssm`, `secretsmanager_arn` and S3 state go through.
    pub fn with_remote(mut self, remote: Arc<dyn Remote>) -> Renderer {
        self.remote = Some(remote);
        self
    }

    /// Renders a file: a `.jsonnet` file (or any file when `jsonnet_json`
    /// and it ends in `.json`, as ecspresso reads JSON configs) is evaluated
    /// as Jsonnet first, then the result is rendered as a template.
    pub fn render_file(
        &self,
        file: &Path,
        source: &str,
        jsonnet_json: bool,
    ) -> Result<String, TemplateError> {
        let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext == "jsonnet" || ext == "libsonnet" || (jsonnet_json && ext == "json") {
            let json = jsonnet::evaluate(file, source.as_bytes(), &self.ext, self)?;
            // Template errors then point into the evaluated JSON (one field a
            // line), not into the Jsonnet source: say so in the file name.
            let shown = PathBuf::from(format!("{} (as evaluated by Jsonnet)", file.display()));
            return self.render(&shown, &json);
        }
        self.render(file, source)
    }

    /// Replaces the environment lookup (default: `std::env::var`).
    pub fn with_env(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Renderer {
        self.env = Arc::new(lookup);
        self
    }

    /// Notes about ignored plugins, for the caller to print.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Renders `source` (the contents of `file`; `file` is used in error
    /// messages only).
    pub fn render(&self, file: &Path, source: &str) -> Result<String, TemplateError> {
        if !source.contains("{{") && !source.contains("{%") && !source.contains("{#") {
            return Ok(source.to_string());
        }
        let tr = gotemplate::translate(source, &self.funcs, file)?;
        let ctx = Arc::new(RenderCtx {
            file: file.to_path_buf(),
            env: self.env.clone(),
            remote: self.remote.clone(),
            states: self.states.clone(),
            funcs: self.funcs.clone(),
            exprs: tr.exprs,
            error: Mutex::new(None),
        });
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![]);
        register(&mut tera, &ctx);
        if let Err(e) = tera.add_raw_template(TEMPLATE_NAME, &tr.text) {
            return Err(parse_error(&e, file, source, &tr.text));
        }
        match tera.render(TEMPLATE_NAME, &tera::Context::new()) {
            Ok(s) => Ok(s),
            Err(e) => Err(ctx
                .take_error()
                .unwrap_or_else(|| self.runtime_error(&e, file, source))),
        }
    }

    /// Maps a Tera render error that no ecsx function recorded.
    fn runtime_error(&self, e: &tera::Error, file: &Path, source: &str) -> TemplateError {
        let mut messages = Vec::new();
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = cur {
            if let Some(te) = err.downcast_ref::<tera::Error>() {
                match &te.kind {
                    tera::ErrorKind::FunctionNotFound(name) => {
                        let line = find_line(source, name, true).unwrap_or(1);
                        return match self.funcs.get(name) {
                            Some(Func::Unsupported(u)) => TemplateError::UnsupportedFunction {
                                name: name.clone(),
                                file: file.to_path_buf(),
                                line,
                                hint: u.hint().to_string(),
                            },
                            _ => TemplateError::UnknownFunction {
                                name: name.clone(),
                                file: file.to_path_buf(),
                                line,
                                available: self.funcs.available.clone(),
                            },
                        };
                    }
                    tera::ErrorKind::FilterNotFound(name) => {
                        return TemplateError::Render {
                            file: file.to_path_buf(),
                            line: find_line(source, name, false),
                            message: format!(
                                "unknown filter \"{name}\"; ecsx adds the filter json_escape to Tera's built-in filters"
                            ),
                        };
                    }
                    _ => {}
                }
            }
            let text = err.to_string();
            if let Some(var) = text
                .strip_prefix("Variable `")
                .and_then(|r| r.split_once("` not found in context"))
                .map(|(v, _)| v.to_string())
            {
                let root = var.split(['.', '[']).next().unwrap_or(&var).to_string();
                return TemplateError::Render {
                    file: file.to_path_buf(),
                    line: find_line(source, &root, false),
                    message: format!(
                        "variable `{var}` is not defined; templates have no variables, call a function instead, e.g. env(name=\"{root}\") or {{{{ env `{root}` }}}}"
                    ),
                };
            }
            if !text.starts_with("Failed to render") {
                messages.push(text);
            }
            cur = err.source();
        }
        TemplateError::Render {
            file: file.to_path_buf(),
            line: None,
            message: messages.join(": "),
        }
    }
}

/// Fails when a tfstate plugin's functions would take names already taken
/// (two plugins without `func_prefix`), with ecspresso's advice.
fn check_prefix_free(prefixes: &[String], p: &Plugin) -> Result<(), TemplateError> {
    let taken = Funcs::new(prefixes);
    for name in [
        format!("{}tfstate", p.func_prefix),
        format!("{}tfstatef", p.func_prefix),
    ] {
        if matches!(taken.get(&name), Some(Func::Tfstate(_) | Func::Tfstatef(_))) {
            return Err(TemplateError::PluginConfig {
                plugin: p.name.clone(),
                message: format!(
                    "template function {name} already exists; set func_prefix to the {} plugin (e.g. func_prefix: tf_)",
                    p.name
                ),
            });
        }
    }
    Ok(())
}

/// Checks the plugins of a config as ecspresso does when it loads one: two
/// tfstate plugins must not give the same function names.
pub fn check_plugins(plugins: &[Plugin]) -> Result<(), TemplateError> {
    let mut prefixes: Vec<String> = Vec::new();
    for p in plugins
        .iter()
        .filter(|p| p.name.eq_ignore_ascii_case("tfstate"))
    {
        check_prefix_free(&prefixes, p)?;
        prefixes.push(p.func_prefix.clone());
    }
    Ok(())
}

enum LocErr {
    Config(String),
    Remote(String),
}

/// Where a tfstate plugin's state is.
fn state_location(config: &Value, base_dir: &Path) -> Result<StateLocation, LocErr> {
    let get = |key: &str| -> Result<Option<String>, LocErr> {
        match config.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(LocErr::Config(format!(
                "tfstate plugin config {key}: must be a string"
            ))),
        }
    };
    let local = |p: &str| {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base_dir.join(p)
        }
    };
    if let Some(path) = get("path")? {
        return Ok(StateLocation::File(local(&path)));
    }
    let Some(url) = get("url")? else {
        return Err(LocErr::Config(
            "tfstate plugin requires config path: (a state file) or url:".into(),
        ));
    };
    match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("file") => {
            let rest = rest.strip_prefix("localhost").unwrap_or(rest);
            Ok(StateLocation::File(local(&percent_decode(rest))))
        }
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("s3") => match rest.split_once('/') {
            Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok(StateLocation::S3 {
                bucket: bucket.to_string(),
                key: key.to_string(),
            }),
            _ => Err(LocErr::Config(format!(
                "tfstate plugin url {url}: write it as s3://BUCKET/KEY"
            ))),
        },
        Some(_) => Err(LocErr::Remote(url)),
        None => Ok(StateLocation::File(local(&url))),
    }
}

/// `ssm NAME [INDEX]` through `remote`, with ecspresso's rules: an index
/// only for a StringList, and a StringList only with an index.
fn ssm_value(
    remote: Option<&dyn Remote>,
    name: &str,
    index: Option<i64>,
) -> Result<String, String> {
    let remote = remote.ok_or_else(no_remote)?;
    let (kind, value) = remote.ssm_parameter(name)?;
    match (kind.as_str(), index) {
        ("StringList", None) => Err(
            "it is a StringList; give the index of the element too, e.g. {{ ssm `/name` 0 }}"
                .into(),
        ),
        ("StringList", Some(i)) => {
            let items: Vec<&str> = value.split(',').collect();
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i))
                .map(|s| s.to_string())
                .ok_or_else(|| {
                    format!(
                        "index {i} is out of range: the StringList has {} elements",
                        items.len()
                    )
                })
        }
        (_, Some(_)) => Err(format!(
            "it is a {kind}; an index is only for StringList parameters"
        )),
        (_, None) => Ok(value),
    }
}

fn secret_arn(remote: Option<&dyn Remote>, id: &str) -> Result<String, String> {
    remote.ok_or_else(no_remote)?.secret_arn(id)
}

fn no_remote() -> String {
    "AWS lookups are not available here (the config file itself); use them in the task and service definitions".into()
}

impl Natives for Renderer {
    fn specs(&self) -> Vec<NativeSpec> {
        let spec = |name: &str, params: &[&'static str]| NativeSpec {
            name: name.to_string(),
            params: params.to_vec(),
        };
        let mut out = vec![
            spec("env", &["name", "default"]),
            spec("must_env", &["name"]),
            spec("json_escape", &["str"]),
            spec("ssm", &["name"]),
            spec("ssm_list", &["name", "index"]),
            spec("secretsmanager_arn", &["id"]),
            spec("secretsmanager_arnf", &["format", "args"]),
        ];
        let mut names: Vec<(&String, Func)> = self
            .funcs
            .map
            .iter()
            .filter(|(_, f)| matches!(f, Func::Tfstate(_) | Func::Tfstatef(_)))
            .map(|(k, f)| (k, *f))
            .collect();
        names.sort_by(|a, b| a.0.cmp(b.0));
        for (name, f) in names {
            out.push(match f {
                Func::Tfstate(_) => spec(name, &["address"]),
                _ => spec(name, &["format", "args"]),
            });
        }
        out
    }

    fn call(&self, name: &str, args: &[Value]) -> Result<Value, String> {
        let text = |i: usize| args.get(i).map(eval::text).unwrap_or_default();
        let list = |i: usize| match args.get(i) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(v) => vec![v.clone()],
        };
        let remote = self.remote.as_deref();
        match name {
            "env" => Ok(match (self.env)(&text(0)).filter(|v| !v.is_empty()) {
                Some(v) => Value::String(v),
                None => args.get(1).cloned().unwrap_or(Value::Null),
            }),
            "must_env" => {
                let var = text(0);
                (self.env)(&var).map(Value::String).ok_or_else(|| {
                    format!("must_env: environment variable {var} is not set; export {var} or use env with a default")
                })
            }
            "json_escape" => Ok(Value::String(json_escape(&text(0)))),
            "ssm" => ssm_value(remote, &text(0), None)
                .map(Value::String)
                .map_err(|m| format!("ssm {:?}: {m}", text(0))),
            "ssm_list" => {
                let index = args
                    .get(1)
                    .and_then(Value::as_i64)
                    .ok_or_else(|| format!("ssm_list {:?}: the index must be a number", text(0)))?;
                ssm_value(remote, &text(0), Some(index))
                    .map(Value::String)
                    .map_err(|m| format!("ssm_list {:?}: {m}", text(0)))
            }
            "secretsmanager_arn" => secret_arn(remote, &text(0))
                .map(Value::String)
                .map_err(|m| format!("secretsmanager_arn {:?}: {m}", text(0))),
            "secretsmanager_arnf" => {
                let id = eval::go_sprintf(&text(0), &list(1))
                    .map_err(|m| format!("secretsmanager_arnf: {m}"))?;
                secret_arn(remote, &id)
                    .map(Value::String)
                    .map_err(|m| format!("secretsmanager_arnf {id:?}: {m}"))
            }
            _ => {
                let (idx, address) = match self.funcs.get(name) {
                    Some(Func::Tfstate(i)) => (i, text(0)),
                    Some(Func::Tfstatef(i)) => (
                        i,
                        eval::go_sprintf(&text(0), &list(1)).map_err(|m| format!("{name}: {m}"))?,
                    ),
                    _ => return Err(format!("std.native('{name}') is not a function ecsx has")),
                };
                let source = &self.states[idx];
                let state = source
                    .state(remote)
                    .map_err(|m| format!("cannot load terraform state {}: {m}", source.location))?;
                state.lookup(&address).map_err(|e| match e {
                    tfstate::LookupError::NotFound => format!(
                        "{name}: address {address} not found in {}; run terraform state list to see addresses",
                        source.location
                    ),
                    tfstate::LookupError::BadAddress(m) => {
                        format!("{name}: bad tfstate address {address:?}: {m}")
                    }
                })
            }
        }
    }
}

/// Decode `%XX` escapes (file URLs, IAM's URL-encoded policy documents);
/// anything else is kept as is.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            if let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// State of one render, shared with the Tera functions.
pub(crate) struct RenderCtx {
    file: PathBuf,
    env: Arc<EnvLookup>,
    remote: Option<Arc<dyn Remote>>,
    states: Arc<Vec<StateSource>>,
    funcs: Arc<Funcs>,
    exprs: Vec<Pipeline>,
    error: Mutex<Option<TemplateError>>,
}

impl RenderCtx {
    /// Records the first error and gives Tera an error to stop with.
    fn fail(&self, e: TemplateError) -> tera::Error {
        let msg = e.to_string();
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(e);
        }
        tera::Error::msg(msg)
    }

    fn take_error(&self) -> Option<TemplateError> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

type Args = HashMap<String, Value>;

fn register(tera: &mut tera::Tera, ctx: &Arc<RenderCtx>) {
    let c = ctx.clone();
    tera.register_function(GO_FN, move |args: &Args| {
        let p = expr(&c, args)?;
        let v = c.eval_pipeline(p, args).map_err(|e| c.fail(e))?;
        Ok(Value::String(eval::go_print(&v)))
    });
    let c = ctx.clone();
    tera.register_function(COND_FN, move |args: &Args| {
        let p = expr(&c, args)?;
        let v = c.eval_pipeline(p, args).map_err(|e| c.fail(e))?;
        Ok(Value::Bool(eval::truth(&v)))
    });
    let c = ctx.clone();
    tera.register_function(VAL_FN, move |args: &Args| {
        let p = expr(&c, args)?;
        c.eval_pipeline(p, args).map_err(|e| c.fail(e))
    });
    let c = ctx.clone();
    tera.register_function(WITH_FN, move |args: &Args| {
        let p = expr(&c, args)?;
        let v = c.eval_pipeline(p, args).map_err(|e| c.fail(e))?;
        Ok(Value::Array(if eval::truth(&v) {
            vec![v]
        } else {
            Vec::new()
        }))
    });
    let c = ctx.clone();
    tera.register_function(RANGE_FN, move |args: &Args| {
        let p = expr(&c, args)?;
        let v = c.eval_pipeline(p, args).map_err(|e| c.fail(e))?;
        let pairs = args.get("pairs").and_then(Value::as_bool).unwrap_or(false);
        let line = p.line;
        c.range_items(v, pairs, line).map_err(|e| c.fail(e))
    });
    tera.register_filter("json_escape", |v: &Value, _: &Args| {
        Ok(Value::String(json_escape(&eval::text(v))))
    });
    let mut names: Vec<(&String, Func)> = ctx.funcs.map.iter().map(|(k, v)| (k, *v)).collect();
    names.retain(|(n, _)| ctx.funcs.native(n));
    for (name, func) in names {
        let c = ctx.clone();
        let fname = name.clone();
        tera.register_function(name, move |args: &Args| {
            native_call(&c, &fname, func, args).map_err(|e| c.fail(e))
        });
    }
}

fn expr<'a>(ctx: &'a RenderCtx, args: &Args) -> tera::Result<&'a Pipeline> {
    args.get("id")
        .and_then(Value::as_u64)
        .and_then(|i| ctx.exprs.get(i as usize))
        .ok_or_else(|| tera::Error::msg("internal error: bad Go expression id"))
}

/// A call of an ecsx function from Tera code.
fn native_call(
    ctx: &RenderCtx,
    name: &str,
    func: Func,
    args: &Args,
) -> Result<Value, TemplateError> {
    let line = args
        .get(LINE_ARG)
        .and_then(Value::as_u64)
        .map(|l| l as usize)
        .unwrap_or(0);
    let allowed: &[&str] = match func {
        Func::Env => &["name", "default"],
        Func::MustEnv => &["name"],
        Func::Tfstate(_) => &["address"],
        Func::Tfstatef(_) | Func::SecretsManagerArnf => &["format", "args"],
        Func::Ssm => &["name", "index"],
        Func::SecretsManagerArn => &["id"],
        _ => &[],
    };
    if let Func::Unsupported(u) = func {
        return Err(ctx.unsupported_fn(name, u, line));
    }
    let usage = || match func {
        Func::Env => format!("{name}(name=\"VAR\", default=\"value\")"),
        Func::MustEnv => format!("{name}(name=\"VAR\")"),
        Func::Tfstate(_) => format!("{name}(address=\"aws_x.y.attr\")"),
        Func::Ssm => format!("{name}(name=\"/path/to/param\", index=0)"),
        Func::SecretsManagerArn => format!("{name}(id=\"secret-name\")"),
        Func::SecretsManagerArnf => format!("{name}(format=\"app/%s\", args=[\"db\"])"),
        _ => format!("{name}(format=\"aws_x.y['%s'].attr\", args=[\"key\"])"),
    };
    for key in args.keys() {
        if key != LINE_ARG && !allowed.contains(&key.as_str()) {
            return Err(ctx.render_err(
                line,
                format!("{name}: unknown argument `{key}`; call it as {}", usage()),
            ));
        }
    }
    let required = |key: &str| -> Result<&Value, TemplateError> {
        args.get(key).ok_or_else(|| {
            ctx.render_err(
                line,
                format!("{name}: missing argument `{key}`; call it as {}", usage()),
            )
        })
    };
    match func {
        Func::Env => {
            let names: Vec<String> = match required("name")? {
                Value::Array(list) => list.iter().map(eval::text).collect(),
                other => vec![eval::text(other)],
            };
            for n in &names {
                if let Some(v) = (ctx.env)(n).filter(|v| !v.is_empty()) {
                    return Ok(Value::String(v));
                }
            }
            Ok(Value::String(
                args.get("default").map(eval::text).unwrap_or_default(),
            ))
        }
        Func::MustEnv => {
            let n = eval::text(required("name")?);
            ctx.must_env(&n, line).map(Value::String)
        }
        Func::Tfstate(i) => {
            let address = eval::text(required("address")?);
            ctx.tfstate(i, &address, line).map(Value::String)
        }
        Func::Tfstatef(i) => {
            let format = eval::text(required("format")?);
            let list = match args.get("args") {
                None => Vec::new(),
                Some(Value::Array(a)) => a.clone(),
                Some(v) => vec![v.clone()],
            };
            let address = eval::go_sprintf(&format, &list)
                .map_err(|m| ctx.render_err(line, format!("{name}: {m}")))?;
            ctx.tfstate(i, &address, line).map(Value::String)
        }
        Func::Ssm => {
            let param = eval::text(required("name")?);
            ctx.ssm(name, &param, args.get("index"), line)
                .map(Value::String)
        }
        Func::SecretsManagerArn => {
            let id = eval::text(required("id")?);
            ctx.secret_arn(name, &id, line).map(Value::String)
        }
        Func::SecretsManagerArnf => {
            let format = eval::text(required("format")?);
            let list = match args.get("args") {
                None => Vec::new(),
                Some(Value::Array(a)) => a.clone(),
                Some(v) => vec![v.clone()],
            };
            let id = eval::go_sprintf(&format, &list)
                .map_err(|m| ctx.render_err(line, format!("{name}: {m}")))?;
            ctx.secret_arn(name, &id, line).map(Value::String)
        }
        _ => Err(ctx.render_err(line, format!("{name} cannot be called this way"))),
    }
}

/// Maps a Tera parse error: line and column from the parser's ` --> L:C`.
fn parse_error(e: &tera::Error, file: &Path, source: &str, translated: &str) -> TemplateError {
    let mut texts = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        texts.push(err.to_string());
        cur = err.source();
    }
    let detail = texts
        .iter()
        .find(|t| t.contains("-->"))
        .cloned()
        .unwrap_or_else(|| texts.last().cloned().unwrap_or_default());
    let mut line = None;
    let mut column = None;
    if let Some(pos) = detail.split("-->").nth(1) {
        let pos = pos.split_whitespace().next().unwrap_or("");
        let mut parts = pos.split(':');
        line = parts.next().and_then(|l| l.parse::<usize>().ok());
        column = parts.next().and_then(|c| c.parse::<usize>().ok());
    }
    let expected = detail
        .lines()
        .find_map(|l| l.trim().strip_prefix("= "))
        .map(str::to_string)
        .unwrap_or_else(|| {
            detail
                .lines()
                .next()
                .unwrap_or("invalid template")
                .to_string()
        });
    if let (Some(l), Some(c)) = (line, column) {
        column = source_column(
            source.lines().nth(l - 1).unwrap_or(""),
            translated.lines().nth(l - 1).unwrap_or(""),
            c,
        );
    }
    TemplateError::Syntax {
        file: file.to_path_buf(),
        line: line.unwrap_or(1),
        column,
        message: format!("{expected}; check the {{{{ }}}} / {{% %}} expression"),
    }
}

/// Maps a column of a translated line back to the source line. Only `__line=N`
/// insertions are undone; on a line with translated Go actions: `None`.
fn source_column(source: &str, translated: &str, column: usize) -> Option<usize> {
    if source == translated {
        return Some(column);
    }
    let chars: Vec<char> = translated.chars().collect();
    let marker: Vec<char> = format!("{LINE_ARG}=").chars().collect();
    let mut out = String::new();
    let mut removed_before = 0;
    let mut i = 0;
    while i < chars.len() {
        if chars[i..].starts_with(&marker) {
            let mut j = i + marker.len();
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            if chars[j..].starts_with(&[',', ' ']) {
                j += 2;
            }
            if i < column - 1 {
                removed_before += j - i;
            }
            i = j;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    (out == source).then(|| column.saturating_sub(removed_before).max(1))
}

/// The first line with `word` as a whole word (followed by `(` if `call`)
/// inside a tag.
fn find_line(source: &str, word: &str, call: bool) -> Option<usize> {
    let idx = LineIndex::new(source);
    let is_ident = |c: char| c == '_' || c.is_alphanumeric();
    let mut from = 0;
    while let Some(off) = source[from..].find(word) {
        let pos = from + off;
        let end = pos + word.len();
        let before_ok = !source[..pos].chars().next_back().is_some_and(is_ident);
        let after = &source[end..];
        let after_ok = !after.chars().next().is_some_and(is_ident)
            && (!call || after.trim_start().starts_with('('));
        if before_ok && after_ok {
            return Some(idx.line(pos));
        }
        from = end;
    }
    None
}

/// JSON string escaping without the surrounding quotes, as Go's
/// encoding/json writes it (`<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX`).
pub(crate) fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    json_escape_into(s, &mut out);
    out
}

pub(crate) fn json_escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests;

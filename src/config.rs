//! The ecspresso config file (`ecspresso.yml`): finding it, rendering it as a
//! template, reading its keys, and loading the definitions it points at.
//!
//! Definitions are loaded lazily: `tasks` for a service never needs the task
//! definition, and a template error in a file a command does not need must not
//! stop that command.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::definition;
use crate::error::{Error, Result};
use crate::template::{ExtVars, Plugin, Renderer};

/// Names tried, in order, when no `--config` is given.
pub const DEFAULT_NAMES: [&str; 4] = [
    "ecspresso.yml",
    "ecspresso.yaml",
    "ecspresso.json",
    "ecspresso.jsonnet",
];

/// Keys ecsx reads.
const KNOWN_KEYS: [&str; 9] = [
    "region",
    "cluster",
    "service",
    "service_definition",
    "task_definition",
    "timeout",
    "plugins",
    "required_version",
    "filter_command",
];

/// Keys only ecspresso's deploy side uses: ecsx notes them and goes on.
const DEPLOY_KEYS: [&str; 5] = [
    "appspec",
    "codedeploy",
    "ignore",
    "force_new_deployment",
    "wait_until",
];

/// A loaded ecspresso config.
pub struct Config {
    /// The config file.
    pub path: PathBuf,
    /// Its folder: relative paths start here.
    pub dir: PathBuf,
    pub region: Option<String>,
    pub cluster: String,
    pub service: Option<String>,
    pub service_definition: Option<PathBuf>,
    pub task_definition: Option<PathBuf>,
    /// `None`: no timeout (`timeout: 0`).
    pub timeout: Option<Duration>,
    pub plugins: Vec<Plugin>,
    pub required_version: Option<String>,
    /// ecspresso's `filter_command:` (deprecated there in favour of
    /// ECSPRESSO_FILTER_COMMAND, which wins): picks tasks (`picker`).
    pub filter_command: Option<String>,
    /// Notices for the user (unknown keys, deploy-only keys...).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("path", &self.path)
            .field("cluster", &self.cluster)
            .field("service", &self.service)
            .field(
                "plugins",
                &self.plugins.iter().map(|p| &p.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The default timeout, as ecspresso's.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Find the config file: the flag (or ECSPRESSO_CONFIG), else a default name.
pub fn locate(flag: Option<&Path>, cwd: &Path) -> Result<PathBuf> {
    if let Some(path) = flag {
        return Ok(path.to_path_buf());
    }
    for name in DEFAULT_NAMES {
        let candidate = cwd.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(Error::ConfigNotFound {
        tried: DEFAULT_NAMES.join(", "),
        dir: cwd.display().to_string(),
    })
}

/// Parse a duration as ecspresso does: `5m`, `300s`, `10m0s`, `1h30m`; `0`
/// means none. A bare number is seconds.
pub fn parse_timeout(text: &str) -> std::result::Result<Option<Duration>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = text.parse::<f64>() {
        if !(secs.is_finite() && secs >= 0.0) {
            return Err(format!("invalid duration {text:?}"));
        }
        return Ok((secs > 0.0).then(|| Duration::from_secs_f64(secs)));
    }
    // Go writes `10m0s`, `1h0m0s`: humantime wants units apart or joined,
    // both of which it accepts, so only Go's `ms`/`us`/`µs` need no help.
    let parsed =
        humantime::parse_duration(text).map_err(|e| format!("invalid duration {text:?}: {e}"))?;
    Ok((!parsed.is_zero()).then_some(parsed))
}

impl Config {
    /// Load and render the config file.
    pub fn load(path: &Path) -> Result<Config> {
        Self::load_with(path, &ExtVars::default())
    }

    /// Load and render the config file; a `.json` or `.jsonnet` config is
    /// evaluated as Jsonnet first (with `ext`), as ecspresso does.
    pub fn load_with(path: &Path, ext: &ExtVars) -> Result<Config> {
        Self::load_from(path, ext, 0)
    }

    fn load_from(path: &Path, ext: &ExtVars, hops: usize) -> Result<Config> {
        let source =
            std::fs::read_to_string(path).map_err(|e| Error::read_file(path, "config file", &e))?;
        if let Some(target) = symlink_stand_in(path, &source).filter(|_| hops < 4) {
            crate::debug!(
                "{} holds only the name of {}: a symbolic link checked out as text; reading that",
                path.display(),
                target.display()
            );
            return Self::load_from(&target, ext, hops + 1);
        }
        let rendered = Renderer::basic()
            .with_ext_vars(ext.clone())
            .render_file(path, &source, true)?;
        let doc: serde_yaml::Value =
            serde_yaml::from_str(&rendered).map_err(|e| yaml_error(path, &e))?;
        let dir = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let map =
            match doc {
                serde_yaml::Value::Mapping(map) => map,
                serde_yaml::Value::Null => serde_yaml::Mapping::new(),
                _ => return Err(Error::Config {
                    path: path.to_path_buf(),
                    message:
                        "the config must be a mapping of keys (region:, cluster:, service:, ...)"
                            .into(),
                }),
            };
        let mut config = Config {
            path: path.to_path_buf(),
            dir,
            region: None,
            cluster: "default".into(),
            service: None,
            service_definition: None,
            task_definition: None,
            timeout: Some(DEFAULT_TIMEOUT),
            plugins: Vec::new(),
            required_version: None,
            filter_command: None,
            warnings: Vec::new(),
        };
        for (key, value) in map {
            let Some(key) = key.as_str().map(str::to_owned) else {
                config
                    .warnings
                    .push(format!("{}: ignoring a non-string key", path.display()));
                continue;
            };
            config.set(&key, value)?;
        }
        // As ecspresso: two tfstate plugins without func_prefix fail here.
        crate::template::check_plugins(&config.plugins).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(config)
    }

    fn set(&mut self, key: &str, value: serde_yaml::Value) -> Result<()> {
        let path = self.path.clone();
        let bad = |message: String| Error::Config {
            path: path.clone(),
            message,
        };
        let string = |value: &serde_yaml::Value| -> Result<Option<String>> {
            match value {
                serde_yaml::Value::Null => Ok(None),
                serde_yaml::Value::String(s) if s.is_empty() => Ok(None),
                serde_yaml::Value::String(s) => Ok(Some(s.clone())),
                serde_yaml::Value::Number(n) => Ok(Some(n.to_string())),
                serde_yaml::Value::Bool(b) => Ok(Some(b.to_string())),
                _ => Err(bad(format!("`{key}:` must be a string"))),
            }
        };
        match key {
            "region" => self.region = string(&value)?,
            "cluster" => {
                if let Some(cluster) = string(&value)? {
                    self.cluster = cluster;
                }
            }
            "service" => self.service = string(&value)?,
            "service_definition" => {
                self.service_definition = string(&value)?.map(|p| self.dir.join(p))
            }
            "task_definition" => self.task_definition = string(&value)?.map(|p| self.dir.join(p)),
            "timeout" => {
                self.timeout = match &value {
                    serde_yaml::Value::Null => Some(DEFAULT_TIMEOUT),
                    serde_yaml::Value::Number(n) => parse_timeout(&n.to_string()).map_err(|e| {
                        bad(format!("`timeout:` {e}; write it like 5m, 300s or 10m0s"))
                    })?,
                    serde_yaml::Value::String(s) => parse_timeout(s).map_err(|e| {
                        bad(format!("`timeout:` {e}; write it like 5m, 300s or 10m0s"))
                    })?,
                    _ => {
                        return Err(bad(
                            "`timeout:` must be a duration like 5m, 300s or 10m0s".into()
                        ))
                    }
                }
            }
            "required_version" => {
                self.required_version = string(&value)?;
            }
            "filter_command" => self.filter_command = string(&value)?,
            "plugins" => self.plugins = parse_plugins(&value).map_err(bad)?,
            _ if DEPLOY_KEYS.contains(&key) => {
                self.warnings.push(format!(
                    "{}: `{key}:` is used only by ecspresso's deploy commands; ecsx ignores it",
                    self.path.display()
                ));
            }
            _ => {
                debug_assert!(!KNOWN_KEYS.contains(&key));
                self.warnings.push(format!(
                    "{}: unknown key `{key}:` ignored (ecsx reads {})",
                    self.path.display(),
                    KNOWN_KEYS.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// A template renderer with this config's plugins.
    pub fn renderer(&self) -> Result<Renderer> {
        Ok(Renderer::with_plugins(&self.plugins, &self.dir)?)
    }

    /// Load and render the task definition.
    pub fn task_definition(&self, renderer: &Renderer) -> Result<Value> {
        let path = self.task_definition.as_ref().ok_or_else(|| Error::Config {
            path: self.path.clone(),
            message: "no `task_definition:` set; add the path of your task definition file".into(),
        })?;
        let value = load_definition(path, renderer, "task definition")?;
        let value = definition::normalize_task_definition(value);
        definition::check_task_definition(path, &value)?;
        Ok(value)
    }

    /// Load and render the service definition, if the config names one.
    /// As ecspresso, `serviceName` is the config's `service:` when it has one.
    pub fn service_definition(&self, renderer: &Renderer) -> Result<Option<Value>> {
        let Some(path) = &self.service_definition else {
            return Ok(None);
        };
        let value = load_definition(path, renderer, "service definition")?;
        let mut value = definition::normalize_service_definition(value);
        if let (Some(service), Value::Object(map)) = (&self.service, &mut value) {
            map.shift_insert(0, "serviceName".into(), Value::String(service.clone()));
        }
        Ok(Some(value))
    }

    /// The service name: `service:` of the config, else `serviceName` of the
    /// service definition (rendered only when needed).
    pub fn service_name(&self) -> Option<&str> {
        self.service.as_deref()
    }
}

/// A symbolic link that git checked out as a text file (core.symlinks =
/// false, as on Windows or in copies that drop links) holds only the path of
/// its target. When a config holds nothing but the name of another config
/// file beside it, that file is the config, as the link meant.
fn symlink_stand_in(path: &Path, source: &str) -> Option<PathBuf> {
    let name = source.trim_end_matches(['\n', '\r']);
    if name.is_empty() || name.contains(['\n', ':', '{', '[', ' ']) {
        return None;
    }
    let is_config = [".yml", ".yaml", ".json", ".jsonnet"]
        .iter()
        .any(|ext| name.ends_with(ext));
    let target = path.parent().unwrap_or(Path::new(".")).join(name);
    (is_config && target != path && target.is_file()).then_some(target)
}

fn parse_plugins(value: &serde_yaml::Value) -> std::result::Result<Vec<Plugin>, String> {
    let serde_yaml::Value::Sequence(items) = value else {
        if value.is_null() {
            return Ok(Vec::new());
        }
        return Err("`plugins:` must be a list of {name, config, func_prefix}".into());
    };
    let mut plugins = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let name = item
            .get("name")
            .and_then(|v| v.as_str())
            .ok_or_else(|| format!("plugins[{i}] has no `name:`"))?;
        let config = match item.get("config") {
            Some(c) => serde_json::to_value(c).map_err(|e| format!("plugins[{i}].config: {e}"))?,
            None => Value::Object(Default::default()),
        };
        let func_prefix = item
            .get("func_prefix")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        plugins.push(Plugin {
            name: name.to_string(),
            config,
            func_prefix,
        });
    }
    Ok(plugins)
}

/// Read, render and parse one definition file (JSON, or Jsonnet evaluated
/// before the template step).
fn load_definition(path: &Path, renderer: &Renderer, what: &'static str) -> Result<Value> {
    let source = std::fs::read_to_string(path).map_err(|e| Error::read_file(path, what, &e))?;
    let rendered = renderer.render_file(path, &source, false)?;
    serde_json::from_str(&rendered).map_err(|e| Error::Syntax {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        what: "JSON",
        message: format!("{e}")
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_string(),
    })
}

/// A YAML error as one line with its position.
pub fn yaml_error(path: &Path, err: &serde_yaml::Error) -> Error {
    let (line, column) = err
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let message = err.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    Error::Syntax {
        path: path.to_path_buf(),
        line,
        column,
        what: "YAML",
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_as_ecspresso_writes_them() {
        assert_eq!(parse_timeout("5m").unwrap(), Some(Duration::from_secs(300)));
        assert_eq!(
            parse_timeout("300s").unwrap(),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            parse_timeout("10m0s").unwrap(),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            parse_timeout("1h30m").unwrap(),
            Some(Duration::from_secs(5400))
        );
        assert_eq!(parse_timeout("0").unwrap(), None);
        assert_eq!(parse_timeout("0s").unwrap(), None);
        assert_eq!(parse_timeout("90").unwrap(), Some(Duration::from_secs(90)));
        assert!(parse_timeout("five minutes").is_err());
        assert!(parse_timeout("-1").is_err());
        assert!(parse_timeout("").is_err());
    }

    #[test]
    fn locate_prefers_the_flag_then_default_names_in_order() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            locate(None, dir.path()),
            Err(Error::ConfigNotFound { .. })
        ));
        std::fs::write(dir.path().join("ecspresso.json"), "{}").unwrap();
        assert_eq!(
            locate(None, dir.path()).unwrap(),
            dir.path().join("ecspresso.json")
        );
        std::fs::write(dir.path().join("ecspresso.yaml"), "").unwrap();
        assert_eq!(
            locate(None, dir.path()).unwrap(),
            dir.path().join("ecspresso.yaml")
        );
        let flag = Path::new("x.yml");
        assert_eq!(locate(Some(flag), dir.path()).unwrap(), flag);
    }

    #[test]
    fn keys_are_read_and_unknown_ones_warned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ecspresso.yml");
        std::fs::write(
            &path,
            "region: ap-northeast-1\ncluster: prod\nservice: web\ntask_definition: td.json\ntimeout: 5m\nappspec: {}\nbogus: 1\nrequired_version: \">= 2.0\"\n",
        )
        .unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.region.as_deref(), Some("ap-northeast-1"));
        assert_eq!(c.cluster, "prod");
        assert_eq!(c.service.as_deref(), Some("web"));
        assert_eq!(c.task_definition, Some(dir.path().join("td.json")));
        assert_eq!(c.timeout, Some(Duration::from_secs(300)));
        assert_eq!(c.required_version.as_deref(), Some(">= 2.0"));
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("appspec"));
        assert!(c.warnings[1].contains("bogus"));
    }

    #[test]
    fn defaults_apply_to_an_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ecspresso.yml");
        std::fs::write(&path, "").unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.cluster, "default");
        assert_eq!(c.timeout, Some(DEFAULT_TIMEOUT));
        assert!(c.service.is_none());
    }

    #[test]
    fn yaml_errors_carry_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ecspresso.yml");
        std::fs::write(&path, "region: x\ncluster: [a\n").unwrap();
        match Config::load(&path) {
            Err(Error::Syntax { line, what, .. }) => {
                assert_eq!(what, "YAML");
                assert!(line >= 2, "line {line}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_symlink_checked_out_as_text_reads_its_target() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ecspresso.yml"), "cluster: real\n").unwrap();
        std::fs::write(dir.path().join("ecspresso.yaml"), "ecspresso.yml").unwrap();
        let c = Config::load(&dir.path().join("ecspresso.yaml")).unwrap();
        assert_eq!(c.cluster, "real");
        // A one-word YAML value that names no file stays a (bad) config.
        std::fs::write(dir.path().join("other.yml"), "missing.yml").unwrap();
        assert!(Config::load(&dir.path().join("other.yml")).is_err());
        // Links to each other do not loop.
        std::fs::write(dir.path().join("a.yml"), "b.yml").unwrap();
        std::fs::write(dir.path().join("b.yml"), "a.yml").unwrap();
        assert!(Config::load(&dir.path().join("a.yml")).is_err());
    }

    #[test]
    fn jsonnet_configs_are_found_and_evaluated() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ecspresso.jsonnet"),
            "local c = 'j'; { cluster: c + std.extVar('X'), timeout: '1m' }",
        )
        .unwrap();
        let path = locate(None, dir.path()).unwrap();
        assert_eq!(path, dir.path().join("ecspresso.jsonnet"));
        let ext = ExtVars::parse(&["X=2".into()], &[]).unwrap();
        let c = Config::load_with(&path, &ext).unwrap();
        assert_eq!(c.cluster, "j2");
        assert_eq!(c.timeout, Some(Duration::from_secs(60)));
    }

    #[test]
    fn an_invalid_timeout_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ecspresso.yml");
        std::fs::write(&path, "timeout: soon\n").unwrap();
        let err = Config::load(&path).unwrap_err();
        assert!(err.to_string().contains("timeout"), "{err}");
        assert_eq!(err.exit_code(), 3);
    }
}

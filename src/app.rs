//! The application context: turns global flags into a loaded config, an AWS
//! configuration and, with `--sandbox`, an in-process sandbox, each only when
//! a command first needs it.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::aws::{Aws, AwsSettings};
use crate::cli::{Cli, Command, GlobalArgs, SandboxCommand};
use crate::commands;
use crate::config::{self, Config};
use crate::ecs::{Scope, Target};
use crate::error::{Error, Result};
use crate::remote::AwsRemote;
use crate::sandbox::{self, world::DeriveInput, World};
use crate::template::{ExtVars, Renderer};

/// A running in-process sandbox; stops when dropped.
pub struct SandboxHandle {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
    sandbox: std::sync::Arc<sandbox::Sandbox>,
}

impl SandboxHandle {
    /// Stops the sandbox: lets the server finish for a moment, then ends
    /// every session's processes and removes the task folders whatever is
    /// still running.
    pub async fn stop(mut self) {
        self.signal_shutdown();
        if let Some(served) = self.served.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), served).await;
        }
        self.sandbox.clean_up();
    }

    /// Tells the server to finish (once).
    fn signal_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        self.signal_shutdown();
    }
}

/// Bind a loopback listener and serve `world` on it in the background.
pub async fn start_sandbox(world: World, addr: &str) -> Result<SandboxHandle> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        Error::Sandbox(format!("cannot listen on {addr}: {e}; pick another --addr"))
    })?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let sandbox = sandbox::Sandbox::new(world);
    let kept = std::sync::Arc::clone(&sandbox);
    let served = tokio::spawn(async move {
        let shutdown = async move {
            let _ = rx.await;
        };
        if let Err(e) = sandbox::serve(listener, sandbox, shutdown).await {
            eprintln!("ecsx: sandbox stopped: {e}");
        }
    });
    Ok(SandboxHandle {
        addr,
        shutdown: Some(tx),
        served: Some(served),
        sandbox: kept,
    })
}

/// Lazily loaded state shared by commands.
pub struct App {
    pub global: GlobalArgs,
    cwd: PathBuf,
    config: Option<Config>,
    renderer: Option<Renderer>,
    remote: Option<std::sync::Arc<AwsRemote>>,
    /// Templates may not call AWS (`sandbox serve`: its world comes from
    /// the rendered definitions and must not hold real secrets).
    pub no_aws_lookups: bool,
    aws: Option<Aws>,
    sandbox: Option<SandboxHandle>,
}

impl App {
    pub fn new(global: GlobalArgs) -> App {
        App {
            global,
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            config: None,
            renderer: None,
            remote: None,
            no_aws_lookups: false,
            aws: None,
            sandbox: None,
        }
    }

    /// The config file, loaded once; its warnings are printed once.
    pub fn config(&mut self) -> Result<&Config> {
        if self.config.is_none() {
            let path = config::locate(self.global.config.as_deref(), &self.cwd)?;
            let config = Config::load_with(&path, &self.ext_vars()?)?;
            crate::picker::set_filter_command(crate::picker::filter_command(
                self.global.filter_command.as_deref(),
                config.filter_command.as_deref(),
            ));
            for warning in &config.warnings {
                eprintln!("ecsx: warning: {warning}");
            }
            if let Some(v) = &config.required_version {
                crate::debug!(
                    "required_version {v:?} constrains ecspresso; ecsx notes it and goes on"
                );
            }
            self.config = Some(config);
        }
        Ok(self.config.as_ref().expect("loaded above"))
    }

    /// The config's label for messages.
    pub fn config_label(&self) -> String {
        self.config
            .as_ref()
            .map(|c| c.path.display().to_string())
            .unwrap_or_else(|| "the config".into())
    }

    /// `--ext-str` and `--ext-code` (or their environment variables).
    pub fn ext_vars(&self) -> Result<ExtVars> {
        ExtVars::parse(&self.global.ext_str, &self.global.ext_code).map_err(Error::Usage)
    }

    fn renderer(&mut self) -> Result<&Renderer> {
        if self.renderer.is_none() {
            let ext = self.ext_vars()?;
            let remote = std::sync::Arc::new(if self.global.sandbox || self.no_aws_lookups {
                AwsRemote::refusing(
                    "AWS lookups at render time are off for the sandbox (its world is built from the rendered definitions and never from real AWS); serve a complete world file with `ecsx sandbox serve --world FILE` from a folder without this config, and render with --endpoint-url",
                )
            } else {
                let global = self.global.clone();
                let config = self.config()?;
                AwsRemote::new(AwsSettings {
                    region: global.region.or_else(|| config.region.clone()),
                    profile: global.profile,
                    endpoint_url: global.endpoint_url,
                    sandbox: false,
                    config_label: config.path.display().to_string(),
                })
            });
            let renderer = self
                .config()?
                .renderer()?
                .with_ext_vars(ext)
                .with_remote(remote.clone());
            for warning in renderer.warnings() {
                eprintln!("ecsx: warning: {warning}");
            }
            self.remote = Some(remote);
            self.renderer = Some(renderer);
        }
        Ok(self.renderer.as_ref().expect("built above"))
    }

    /// AWS calls made by templates so far, per `service:Operation`.
    pub fn render_calls(&self) -> std::collections::BTreeMap<&'static str, u64> {
        self.remote.as_ref().map(|r| r.calls()).unwrap_or_default()
    }

    /// The rendered task definition.
    pub fn task_definition(&mut self) -> Result<serde_json::Value> {
        self.renderer()?;
        let config = self.config.as_ref().expect("loaded by renderer()");
        config.task_definition(self.renderer.as_ref().expect("built above"))
    }

    /// The rendered service definition, if any.
    pub fn service_definition(&mut self) -> Result<Option<serde_json::Value>> {
        self.renderer()?;
        let config = self.config.as_ref().expect("loaded by renderer()");
        config.service_definition(self.renderer.as_ref().expect("built above"))
    }

    /// The service name, if the config has one.
    pub fn service(&mut self) -> Result<Option<String>> {
        Ok(self.config()?.service_name().map(str::to_owned))
    }

    /// Cluster and scope of the tasks commands look at: the service, or
    /// without one, the task definition's family.
    pub fn target(&mut self) -> Result<Target> {
        let cluster = self.config()?.cluster.clone();
        let scope = match self.service()? {
            Some(service) => Scope::Service(service),
            None => {
                let td = self.task_definition()?;
                Scope::Family(
                    crate::definition::family(&td)
                        .unwrap_or_default()
                        .to_string(),
                )
            }
        };
        Ok(Target {
            cluster,
            scope,
            config_label: self.config_label(),
        })
    }

    /// The world an in-process or served sandbox starts from.
    pub fn sandbox_world(&mut self, world_file: Option<&std::path::Path>) -> Result<World> {
        let base = match self.config() {
            Ok(_) => Some(self.derived_world()?),
            // A complete world file needs no config.
            Err(Error::ConfigNotFound { .. }) if world_file.is_some() => None,
            Err(e) => return Err(e),
        };
        match world_file {
            Some(path) => World::from_yaml_file(path, base).map_err(|e| Error::Config {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
            None => Ok(base.expect("config loaded")),
        }
    }

    fn derived_world(&mut self) -> Result<World> {
        let task_definition = self.task_definition()?;
        let service_definition = self.service_definition().unwrap_or(None);
        let flag_region = self.global.region.clone();
        let config = self.config()?;
        let region = flag_region
            .or_else(|| config.region.clone())
            .or_else(|| std::env::var("AWS_REGION").ok())
            .unwrap_or_else(|| "us-east-1".into());
        let service = config.service.clone().or_else(|| {
            service_definition
                .as_ref()
                .and_then(|s| s.get("serviceName"))
                .and_then(|s| s.as_str())
                .map(str::to_owned)
        });
        Ok(World::derive(&DeriveInput {
            region,
            cluster: config.cluster.clone(),
            service,
            task_definition,
            service_definition,
        }))
    }

    /// The AWS configuration; with `--sandbox`, starts the sandbox first.
    pub async fn aws(&mut self) -> Result<&Aws> {
        if self.aws.is_none() {
            let mut endpoint_url = self.global.endpoint_url.clone();
            if self.global.sandbox {
                let world = self.sandbox_world(self.global.sandbox_world.clone().as_deref())?;
                let handle = start_sandbox(world, "127.0.0.1:0").await?;
                endpoint_url = Some(format!("http://{}", handle.addr));
                crate::debug!("in-process sandbox on {}", handle.addr);
                self.sandbox = Some(handle);
            }
            let region = match self.global.region.clone() {
                Some(r) => Some(r),
                None => self.config().ok().and_then(|c| c.region.clone()),
            };
            let settings = AwsSettings {
                region,
                profile: self.global.profile.clone(),
                endpoint_url,
                sandbox: self.global.sandbox,
                config_label: self.config_label(),
            };
            self.aws = Some(Aws::load(&settings).await?);
        }
        Ok(self.aws.as_ref().expect("loaded above"))
    }
}

/// Run a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> Result<i32> {
    crate::aws::set_debug(cli.global.debug);
    crate::progress::set_quiet(cli.global.quiet);
    crate::picker::set_filter_command(crate::picker::filter_command(
        cli.global.filter_command.as_deref(),
        None,
    ));
    let mut app = App::new(cli.global);
    app.no_aws_lookups = matches!(cli.command, Command::Sandbox(_));
    match cli.command {
        Command::Exec(args) => commands::exec::run(&mut app, &args)
            .await
            .map_err(|e| match e {
                Error::Exec(_) | Error::Timeout(_) | Error::Interrupted | Error::InExec(_) => e,
                other => Error::InExec(Box::new(other)),
            }),
        Command::Cp(args) => commands::cp::run(&mut app, &args)
            .await
            .map_err(|e| match e {
                Error::Exec(_)
                | Error::Copy(_)
                | Error::Usage(_)
                | Error::Timeout(_)
                | Error::Interrupted
                | Error::InExec(_) => e,
                other => Error::InExec(Box::new(other)),
            }),
        Command::PortForward(args) => commands::port_forward::run(&mut app, &args).await,
        Command::Tasks(args) => commands::tasks::run(&mut app, &args).await,
        Command::Status(args) => commands::status::run(&mut app, &args).await,
        Command::Render(args) => commands::render::run(&mut app, &args),
        Command::Verify(args) => commands::verify::run(&mut app, &args).await,
        Command::Sandbox(SandboxCommand::Serve(args)) => {
            commands::sandbox::serve(&mut app, &args).await
        }
        Command::Completion(args) => commands::completion::run(&args),
        Command::Man(args) => commands::man::run(&args),
    }
}

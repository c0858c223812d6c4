//! The command line, as clap derive types. Turning these into a validated
//! configuration happens in `app.rs`; this file only describes flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A fast companion for AWS ECS: exec, tasks, status, with a built-in sandbox.
#[derive(Debug, Parser)]
#[command(name = "ecsx", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// The ecspresso config file
    ///
    /// Default: the first of ecspresso.yml, ecspresso.yaml, ecspresso.json
    /// that exists in the current folder.
    #[arg(long, global = true, env = "ECSPRESSO_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// AWS region (overrides the config's `region:` and AWS_REGION)
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,

    /// AWS profile from ~/.aws/config
    #[arg(long, global = true, env = "AWS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// Send every AWS call to this endpoint (also AWS_ENDPOINT_URL)
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Run this one command against an in-process sandbox built from the config
    #[arg(long, global = true)]
    pub sandbox: bool,

    /// World file for --sandbox (see docs/sandbox.md)
    #[arg(long, global = true, value_name = "FILE", requires = "sandbox")]
    pub sandbox_world: Option<PathBuf>,

    /// Print what ecsx does (never credentials) on stderr
    #[arg(long, global = true)]
    pub debug: bool,

    /// Never colour the output (also NO_COLOR)
    #[arg(long, global = true)]
    pub no_color: bool,

    /// Load environment variables from FILE before any template is rendered
    /// (repeatable; later files win; also ECSPRESSO_ENVFILE, comma-separated)
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "ECSPRESSO_ENVFILE",
        value_delimiter = ','
    )]
    pub envfile: Vec<PathBuf>,

    /// A Jsonnet external string variable for std.extVar (repeatable; also
    /// ECSPRESSO_EXT_STR="KEY=VALUE;KEY2=VALUE2")
    #[arg(
        long,
        global = true,
        value_name = "KEY=VALUE",
        env = "ECSPRESSO_EXT_STR",
        value_delimiter = ';'
    )]
    pub ext_str: Vec<String>,

    /// A Jsonnet external code variable for std.extVar, a Jsonnet expression
    /// (repeatable; also ECSPRESSO_EXT_CODE="KEY=EXPR;KEY2=EXPR2")
    #[arg(
        long,
        global = true,
        value_name = "KEY=EXPR",
        env = "ECSPRESSO_EXT_CODE",
        value_delimiter = ';'
    )]
    pub ext_code: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command in a running task's container through ECS Exec
    Exec(ExecArgs),
    /// Copy files and folders into or out of a running task's container
    Cp(CpArgs),
    /// Forward local ports to a port on a task, or to a host the task can reach
    #[command(name = "port-forward")]
    PortForward(PortForwardArgs),
    /// List the service's tasks
    Tasks(TasksArgs),
    /// Show the service's state, deployments and events
    Status(StatusArgs),
    /// Print the rendered config or definitions as JSON
    Render(RenderArgs),
    /// Check every ECS Exec prerequisite and every resource the definitions name
    Verify(VerifyArgs),
    /// The local emulator of the AWS APIs ecsx uses
    #[command(subcommand)]
    Sandbox(SandboxCommand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    Table,
    Json,
    Tsv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TextFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct TasksArgs {
    /// Show only this task (an id, an ARN, or a unique id prefix)
    #[arg(long, visible_alias = "id", value_name = "ID")]
    pub task_id: Option<String>,

    /// Include stopped tasks
    #[arg(long)]
    pub all: bool,

    /// Output format
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    pub output: TableFormat,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The task: an id, an ARN or a unique id prefix (default: pick among the
    /// service's running tasks)
    #[arg(long, visible_alias = "id", value_name = "ID")]
    pub task_id: Option<String>,

    /// The container (default: the first one in the task's definition)
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,

    /// The command as one shell string (instead of `-- CMD ARGS...`)
    #[arg(long, value_name = "CMD", conflicts_with = "args")]
    pub command: Option<String>,

    /// A terminal session: raw keys, window size, Ctrl-C passed through
    #[arg(long)]
    pub interactive: bool,

    /// Feed ecsx's stdin (or --input) to CMD in the container, e.g. `rails runner -`
    #[arg(long, value_name = "CMD")]
    pub pipe: Option<String>,

    /// Text to feed to the --pipe command (default command: sh)
    #[arg(long, short = 'i', value_name = "TEXT")]
    pub input: Option<String>,

    /// Bound the whole session (default: the config's timeout, 10m; 0 for none)
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Skip the pre-flight checks (IAM, KMS, task definition) before ExecuteCommand
    #[arg(long)]
    pub skip_verify: bool,

    /// Run the one-off command in every running task of the service (with
    /// --task-id A,B,C: in those)
    #[arg(long)]
    pub all_tasks: bool,

    /// With --all-tasks: at most N sessions open at once (AWS throttles
    /// ExecuteCommand; throttled calls are retried)
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub parallel: usize,

    /// With --all-tasks: `text` (prefixed lines, then a summary on stderr) or
    /// `json` (one object per task at the end)
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: TextFormat,
    /// Forward a port instead of running a command (ecspresso v2's spelling
    /// of `ecsx port-forward`; takes --local-port, --port, --host, -L)
    #[arg(long)]
    pub port_forward: bool,

    #[command(flatten)]
    pub forward: ForwardFlags,

    /// The command and its arguments, each kept exactly
    #[arg(last = true, value_name = "CMD")]
    pub args: Vec<String>,
}

/// Where forwards go (`port-forward`, and `exec --port-forward`).
#[derive(Debug, Args, Clone, Default)]
pub struct ForwardFlags {
    /// Local port to listen on (0 or absent: a free one, printed on stdout)
    #[arg(long, value_name = "PORT")]
    pub local_port: Option<u16>,

    /// The port to reach, on the task (or on --host)
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// A host the task can reach (default: the task itself)
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    /// A forward as ssh writes it, repeatable: each is its own session
    ///
    /// `[BIND:]LOCAL:HOST:REMOTE`, e.g. `-L 15432:db.internal:5432`, or
    /// `-L 8080:localhost:80` for port 80 of the task itself. BIND defaults
    /// to 127.0.0.1 and ::1; another address listens beyond this machine.
    #[arg(short = 'L', value_name = "[BIND:]LOCAL:HOST:REMOTE")]
    pub forwards: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PortForwardArgs {
    /// The task: an id, an ARN or a unique id prefix (default: pick among the
    /// service's running tasks)
    #[arg(long, visible_alias = "id", value_name = "ID")]
    pub task_id: Option<String>,

    /// The container whose agent forwards (default: the first one in the task's definition)
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,

    #[command(flatten)]
    pub forward: ForwardFlags,

    /// Stop after this long (default: run until Ctrl-C)
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Skip the pre-flight checks (IAM, task, agent) before StartSession
    #[arg(long)]
    pub skip_verify: bool,

    /// What goes to stdout per forward: its address, or a JSON object
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: TextFormat,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// What to copy: a local path, `-` (stdin), or `[TASK]:PATH` in a container
    #[arg(value_name = "SRC")]
    pub source: String,

    /// Where to: a local path, `-` (stdout), or `[TASK]:PATH` in a container
    #[arg(value_name = "DST")]
    pub destination: String,

    /// The task when `:PATH` names none: an id, an ARN or a unique id prefix
    #[arg(long, visible_alias = "id", value_name = "ID")]
    pub task_id: Option<String>,

    /// The container (default: the first one in the task's definition)
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,

    /// Don't gzip downloads on the wire (by default they are when the image
    /// has gzip and the data compresses)
    #[arg(long)]
    pub no_compress: bool,

    /// No progress bar and no summary line
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Bound the whole copy (default: the config's timeout, 10m; 0 for none)
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Skip the pre-flight checks (IAM, KMS, task definition) before ExecuteCommand
    #[arg(long)]
    pub skip_verify: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// How many of the latest service events to show (oldest first)
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub events: usize,

    /// Output format
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: TextFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    Text,
    Json,
    Junit,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Check only this task (an id, an ARN or a unique id prefix)
    #[arg(long, visible_alias = "id", value_name = "ID")]
    pub task_id: Option<String>,

    /// Check only this container
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,

    /// Output format (json and junit: see docs/verify.md)
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: VerifyFormat,

    /// Count WARN as NG (exit 4, JUnit failure)
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderTarget {
    Config,
    #[value(alias = "taskdef")]
    TaskDefinition,
    #[value(alias = "servicedef")]
    ServiceDefinition,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// What to render, one or more in order (taskdef and servicedef are
    /// ecspresso's short names)
    #[arg(value_enum, default_value = "task-definition", num_args = 1..)]
    pub targets: Vec<RenderTarget>,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Serve the sandbox; prints its endpoint URL as the first line of stdout
    Serve(SandboxServeArgs),
}

#[derive(Debug, Args)]
pub struct SandboxServeArgs {
    /// Address to listen on (loopback only unless --allow-remote)
    #[arg(long, default_value = "127.0.0.1:0", value_name = "HOST:PORT")]
    pub addr: String,

    /// World file (YAML, see docs/sandbox.md); default: derived from the config
    #[arg(long, value_name = "FILE")]
    pub world: Option<PathBuf>,

    /// Allow a non-loopback --addr. The sandbox runs commands on this machine:
    /// anyone who can reach the address can run them.
    #[arg(long)]
    pub allow_remote: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

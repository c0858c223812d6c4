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

/// Flags every command takes, shown under their own heading in `--help`.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Global options")]
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
    /// Choose tasks with this command instead of the numbered prompt
    ///
    /// As ecspresso's: the candidate lines go to its stdin (`peco`, `fzf`,
    /// or `head -1` in a script), the line it prints is the choice, and an
    /// empty answer cancels (exit 130). Overrides the config's
    /// `filter_command:`.
    #[arg(
        long,
        global = true,
        env = "ECSPRESSO_FILTER_COMMAND",
        value_name = "CMD"
    )]
    pub filter_command: Option<String>,

    /// No progress on stderr, no closing summaries (errors and warnings still show)
    ///
    /// Spinners and cp's progress bar appear only when stderr is a terminal
    /// (spinners once a wait lasts over 300 ms); ECSX_NO_PROGRESS=1 and
    /// TERM=dumb turn them off as well. cp's summary line goes too.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command in a running task's container through ECS Exec
    #[command(after_long_help = EXEC_EXAMPLES)]
    Exec(ExecArgs),
    /// Copy files and folders into or out of a running task's container
    #[command(after_long_help = CP_EXAMPLES)]
    Cp(CpArgs),
    /// Forward local ports to a port on a task, or to a host the task can reach
    #[command(name = "port-forward", after_long_help = PORT_FORWARD_EXAMPLES)]
    PortForward(PortForwardArgs),
    /// List the service's tasks
    #[command(after_long_help = TASKS_EXAMPLES)]
    Tasks(TasksArgs),
    /// Show the service's state, deployments and events
    #[command(after_long_help = STATUS_EXAMPLES)]
    Status(StatusArgs),
    /// Print the rendered config or definitions as JSON
    #[command(after_long_help = RENDER_EXAMPLES)]
    Render(RenderArgs),
    /// Check every ECS Exec prerequisite and every resource the definitions name
    #[command(after_long_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// The local emulator of the AWS APIs ecsx uses
    #[command(subcommand, after_long_help = SANDBOX_EXAMPLES)]
    Sandbox(SandboxCommand),
    /// Print a shell completion script (README: where each shell looks)
    #[command(after_long_help = COMPLETION_EXAMPLES)]
    Completion(CompletionArgs),
    /// Print the man page (or write one page per command with --out-dir)
    #[command(after_long_help = MAN_EXAMPLES)]
    Man(ManArgs),
}

const EXEC_EXAMPLES: &str = "Examples:
  ecsx exec                                  # a shell; asks which task when several run
  echo 'puts User.count' | ecsx exec --task-id 3f2a --pipe 'rails runner -'
  ecsx exec --all-tasks --parallel 4 -- cat /etc/hostname   # every task; the worst status wins";

const CP_EXAMPLES: &str = "Examples:
  ecsx cp ./seed.sql :/tmp/seed.sql           # into the container of the picked task
  ecsx cp 3f2a:/app/log/ ./logs/              # a folder out of task 3f2a
  ecsx cp :/app/config.yml - | less";

const PORT_FORWARD_EXAMPLES: &str = "Examples:
  ecsx port-forward --local-port 15432 --port 5432 --host db.internal
  ecsx port-forward -L 8080:localhost:80 -L 0:cache.internal:6379   # two at once
  ecsx exec --port-forward --local-port 8080 --port 80   # ecspresso v2's spelling";

const TASKS_EXAMPLES: &str = "Examples:
  ecsx tasks
  ecsx tasks --all -o json
  ecsx tasks -o tsv | cut -f1                 # just the task ids";

const STATUS_EXAMPLES: &str = "Examples:
  ecsx status
  ecsx status --events 30
  ecsx --config prod/ecspresso.yml status -o json";

const RENDER_EXAMPLES: &str = "Examples:
  ecsx render                                 # the task definition
  ecsx render service-definition
  ecsx render config | jq .cluster";

const VERIFY_EXAMPLES: &str = "Examples:
  ecsx verify
  ecsx verify --task-id 3f2a --strict
  ecsx verify -o junit > verify.xml";

const SANDBOX_EXAMPLES: &str = "Examples:
  ecsx sandbox serve                          # prints the endpoint URL first
  ecsx sandbox serve --world world.yml --addr 127.0.0.1:4566
  ecsx --sandbox tasks                        # one command against a throwaway sandbox";

const COMPLETION_EXAMPLES: &str = "Examples:
  ecsx completion bash > ~/.local/share/bash-completion/completions/ecsx
  ecsx completion zsh > ~/.zfunc/_ecsx        # with fpath+=~/.zfunc before compinit
  ecsx completion fish > ~/.config/fish/completions/ecsx.fish";

const MAN_EXAMPLES: &str = "Examples:
  ecsx man | man -l -
  ecsx man exec | man -l -
  sudo ecsx man --out-dir /usr/local/share/man/man1";

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Print this command's page (ecsx-exec(1)) instead of ecsx(1)
    #[arg(value_name = "COMMAND", conflicts_with = "out_dir")]
    pub command: Option<String>,

    /// Write ecsx.1 and one page per command into this folder
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
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

    #[test]
    fn global_flags_have_their_own_heading_in_every_command() {
        let mut cmd = Cli::command();
        cmd.build();
        let mut commands = vec![cmd.clone()];
        // clap's own `help` command takes no flags.
        commands.extend(
            cmd.get_subcommands()
                .filter(|c| c.get_name() != "help")
                .cloned(),
        );
        for c in &commands {
            for id in ["config", "region", "profile", "debug", "quiet", "no_color"] {
                let arg = c
                    .get_arguments()
                    .find(|a| a.get_id() == id)
                    .unwrap_or_else(|| panic!("{} lacks --{id}", c.get_name()));
                assert_eq!(arg.get_help_heading(), Some("Global options"), "{id}");
            }
            // A command's own flags stay under the default heading.
            for arg in c.get_arguments().filter(|a| !a.is_global_set()) {
                assert_ne!(arg.get_help_heading(), Some("Global options"));
            }
        }
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Global options:"), "{help}");
    }

    #[test]
    fn every_command_ends_its_long_help_with_examples() {
        let mut cmd = Cli::command();
        cmd.build();
        for sub in cmd.get_subcommands_mut().filter(|c| c.get_name() != "help") {
            let name = sub.get_name().to_string();
            let help = sub.render_long_help().to_string();
            let tail = help
                .rsplit_once("Examples:")
                .unwrap_or_else(|| panic!("{name}: no examples:\n{help}"))
                .1;
            let examples: Vec<&str> = tail.lines().filter(|l| !l.trim().is_empty()).collect();
            assert!((2..=3).contains(&examples.len()), "{name}: {examples:?}");
            for line in examples {
                assert!(line.contains("ecsx "), "{name}: {line}");
            }
        }
    }
}

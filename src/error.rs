//! The one error type of ecsx and the exit code each error maps to.
//!
//! Every variant renders as a single line that says what is wrong, where
//! (file, line, flag, task) and how to fix it. `main` prints that line and
//! exits with [`Error::exit_code`]; nothing else in ecsx calls
//! `process::exit`.

use std::path::PathBuf;

use crate::template::TemplateError;

/// Exit codes, documented in the README.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// An AWS call or a resource failed.
    pub const AWS: i32 = 1;
    /// The command line is wrong.
    pub const USAGE: i32 = 2;
    /// The config file or a template is wrong.
    pub const CONFIG: i32 = 3;
    /// `verify` found a check that is NG.
    pub const VERIFY_NG: i32 = 4;
    /// `exec`: the session hit `--timeout`.
    pub const TIMEOUT: i32 = 124;
    /// `exec`: interrupted (Ctrl-C before the session started).
    pub const INTERRUPTED: i32 = 130;
    /// `exec`: ecsx itself failed (as ssh does).
    pub const EXEC_FAILURE: i32 = 255;
}

/// Everything that can go wrong in ecsx.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line does not make sense.
    #[error("{0}")]
    Usage(String),

    /// No config file was given and none of the default names exists.
    #[error("no config file: none of {tried} exists in {dir}; pass --config FILE or set ECSPRESSO_CONFIG")]
    ConfigNotFound { tried: String, dir: String },

    /// A file named by the user (config, definition, world, state) could not be read.
    #[error("{path}: cannot read {what}: {message}; check the path{hint}")]
    ReadFile {
        path: PathBuf,
        what: &'static str,
        message: String,
        hint: String,
    },

    /// A YAML or JSON syntax error, with its position.
    #[error("{path}:{line}:{column}: {what} syntax error: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        what: &'static str,
        message: String,
    },

    /// A config value or definition content is wrong.
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },

    /// A template could not be rendered.
    #[error(transparent)]
    Template(#[from] TemplateError),

    /// No credentials could be found by the SDK's default chain.
    #[error("no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, run `aws sso login`, or try `--sandbox`")]
    NoCredentials,

    /// No region could be found.
    #[error("no AWS region: pass --region, set `region:` in {config}, or set AWS_REGION")]
    NoRegion { config: String },

    /// The endpoint could not be reached at all.
    #[error("cannot reach {endpoint} ({operation}): {message}; check --endpoint-url / AWS_ENDPOINT_URL and your network")]
    Unreachable {
        endpoint: String,
        operation: &'static str,
        message: String,
    },

    /// The configured cluster does not exist.
    #[error("cluster {cluster} not found in {region}: check `cluster:` in {config} and --region")]
    ClusterNotFound {
        cluster: String,
        region: String,
        config: String,
    },

    /// The configured service does not exist.
    #[error("service {service} not found in cluster {cluster}: check `service:` in {config}")]
    ServiceNotFound {
        service: String,
        cluster: String,
        config: String,
    },

    /// A task named by the user does not exist or is ambiguous.
    #[error("{0}")]
    Task(String),

    /// Any other AWS API error: the operation, AWS's code and message, and
    /// what to do about it ([`aws_fix`]).
    #[error("{operation} failed: {code}: {message}; {}", aws_fix(operation, code))]
    Aws {
        operation: &'static str,
        code: String,
        message: String,
    },

    /// Writing to stdout or stderr failed (a closed pipe is not reported).
    #[error("{0}")]
    Io(#[from] std::io::Error),

    /// `cp` could not copy: a path, a permission, space, a tool the image
    /// lacks, or bytes that did not match.
    #[error("{0}")]
    Copy(String),

    /// `exec` could not run the command (exit 255, as ssh).
    #[error("{0}")]
    Exec(String),

    /// `exec` hit its timeout.
    #[error(
        "the session reached --timeout {0}; it was ended (pass a longer --timeout, or 0 for none)"
    )]
    Timeout(String),

    /// `exec` was interrupted.
    #[error("interrupted")]
    Interrupted,

    /// Any other error while running `exec`: exits 255 so that scripts can
    /// tell ecsx's failures from the remote command's status.
    #[error(transparent)]
    InExec(Box<Error>),

    /// The sandbox could not start.
    #[error("sandbox: {0}")]
    Sandbox(String),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::ConfigNotFound { .. }
            | Error::ReadFile { .. }
            | Error::Syntax { .. }
            | Error::Config { .. }
            | Error::Template(_)
            | Error::NoRegion { .. } => exit::CONFIG,
            Error::NoCredentials
            | Error::Unreachable { .. }
            | Error::ClusterNotFound { .. }
            | Error::ServiceNotFound { .. }
            | Error::Task(_)
            | Error::Aws { .. }
            | Error::Io(_)
            | Error::Copy(_)
            | Error::Sandbox(_) => exit::AWS,
            Error::Exec(_) | Error::InExec(_) => exit::EXEC_FAILURE,
            Error::Timeout(_) => exit::TIMEOUT,
            Error::Interrupted => exit::INTERRUPTED,
        }
    }

    /// Whether this error is a closed pipe on stdout, which is a normal way
    /// for a reader such as `head` to say it has seen enough.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// A file could not be read.
    pub fn read_file(path: impl Into<PathBuf>, what: &'static str, err: &std::io::Error) -> Error {
        let hint = match err.kind() {
            std::io::ErrorKind::NotFound => String::new(),
            std::io::ErrorKind::PermissionDenied => " and its permissions".to_string(),
            _ => String::new(),
        };
        let message = match err.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            _ => err.to_string(),
        };
        Error::ReadFile {
            path: path.into(),
            what,
            message,
            hint,
        }
    }
}

/// The IAM action of an AWS operation ecsx calls (`ecs:ListTasks`).
pub fn iam_action(operation: &str) -> String {
    let service = match operation {
        "GetCallerIdentity" => "sts",
        "SimulatePrincipalPolicy" | "GetRole" => "iam",
        "DescribeKey" | "GenerateDataKey" => "kms",
        "DescribeImages" => "ecr",
        "DescribeSecret" => "secretsmanager",
        "GetParameters" | "ResumeSession" | "TerminateSession" | "StartSession" => "ssm",
        "DescribeLogGroups" => "logs",
        "DescribeTargetGroups" => "elasticloadbalancing",
        op if op.starts_with("DescribeVpc")
            || op.starts_with("DescribeSubnet")
            || op.starts_with("DescribeRouteTable")
            || op.starts_with("DescribeNetwork")
            || op.starts_with("DescribeSecurityGroup") =>
        {
            "ec2"
        }
        _ => "ecs",
    };
    format!("{service}:{operation}")
}

/// Error codes AWS answers when the caller may not make a call.
pub const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthorizationError",
    "AuthorizationErrorException",
    "NotAuthorized",
];

/// What to do about an AWS error, from its code: the last part of the one
/// line every AWS failure is shown as.
pub fn aws_fix(operation: &str, code: &str) -> String {
    const EXPIRED: &[&str] = &[
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "TokenRefreshRequired",
    ];
    const BAD_CREDENTIALS: &[&str] = &[
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "AuthFailure",
        "InvalidAccessKeyId",
    ];
    const THROTTLED: &[&str] = &[
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    ];
    const SERVER: &[&str] = &[
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    ];
    const UNKNOWN_OPERATION: &[&str] = &[
        "UnknownOperationException",
        "UnknownOperation",
        "InvalidAction",
    ];
    if DENIED_CODES.contains(&code) {
        format!(
            "allow {} to the identity ecsx runs as (`aws sts get-caller-identity` shows which)",
            iam_action(operation)
        )
    } else if EXPIRED.contains(&code) {
        "the credentials have expired: refresh them (`aws sso login`, or a new AWS_SESSION_TOKEN)"
            .into()
    } else if BAD_CREDENTIALS.contains(&code) {
        "AWS does not accept these credentials: check AWS_PROFILE / AWS_ACCESS_KEY_ID and the clock"
            .into()
    } else if THROTTLED.contains(&code) {
        "AWS is throttling the calls: wait a moment and retry, or raise AWS_MAX_ATTEMPTS".into()
    } else if SERVER.contains(&code) {
        "AWS had an internal error: retry in a moment".into()
    } else if UNKNOWN_OPERATION.contains(&code) {
        format!("the endpoint does not serve {operation}: check --endpoint-url / AWS_ENDPOINT_URL")
    } else if code == "ClientError" {
        "run again with --debug to see the whole cause".into()
    } else {
        "check the value the message names (in the config or the flags); --debug shows each call"
            .into()
    }
}

/// Result with ecsx's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_errors_are_one_line_with_the_operation_the_cause_and_a_fix() {
        let e = |operation, code: &str| Error::Aws {
            operation,
            code: code.into(),
            message: "the message".into(),
        };
        let text = e("ListTasks", "AccessDeniedException").to_string();
        assert_eq!(
            text,
            "ListTasks failed: AccessDeniedException: the message; allow ecs:ListTasks to the identity ecsx runs as (`aws sts get-caller-identity` shows which)"
        );
        for (operation, code, fix) in [
            ("GetRole", "AccessDenied", "allow iam:GetRole"),
            (
                "ResumeSession",
                "AccessDeniedException",
                "allow ssm:ResumeSession",
            ),
            (
                "DescribeVpcEndpoints",
                "UnauthorizedOperation",
                "allow ec2:DescribeVpcEndpoints",
            ),
            ("ListTasks", "ExpiredTokenException", "expired"),
            ("GetCallerIdentity", "InvalidClientTokenId", "AWS_PROFILE"),
            ("ListTasks", "ThrottlingException", "AWS_MAX_ATTEMPTS"),
            ("DescribeTasks", "ServerException", "retry in a moment"),
            ("GetRole", "UnknownOperationException", "--endpoint-url"),
            ("ListTasks", "ClientError", "--debug"),
            (
                "ListTasks",
                "InvalidParameterException",
                "the value the message names",
            ),
        ] {
            let text = e(operation, code).to_string();
            assert!(text.starts_with(&format!("{operation} failed: {code}: the message; ")));
            assert!(text.contains(fix), "{text}");
            assert!(!text.contains('\n'), "{text}");
        }
    }
}

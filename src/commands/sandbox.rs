//! `ecsx sandbox serve`: the sandbox as a server of its own, for tests, the
//! aws CLI and trying ecsx. It binds loopback unless told otherwise, because
//! it will run commands on this machine for anyone who can reach it.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use crate::app::{start_sandbox, App};
use crate::cli::SandboxServeArgs;
use crate::error::{Error, Result};

/// Resolve `--addr` and refuse a non-loopback one without `--allow-remote`.
pub fn check_addr(addr: &str, allow_remote: bool) -> Result<SocketAddr> {
    let resolved: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| {
            Error::Usage(format!(
                "--addr {addr}: {e}; write it as HOST:PORT, e.g. 127.0.0.1:4566"
            ))
        })?
        .collect();
    let first = *resolved
        .first()
        .ok_or_else(|| Error::Usage(format!("--addr {addr} resolves to no address")))?;
    let loopback = resolved.iter().all(|a| a.ip().is_loopback());
    if !loopback {
        if !allow_remote {
            return Err(Error::Usage(format!(
                "--addr {addr} is not a loopback address; the sandbox runs commands on this machine, so it binds 127.0.0.1 unless you also pass --allow-remote"
            )));
        }
        let shown = match first.ip() {
            IpAddr::V4(v) if v.is_unspecified() => "every interface".to_string(),
            ip => ip.to_string(),
        };
        eprintln!(
            "ecsx: warning: the sandbox listens on {shown}: anyone who can reach it can run commands on this machine"
        );
    }
    Ok(first)
}

pub async fn serve(app: &mut App, args: &SandboxServeArgs) -> Result<i32> {
    let addr = check_addr(&args.addr, args.allow_remote)?;
    let world = app.sandbox_world(args.world.as_deref())?;
    let handle = start_sandbox(world, &addr.to_string()).await?;
    {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        writeln!(out, "http://{}", handle.addr)?;
        out.flush()?;
    }
    eprintln!(
        "ecsx: sandbox serving on http://{} (Ctrl-C to stop)",
        handle.addr
    );
    wait_for_signal().await;
    handle.stop().await;
    Ok(0)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only_unless_allowed() {
        assert!(check_addr("127.0.0.1:0", false).is_ok());
        assert!(check_addr("[::1]:0", false).is_ok());
        let err = check_addr("0.0.0.0:0", false).unwrap_err();
        assert!(err.to_string().contains("--allow-remote"), "{err}");
        assert_eq!(err.exit_code(), 2);
        assert!(check_addr("0.0.0.0:0", true).is_ok());
        assert!(check_addr("nonsense", false).is_err());
    }
}

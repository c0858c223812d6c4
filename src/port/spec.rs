//! One forward as the command line asks for it, and the StartSession
//! request it becomes.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The document for a port on the task itself.
pub const PORT_DOCUMENT: &str = "AWS-StartPortForwardingSession";
/// The document for a host the task can reach.
pub const REMOTE_HOST_DOCUMENT: &str = "AWS-StartPortForwardingSessionToRemoteHost";

/// Both documents.
pub const DOCUMENTS: [&str; 2] = [PORT_DOCUMENT, REMOTE_HOST_DOCUMENT];

/// One forward: where to listen, where the task connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardSpec {
    /// The address written out in `-L BIND:...`; `None`: 127.0.0.1 and ::1.
    pub bind: Option<String>,
    /// 0 takes a free port.
    pub local_port: u16,
    /// The host the task connects to; `None`: the task itself (localhost).
    pub host: Option<String>,
    /// The port the task connects to.
    pub port: u16,
}

impl ForwardSpec {
    /// The addresses to listen on (both loopbacks by default).
    pub fn bind_addrs(&self) -> Result<Vec<IpAddr>, String> {
        match &self.bind {
            None => Ok(vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ]),
            Some(b) if b == "localhost" => Ok(vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ]),
            Some(b) if b == "*" => Ok(vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)]),
            Some(b) => b
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .map(|ip| vec![ip])
                .map_err(|_| {
                    format!("bind address {b:?} is not an IP address (use e.g. 127.0.0.1, 0.0.0.0, [::1])")
                }),
        }
    }

    /// Whether it listens beyond loopback (worth a warning).
    pub fn binds_beyond_loopback(&self) -> bool {
        self.bind_addrs()
            .map(|addrs| addrs.iter().any(|ip| !ip.is_loopback()))
            .unwrap_or(false)
    }

    /// What the task connects to, for messages: `db.internal:5432`, or
    /// `localhost:8080` on the task itself.
    pub fn remote_label(&self) -> String {
        let host = self.host.as_deref().unwrap_or("localhost");
        if host.contains(':') {
            format!("[{host}]:{}", self.port)
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The StartSession document and parameters (every value a list).
    pub fn document(&self, local_port: u16) -> (&'static str, HashMap<String, Vec<String>>) {
        let mut params = HashMap::new();
        params.insert("portNumber".to_string(), vec![self.port.to_string()]);
        params.insert("localPortNumber".to_string(), vec![local_port.to_string()]);
        match &self.host {
            Some(host) => {
                params.insert("host".to_string(), vec![host.clone()]);
                (REMOTE_HOST_DOCUMENT, params)
            }
            None => (PORT_DOCUMENT, params),
        }
    }
}

/// A port number given on the command line.
pub fn parse_port(text: &str, what: &str, allow_zero: bool) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(0) if !allow_zero => Err(format!("{what} 0 is not a port; use 1-65535")),
        Ok(p) => Ok(p),
        Err(_) => Err(format!(
            "{what} {text:?} is not a port number ({}-65535)",
            if allow_zero { 0 } else { 1 }
        )),
    }
}

/// A host the agent accepts (the document's pattern `^[a-zA-Z0-9.:_-]{1,253}$`).
pub fn check_host(host: &str) -> Result<(), String> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "host {host:?} is not a host name or address (letters, digits and . : _ - only, at most 253)"
        ))
    }
}

/// Splits on ':' outside brackets.
fn fields(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
            }
            ':' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// `-L [BIND:]LOCAL:HOST:REMOTE` (ssh's form; IPv6 addresses in brackets).
/// HOST `localhost` means the task itself.
pub fn parse_l(text: &str) -> Result<ForwardSpec, String> {
    let parts = fields(text);
    let (bind, local, host, remote) = match parts.as_slice() {
        [local, host, remote] => (None, local, host, remote),
        [bind, local, host, remote] => (Some(bind.clone()), local, host, remote),
        _ => {
            return Err(format!(
                "-L {text:?} is not [BIND:]LOCAL_PORT:HOST:REMOTE_PORT (e.g. -L 15432:db.internal:5432 or -L 8080:localhost:80)"
            ))
        }
    };
    let local_port = parse_port(local, &format!("-L {text}: local port"), true)?;
    let port = parse_port(remote, &format!("-L {text}: remote port"), false)?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    check_host(&host).map_err(|e| format!("-L {text}: {e}"))?;
    let host = (host != "localhost").then_some(host);
    let bind = bind.filter(|b| !b.is_empty());
    let spec = ForwardSpec {
        bind,
        local_port,
        host,
        port,
    };
    spec.bind_addrs().map_err(|e| format!("-L {text}: {e}"))?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l_forms() {
        assert_eq!(
            parse_l("15432:db.internal:5432").unwrap(),
            ForwardSpec {
                bind: None,
                local_port: 15432,
                host: Some("db.internal".into()),
                port: 5432
            }
        );
        let s = parse_l("0:localhost:80").unwrap();
        assert_eq!((s.local_port, s.host.as_deref(), s.port), (0, None, 80));
        let s = parse_l("0.0.0.0:8080:10.0.0.5:80").unwrap();
        assert_eq!(s.bind.as_deref(), Some("0.0.0.0"));
        assert!(s.binds_beyond_loopback());
        let s = parse_l("[::1]:8080:[fd00::5]:80").unwrap();
        assert_eq!(s.bind.as_deref(), Some("[::1]"));
        assert_eq!(s.host.as_deref(), Some("fd00::5"));
        assert!(!s.binds_beyond_loopback());
        assert_eq!(s.remote_label(), "[fd00::5]:80");
        assert!(parse_l("8080:80").is_err());
        assert!(parse_l("x:h:80").unwrap_err().contains("local port"));
        assert!(parse_l("1:h:0").unwrap_err().contains("remote port"));
        assert!(parse_l("1:h/x:80").unwrap_err().contains("host"));
        assert!(parse_l("nope:1:h:80").unwrap_err().contains("bind address"));
    }

    #[test]
    fn documents() {
        let s = parse_l("0:localhost:8080").unwrap();
        let (doc, params) = s.document(0);
        assert_eq!(doc, PORT_DOCUMENT);
        assert_eq!(params["portNumber"], vec!["8080"]);
        assert_eq!(params["localPortNumber"], vec!["0"]);
        assert!(!params.contains_key("host"));
        let s = parse_l("5432:db:5432").unwrap();
        let (doc, params) = s.document(5432);
        assert_eq!(doc, REMOTE_HOST_DOCUMENT);
        assert_eq!(params["host"], vec!["db"]);
    }

    #[test]
    fn default_bind_is_both_loopbacks() {
        let s = parse_l("0:localhost:80").unwrap();
        let addrs = s.bind_addrs().unwrap();
        assert_eq!(addrs.len(), 2);
        assert!(addrs.iter().all(|a| a.is_loopback()));
        assert!(!s.binds_beyond_loopback());
    }
}

//! The version rules of a port session (protocol.md §8): each side picks
//! mux or basic mode, and smux keep-alive, from the version the other side
//! sent in the handshake.

use std::cmp::Ordering;

/// The numeric parts of a dotted version; `None` if a part is not a number.
fn parts(version: &str) -> Option<Vec<u64>> {
    version
        .trim()
        .split('.')
        .map(|p| p.parse::<u64>().ok())
        .collect()
}

/// Compares part by part, missing parts counting as 0 (the agent's rule).
fn compare_loose(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (parts(a)?, parts(b)?);
    let n = a.len().max(b.len());
    let get = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    Some(
        (0..n)
            .map(|i| get(&a, i).cmp(&get(&b, i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal),
    )
}

/// `version > than` by the official client's rule: anything but four
/// numeric parts counts as older.
fn newer_strict(version: &str, than: &str) -> bool {
    match parts(version) {
        Some(p) if p.len() == 4 => compare_loose(version, than) == Some(Ordering::Greater),
        _ => false,
    }
}

/// Agent side: mux iff the client is at least 1.1.70.
pub fn agent_uses_mux(client_version: &str) -> bool {
    matches!(
        compare_loose(client_version, "1.1.70"),
        Some(Ordering::Greater | Ordering::Equal)
    )
}

/// Agent side: smux keep-alive only for clients at or below 1.2.331.0.
pub fn agent_keepalive(client_version: &str) -> bool {
    !matches!(
        compare_loose(client_version, "1.2.331.0"),
        Some(Ordering::Greater)
    )
}

/// Client side: mux iff the agent is newer than 3.0.196.0.
pub fn client_uses_mux(agent_version: &str) -> bool {
    newer_strict(agent_version, "3.0.196.0")
}

/// Client side: smux keep-alive only for agents at or below 3.1.1511.0.
pub fn client_keepalive(agent_version: &str) -> bool {
    !newer_strict(agent_version, "3.1.1511.0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_rules() {
        assert!(agent_uses_mux("1.2.677.0"));
        assert!(agent_uses_mux("1.1.70"));
        assert!(agent_uses_mux("1.1.70.0"));
        assert!(!agent_uses_mux("1.1.69.9"));
        assert!(!agent_uses_mux("1.1.0.0"));
        assert!(!agent_uses_mux("garbage"));
        assert!(!agent_keepalive("1.2.677.0"));
        assert!(!agent_keepalive("1.2.707.0"));
        assert!(agent_keepalive("1.2.300.0"));
        assert!(agent_keepalive("1.2.331.0"));
    }

    #[test]
    fn client_rules() {
        assert!(client_uses_mux("3.3.0.0"));
        assert!(client_uses_mux("3.3.1802.0"));
        assert!(!client_uses_mux("3.0.196.0"));
        assert!(!client_uses_mux("3.1"), "not four parts: older");
        assert!(!client_uses_mux("3.3.0.0-beta"));
        assert!(!client_keepalive("3.3.0.0"));
        assert!(client_keepalive("3.1.1511.0"));
        assert!(client_keepalive("3.0.500.0"));
        assert!(client_keepalive(""));
    }
}

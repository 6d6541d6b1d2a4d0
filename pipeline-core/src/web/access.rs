//! Who may talk to the server: the per-process CSRF token (its names in
//! forms and headers, how it is made and compared) and the Host header
//! values accepted. The checks themselves are [`security`](super::security)'s.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;

use crate::fingerprint::FingerprintHasher;

/// The form field carrying the token.
pub(super) const TOKEN_FIELD: &str = "_csrf";

/// The header carrying the token (scripts, htmx).
pub(super) const TOKEN_HEADER: &str = "x-csrf-token";

/// A token of 128 random bits, as hex: hashes keyed by the standard
/// library's per-process random keys, mixed with the time and process id.
pub(super) fn random_token() -> String {
    let mut hasher = FingerprintHasher::with_domain("csrf");
    for round in 0..4u64 {
        let mut random = RandomState::new().build_hasher();
        random.write_u64(round);
        hasher.update_u64(random.finish());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.update_raw(&now.to_le_bytes());
    hasher.update_u64(u64::from(std::process::id()));
    hasher.finish().to_hex()[..32].to_owned()
}

/// The Host header values a browser sends to reach `addr`: none to check
/// (every host accepted) unless `addr` is a loopback address.
pub(super) fn allowed_hosts(addr: SocketAddr) -> Vec<String> {
    if !addr.ip().is_loopback() {
        return Vec::new();
    }
    let port = addr.port();
    let mut hosts = vec![
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        addr.to_string(),
    ];
    if port == 80 {
        hosts.extend(["localhost", "127.0.0.1", "[::1]"].map(str::to_owned));
    }
    hosts
}

/// Whether two tokens are equal, in time independent of where they differ.
pub(super) fn same_token(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_of_128_bits() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn token_comparison_needs_every_byte() {
        assert!(same_token(b"abcd", b"abcd"));
        assert!(!same_token(b"abce", b"abcd"));
        assert!(!same_token(b"abc", b"abcd"));
        assert!(!same_token(b"", b"abcd"));
    }

    #[test]
    fn only_loopback_addresses_check_the_host() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(allowed_hosts(local).contains(&"localhost:8080".to_owned()));
        assert!(allowed_hosts("0.0.0.0:8080".parse().unwrap()).is_empty());
    }
}

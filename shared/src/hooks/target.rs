//! Where signed webhooks may go (REST hooks and the `webhook.post` action), and the signed POST.
//!
//! A target is an `https` URL (`http` to a loopback host only where [`TargetPolicy`] allows it:
//! local development and tests). Its host is resolved before every send and every address it
//! resolves to is checked: an address in a private, loopback, link-local, unique-local or other
//! non-public range is refused (the SSRF guard). The request then goes to the address that was
//! checked (reqwest's `resolve` override), so a second DNS answer cannot take it elsewhere.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use url::Url;

use crate::standard_webhooks::SigningSecret;

/// The longest target URL accepted.
pub const MAX_URL_CHARS: usize = 2000;
/// How long resolving a target's host may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a receiver has to answer.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Which targets may be reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// `http://localhost` (and 127.0.0.1, [::1]) and loopback addresses are allowed: local
    /// development and tests only (`HOOKS_ALLOW_LOOPBACK=true`). Private ranges stay refused.
    pub allow_loopback: bool,
}

impl TargetPolicy {
    /// `HOOKS_ALLOW_LOOPBACK`: `true` or `1` allows loopback targets; anything else (or unset)
    /// does not. template.yaml never sets it.
    pub fn from_env() -> Self {
        let allow = std::env::var("HOOKS_ALLOW_LOOPBACK").is_ok_and(|v| v == "true" || v == "1");
        Self { allow_loopback: allow }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("the target URL is not a valid absolute URL")]
    Malformed,
    #[error("the target URL is longer than {MAX_URL_CHARS} characters")]
    TooLong,
    #[error("the target URL must use https")]
    NotHttps,
    #[error("the target URL must not contain a user name or password")]
    Credentials,
    #[error("the target's address is in a private, loopback or link-local range")]
    Private,
    #[error("the target's host name could not be resolved")]
    Unresolved(#[source] std::io::Error),
}

/// Checks a target URL as written: its scheme, no credentials, and an IP literal's range.
pub fn check_url(raw: &str, policy: TargetPolicy) -> Result<Url, TargetError> {
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(TargetError::TooLong);
    }
    let url = Url::parse(raw.trim()).map_err(|_| TargetError::Malformed)?;
    let host = url.host().ok_or(TargetError::Malformed)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Credentials);
    }
    let loopback_host = match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_loopback && loopback_host => {}
        _ => return Err(TargetError::NotHttps),
    }
    let literal = match host {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    };
    if literal.is_some_and(|ip| forbidden(ip, policy)) {
        return Err(TargetError::Private);
    }
    Ok(url)
}

/// Resolves the target's host and checks every address; returns the one to connect to.
pub async fn resolve(url: &Url, policy: TargetPolicy) -> Result<SocketAddr, TargetError> {
    let port = url.port_or_known_default().ok_or(TargetError::Malformed)?;
    let addresses: Vec<SocketAddr> = match url.host().ok_or(TargetError::Malformed)? {
        url::Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        url::Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        url::Host::Domain(domain) => {
            let lookup = tokio::net::lookup_host((domain, port));
            match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
                Ok(found) => found.map_err(TargetError::Unresolved)?.collect(),
                Err(_) => return Err(TargetError::Unresolved(std::io::ErrorKind::TimedOut.into())),
            }
        }
    };
    if addresses.iter().any(|a| forbidden(a.ip(), policy)) {
        return Err(TargetError::Private);
    }
    addresses.first().copied().ok_or_else(|| TargetError::Unresolved(std::io::ErrorKind::NotFound.into()))
}

/// Whether an address is outside the public internet (or loopback while the policy allows it).
pub fn forbidden(ip: IpAddr, policy: TargetPolicy) -> bool {
    if ip.is_loopback() {
        return !policy.allow_loopback;
    }
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden(IpAddr::V4(v4), policy),
            None => forbidden_v6(v6),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local() // 169.254/16, the cloud metadata endpoint among them
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || ip.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] // NAT64 to any IPv4 address
        || ip.to_ipv4().is_some_and(|v4| ip.segments()[..6] == [0; 6] && forbidden_v4(v4)) // IPv4-compatible
}

/// What a receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub duration: Duration,
    /// `Retry-After` in seconds, on a 429 or 503.
    pub retry_after: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Refused before anything was sent: the target is not allowed (or does not resolve).
    #[error("the target was refused")]
    Refused(#[source] TargetError),
    /// The request could not be completed (connection, timeout): it may or may not have
    /// arrived.
    #[error("the target could not be reached")]
    Network {
        duration: Duration,
        #[source]
        source: reqwest::Error,
    },
}

/// POSTs `body` to the target, signed per the Standard Webhooks spec with message id `id` and
/// the time of this attempt; redirects are not followed.
pub async fn post_signed(
    url: &Url,
    policy: TargetPolicy,
    secret: &SigningSecret,
    id: &str,
    body: &str,
) -> Result<Answer, SendError> {
    let url = check_url(url.as_str(), policy).map_err(SendError::Refused)?;
    let address = resolve(&url, policy).await.map_err(SendError::Refused)?;
    let client = crate::clients::pinned_http(url.host_str().unwrap_or_default(), address, SEND_TIMEOUT)
        .map_err(|e| SendError::Refused(TargetError::Unresolved(std::io::Error::other(e))))?;
    let timestamp = chrono::Utc::now().timestamp();
    let mut request = client.post(url).header("content-type", "application/json").body(body.to_owned());
    for (name, value) in secret.headers(id, timestamp, body) {
        request = request.header(name, value);
    }
    let started = Instant::now();
    match request.send().await {
        Ok(response) => {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            Ok(Answer { status: response.status().as_u16(), duration: started.elapsed(), retry_after })
        }
        Err(source) => Err(SendError::Network { duration: started.elapsed(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWS: TargetPolicy = TargetPolicy { allow_loopback: false };
    const DEV: TargetPolicy = TargetPolicy { allow_loopback: true };

    #[test]
    fn only_https_is_accepted_except_http_to_localhost_in_dev() {
        assert!(check_url("https://hooks.zapier.com/hooks/standard/1/abc", AWS).is_ok());
        assert!(matches!(check_url("http://example.com/hook", AWS), Err(TargetError::NotHttps)));
        assert!(matches!(check_url("http://example.com/hook", DEV), Err(TargetError::NotHttps)));
        assert!(matches!(check_url("http://localhost:8080/hook", AWS), Err(TargetError::NotHttps)));
        assert!(check_url("http://localhost:8080/hook", DEV).is_ok());
        assert!(check_url("http://127.0.0.1:8080/hook", DEV).is_ok());
        assert!(matches!(check_url("ftp://example.com/", DEV), Err(TargetError::NotHttps)));
        assert!(matches!(check_url("https://user:pw@example.com/", AWS), Err(TargetError::Credentials)));
        assert!(matches!(check_url("not a url", AWS), Err(TargetError::Malformed)));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert!(matches!(check_url(&long, AWS), Err(TargetError::TooLong)));
    }

    #[test]
    fn private_loopback_link_local_and_unique_local_addresses_are_refused() {
        for ip in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "127.0.0.1",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(forbidden(ip.parse().unwrap(), AWS), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"] {
            assert!(!forbidden(ip.parse().unwrap(), AWS), "{ip}");
        }
        // Loopback is allowed in dev; private ranges never are.
        assert!(!forbidden("127.0.0.1".parse().unwrap(), DEV));
        assert!(!forbidden("::1".parse().unwrap(), DEV));
        assert!(forbidden("10.0.0.1".parse().unwrap(), DEV));
        assert!(matches!(check_url("https://10.1.2.3/hook", DEV), Err(TargetError::Private)));
        assert!(matches!(check_url("https://[fd12::1]/hook", AWS), Err(TargetError::Private)));
    }

    #[tokio::test]
    async fn a_host_name_resolving_to_loopback_is_refused_at_resolution() {
        let url = check_url("https://localhost:9/hook", AWS).unwrap();
        assert!(matches!(resolve(&url, AWS).await, Err(TargetError::Private)));
        assert!(resolve(&url, DEV).await.unwrap().ip().is_loopback());
    }
}

//! Connection strings: parsing, and the rewrites the adapter makes (host, query
//! parameters) without ever repeating the credentials.

use eventstore::{ClientSettings, ClientSettingsParseError};

use crate::store::{StoreError, StoreResult};

/// Parses a connection string; the message never repeats the credentials.
pub(super) fn parse_settings(url: &str) -> StoreResult<ClientSettings> {
    url.trim()
        .parse::<ClientSettings>()
        .map_err(|e: ClientSettingsParseError| {
            let why = match e.error() {
                Some(url_error) => url_error.to_string(),
                None => e.message().to_owned(),
            };
            StoreError::Other(format!(
                "invalid EventStoreDB connection string {:?}: {why} (expected e.g. \
                 esdb://admin:changeit@127.0.0.1:2113?tls=false)",
                redact(url)
            ))
        })
}

/// Where the host part (after any `user:password@`) of a URL starts and ends.
fn host_range(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let host_start = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
    Some((host_start, end))
}

/// The URL with its userinfo replaced by `***`.
pub(super) fn redact(url: &str) -> String {
    let url = url.trim();
    match host_range(url) {
        Some((host_start, _)) if url[..host_start].ends_with('@') => {
            let scheme_end = url.find("://").map_or(0, |i| i + 3);
            format!("{}***@{}", &url[..scheme_end], &url[host_start..])
        }
        _ => url.to_owned(),
    }
}

/// The URL with its `host:port` replaced.
pub(super) fn replace_host(url: &str, host_port: &str) -> Option<String> {
    let (start, end) = host_range(url)?;
    Some(format!("{}{host_port}{}", &url[..start], &url[end..]))
}

/// True when the URL's query sets `name` (case-insensitively, as the client reads it).
pub(super) fn has_param(url: &str, name: &str) -> bool {
    url.split_once('?').is_some_and(|(_, query)| {
        query.split('&').any(|pair| {
            pair.split('=')
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case(name))
        })
    })
}

/// The URL with `name=value` added to its query.
pub(super) fn with_param(url: &str, name: &str, value: impl std::fmt::Display) -> String {
    match url.split_once('?') {
        None => format!("{url}?{name}={value}"),
        Some((_, "")) => format!("{url}{name}={value}"),
        Some(_) if url.ends_with('&') => format!("{url}{name}={value}"),
        Some(_) => format!("{url}&{name}={value}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_are_rewritten_without_losing_anything() {
        assert_eq!(
            redact("esdb://admin:changeit@db:2113?tls=false"),
            "esdb://***@db:2113?tls=false"
        );
        assert_eq!(redact("esdb://db:2113"), "esdb://db:2113");
        assert_eq!(
            replace_host("esdb://a:b@db.example:2113/?tls=false", "127.0.0.1:9"),
            Some("esdb://a:b@127.0.0.1:9/?tls=false".into())
        );
        assert_eq!(
            replace_host("esdb://[::1]:2113", "127.0.0.1:9"),
            Some("esdb://127.0.0.1:9".into())
        );
        assert!(has_param(
            "esdb://h?tls=false&DiscoveryInterval=5",
            "discoveryInterval"
        ));
        assert!(!has_param("esdb://h?tls=false", "discoveryInterval"));
        assert_eq!(with_param("esdb://h", "x", 1), "esdb://h?x=1");
        assert_eq!(with_param("esdb://h?", "x", 1), "esdb://h?x=1");
        assert_eq!(
            with_param("esdb://h?tls=false", "x", 1),
            "esdb://h?tls=false&x=1"
        );
    }
}

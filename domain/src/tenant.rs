//! Tenants: every stream, event and read-model row belongs to exactly one.
//!
//! A tenant is named by a slug (`acme`, `globex-eu`). Its streams are the aggregate's
//! prefix, the slug, a dot, and the id: `interview-acme.{id}`. The `default` tenant keeps
//! the names streams had before tenants existed (`interview-{id}`), so every event
//! written before is the `default` tenant's without rewriting the log. Because the tenant
//! is part of the stream name, the same id in two tenants names two streams: a caller of
//! one tenant cannot reach, create over, or learn of another tenant's aggregate.

use std::fmt;
use std::sync::Arc;

use uuid::Uuid;

/// The slug of the tenant of everything written before tenants existed.
pub const DEFAULT_TENANT: &str = "default";

/// Longest slug.
pub const MAX_TENANT_LEN: usize = 63;

/// A tenant's slug: 1..=63 of `a-z 0-9 -`, starting with a letter or digit.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(Arc<str>);

/// A string that is not a tenant slug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a tenant is 1 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit")]
pub struct InvalidTenant;

impl Tenant {
    /// Parses a slug.
    pub fn parse(slug: &str) -> Result<Tenant, InvalidTenant> {
        if is_slug(slug) {
            Ok(Tenant(Arc::from(slug)))
        } else {
            Err(InvalidTenant)
        }
    }

    /// The `default` tenant.
    pub fn default_tenant() -> Tenant {
        Tenant(Arc::from(DEFAULT_TENANT))
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the `default` tenant.
    pub fn is_default(&self) -> bool {
        &*self.0 == DEFAULT_TENANT
    }

    /// The name of the stream of aggregate `id` under `prefix` in this tenant:
    /// `{prefix}{id}` for `default`, else `{prefix}{slug}.{id}`.
    pub fn stream(&self, prefix: &str, id: Uuid) -> String {
        if self.is_default() {
            format!("{prefix}{id}")
        } else {
            format!("{prefix}{}.{id}", self.0)
        }
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tenant({})", self.0)
    }
}

impl std::str::FromStr for Tenant {
    type Err = InvalidTenant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tenant::parse(s)
    }
}

fn is_slug(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_TENANT_LEN
        && bytes[0] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// What a stream name says: `None` when it does not start with `prefix`; else the
/// tenant slug (`default` when the name has none) and what follows as the id, or an
/// error when that is not a slug and a UUID.
pub fn parse_stream<'a>(
    prefix: &str,
    stream: &'a str,
) -> Option<Result<(&'a str, Uuid), InvalidStreamName>> {
    let rest = stream.strip_prefix(prefix)?;
    let (tenant, id) = match rest.split_once('.') {
        Some((tenant, id)) if is_slug(tenant) && tenant != DEFAULT_TENANT => (tenant, id),
        Some(_) => return Some(Err(InvalidStreamName)),
        None => (DEFAULT_TENANT, rest),
    };
    Some(
        Uuid::parse_str(id)
            .map(|id| (tenant, id))
            .map_err(|_| InvalidStreamName),
    )
}

/// A stream with an aggregate's prefix whose remainder is not `[slug.]uuid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream name is not {{prefix}}[{{tenant}}.]{{uuid}}")]
pub struct InvalidStreamName;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["default", "acme", "a", "globex-eu", "x1", &"a".repeat(63)] {
            assert!(Tenant::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "Acme", "a.b", "a_b", "a b", &"a".repeat(64), "é"] {
            assert!(Tenant::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stream_names_round_trip() {
        let id = Uuid::new_v4();
        let default = Tenant::default_tenant();
        assert_eq!(default.stream("interview-", id), format!("interview-{id}"));
        let acme = Tenant::parse("acme").unwrap();
        let name = acme.stream("interview-", id);
        assert_eq!(name, format!("interview-acme.{id}"));
        assert_eq!(parse_stream("interview-", &name), Some(Ok(("acme", id))));
        assert_eq!(
            parse_stream("interview-", &format!("interview-{id}")),
            Some(Ok(("default", id)))
        );
        assert_eq!(parse_stream("person-", &name), None);
        assert_eq!(
            parse_stream("interview-", "interview-acme.nope"),
            Some(Err(InvalidStreamName))
        );
        // `default` is never spelled out, so each stream has one name.
        assert_eq!(
            parse_stream("interview-", &format!("interview-default.{id}")),
            Some(Err(InvalidStreamName))
        );
        assert_eq!(
            parse_stream("interview-", &format!("interview-Bad.{id}")),
            Some(Err(InvalidStreamName))
        );
    }
}

//! The authenticated caller, read from verified claims.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::error::AuthError;
use super::role::{Role, Roles};
use super::settings::ClaimNames;

/// The longest subject and display name kept, in characters.
pub const MAX_TEXT_CHARS: usize = 200;

/// Who made the request, as a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `sub`: 1 to 200 characters.
    pub subject: String,
    /// The display name, cut to 200 characters, if the token has one.
    pub name: Option<String>,
    /// The tenant slug: `^[a-z0-9][a-z0-9-]{0,62}$`.
    pub tenant: String,
    /// The person the token stands for, if any.
    pub person: Option<Uuid>,
    /// At least one known role.
    pub roles: Roles,
    /// `iss`.
    pub issuer: String,
    /// `exp`.
    pub expires_at: DateTime<Utc>,
}

/// Whether `s` is a tenant slug: `^[a-z0-9][a-z0-9-]{0,62}$`.
pub fn is_tenant_slug(s: &str) -> bool {
    let b = s.as_bytes();
    let lower_digit = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=63).contains(&b.len())
        && lower_digit(&b[0])
        && b[1..].iter().all(|c| lower_digit(c) || *c == b'-')
}

/// The first `MAX_TEXT_CHARS` characters of `s`.
pub(crate) fn truncate(s: &str) -> &str {
    match s.char_indices().nth(MAX_TEXT_CHARS) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

impl Principal {
    /// Reads a principal out of claims whose signature, `exp`, `nbf`, `iss` and `aud`
    /// were verified already.
    pub(crate) fn from_claims(
        claims: &Map<String, Value>,
        names: &ClaimNames,
    ) -> Result<Principal, AuthError> {
        let subject = match present(claims.get("sub")) {
            None => return Err(AuthError::MissingClaim("sub")),
            Some(Value::String(s)) if s.is_empty() => return Err(AuthError::MissingClaim("sub")),
            Some(Value::String(s)) if s.chars().count() <= MAX_TEXT_CHARS => s.clone(),
            Some(_) => return Err(AuthError::InvalidClaim("sub")),
        };
        let tenant = match present(names.tenant.find(claims)) {
            None => return Err(AuthError::MissingClaim("tenant")),
            Some(Value::String(s)) if is_tenant_slug(s) => s.clone(),
            Some(_) => return Err(AuthError::InvalidClaim("tenant")),
        };
        let roles = match present(names.roles.find(claims)) {
            None => return Err(AuthError::MissingClaim("roles")),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str()?.parse::<Role>().ok())
                .collect::<Roles>(),
            Some(Value::String(s)) => s
                .split_ascii_whitespace()
                .filter_map(|r| r.parse::<Role>().ok())
                .collect(),
            Some(_) => return Err(AuthError::InvalidClaim("roles")),
        };
        if roles.is_empty() {
            return Err(AuthError::MissingClaim("roles"));
        }
        let person = match present(names.person.find(claims)) {
            None => None,
            Some(Value::String(s)) => {
                Some(Uuid::parse_str(s).map_err(|_| AuthError::InvalidClaim("person"))?)
            }
            Some(_) => return Err(AuthError::InvalidClaim("person")),
        };
        let name = match names.name.find(claims) {
            Some(Value::String(s)) if !s.is_empty() => Some(truncate(s).to_owned()),
            _ => None,
        };
        let issuer = match claims.get("iss") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err(AuthError::InvalidClaim("iss")),
        };
        let exp = claims.get("exp").and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
        });
        let expires_at = exp
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .ok_or(AuthError::InvalidClaim("exp"))?;
        Ok(Principal {
            subject,
            name,
            tenant,
            person,
            roles,
            issuer,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_slugs_are_short_lowercase_words() {
        for ok in ["a", "acme", "acme-2", "0", &"a".repeat(63)] {
            assert!(is_tenant_slug(ok), "{ok}");
        }
        for bad in [
            "",
            "-acme",
            "Acme",
            "acme_2",
            "acmé",
            &"a".repeat(64),
            "a b",
        ] {
            assert!(!is_tenant_slug(bad), "{bad}");
        }
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        let long = "é".repeat(MAX_TEXT_CHARS + 5);
        assert_eq!(truncate(&long).chars().count(), MAX_TEXT_CHARS);
        assert_eq!(truncate("short"), "short");
    }

    #[test]
    fn claims_map_to_a_principal_and_bad_ones_to_their_error() {
        let base = serde_json::json!({
            "sub": "u1", "iss": "i", "exp": 2_000_000_000, "tenant": "acme",
            "roles": "candidate unknown", "person": "6f1c1a4e-0000-4000-8000-000000000001",
        });
        let names = ClaimNames::default();
        let claims = base.as_object().expect("object");
        let p = Principal::from_claims(claims, &names).expect("valid");
        assert_eq!(p.roles.iter().collect::<Vec<_>>(), [Role::Candidate]);
        assert!(p.person.is_some() && p.name.is_none());

        let cases: [(&str, Value, AuthError); 8] = [
            ("sub", Value::Null, AuthError::MissingClaim("sub")),
            (
                "sub",
                "x".repeat(201).into(),
                AuthError::InvalidClaim("sub"),
            ),
            ("tenant", Value::Null, AuthError::MissingClaim("tenant")),
            (
                "tenant",
                "Acme Corp".into(),
                AuthError::InvalidClaim("tenant"),
            ),
            (
                "roles",
                serde_json::json!([]),
                AuthError::MissingClaim("roles"),
            ),
            (
                "roles",
                serde_json::json!(["root"]),
                AuthError::MissingClaim("roles"),
            ),
            ("roles", 7.into(), AuthError::InvalidClaim("roles")),
            (
                "person",
                "not-a-uuid".into(),
                AuthError::InvalidClaim("person"),
            ),
        ];
        for (claim, value, expected) in cases {
            let mut c = claims.clone();
            c.insert(claim.to_owned(), value.clone());
            assert_eq!(
                Principal::from_claims(&c, &names),
                Err(expected),
                "{claim}={value}"
            );
        }
    }
}

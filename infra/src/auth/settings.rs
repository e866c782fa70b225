//! Authentication settings from the environment.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `AUTH_JWKS_URL` | unset | an identity provider's JWKS (`https://`, or `http://` to a loopback address) |
//! | `AUTH_JWKS_FILE` | unset | a JWKS JSON file, a single JWK, or a PEM public key |
//! | `AUTH_JWKS_FILE_ALG` | from the key | the algorithm of a PEM key (`RS256`, `ES384`, `EdDSA`, …) |
//! | `AUTH_JWKS_FILE_KID` | unset | the `kid` tokens signed with a PEM key carry (without it they must carry none) |
//! | `AUTH_HS256_SECRET` | unset | a shared HS256 secret, at least 32 bytes |
//! | `AUTH_ISSUER` | unset | accepted `iss` of external tokens, comma-separated; required with any source above |
//! | `AUTH_AUDIENCE` | unset | accepted `aud` of external tokens, comma-separated; required with any source above |
//! | `AUTH_LEEWAY_SECS` | `30` | clock skew allowed on `exp`/`nbf` (at most 300) |
//! | `AUTH_JWKS_MIN_REFRESH_SECS` | `10` | at most one JWKS fetch per this many seconds for unknown `kid`s (`0` lifts the limit: tests only) |
//! | `AUTH_JWKS_REFRESH_SECS` | `300` | the JWKS is fetched again in the background this often |
//! | `AUTH_JWKS_TIMEOUT_SECS` | `5` | timeout of one JWKS fetch |
//! | `AUTH_ROLES_CLAIM` | `roles` | where external tokens keep roles; a dotted path (`realm_access.roles`) works |
//! | `AUTH_TENANT_CLAIM` | `tenant` | where external tokens keep the tenant slug |
//! | `AUTH_PERSON_CLAIM` | `person` | where external tokens keep the person id |
//! | `AUTH_NAME_CLAIM` | `name` | where external tokens keep the display name |
//!
//! The built-in key (always on, see [`super::BuiltinKey`]) needs no setting, and its
//! tokens always use the default claim names.

use std::path::PathBuf;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use secrecy::{ExposeSecret, SecretString};

use crate::config::ConfigError;

/// Where a claim sits in the token: a top-level name, or a dotted path into nested
/// objects. A top-level claim whose name contains dots (`https://example.com/roles`)
/// is found too: the literal name is tried first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath {
    name: String,
}

impl ClaimPath {
    /// A claim path from its configured text.
    pub fn new(name: impl Into<String>) -> ClaimPath {
        ClaimPath { name: name.into() }
    }

    /// The configured text.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The value at this path, if any.
    pub fn find<'a>(
        &self,
        claims: &'a serde_json::Map<String, serde_json::Value>,
    ) -> Option<&'a serde_json::Value> {
        if let Some(v) = claims.get(&self.name) {
            return Some(v);
        }
        if !self.name.contains('.') {
            return None;
        }
        let mut segments = self.name.split('.');
        let mut value = claims.get(segments.next()?)?;
        for segment in segments {
            value = value.as_object()?.get(segment)?;
        }
        Some(value)
    }
}

/// The claim names of external tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    /// Roles: an array of names or a space-separated string.
    pub roles: ClaimPath,
    /// The tenant slug.
    pub tenant: ClaimPath,
    /// The person id (a UUID).
    pub person: ClaimPath,
    /// The display name.
    pub name: ClaimPath,
}

impl Default for ClaimNames {
    fn default() -> Self {
        ClaimNames {
            roles: ClaimPath::new("roles"),
            tenant: ClaimPath::new("tenant"),
            person: ClaimPath::new("person"),
            name: ClaimPath::new("name"),
        }
    }
}

/// Which keys to trust besides the built-in one, and how to check tokens.
/// `Default` configures nothing external.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `AUTH_JWKS_URL`.
    pub jwks_url: Option<String>,
    /// `AUTH_JWKS_FILE`.
    pub jwks_file: Option<PathBuf>,
    /// `AUTH_JWKS_FILE_ALG`.
    pub jwks_file_alg: Option<Algorithm>,
    /// `AUTH_JWKS_FILE_KID`.
    pub jwks_file_kid: Option<String>,
    /// `AUTH_HS256_SECRET`.
    pub hs256_secret: Option<SecretString>,
    /// `AUTH_ISSUER`.
    pub issuers: Vec<String>,
    /// `AUTH_AUDIENCE`.
    pub audiences: Vec<String>,
    /// `AUTH_LEEWAY_SECS`.
    pub leeway: Duration,
    /// `AUTH_JWKS_MIN_REFRESH_SECS`.
    pub jwks_min_refresh: Duration,
    /// `AUTH_JWKS_REFRESH_SECS`.
    pub jwks_refresh: Duration,
    /// `AUTH_JWKS_TIMEOUT_SECS`.
    pub jwks_timeout: Duration,
    /// `AUTH_*_CLAIM`.
    pub claims: ClaimNames,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            jwks_url: None,
            jwks_file: None,
            jwks_file_alg: None,
            jwks_file_kid: None,
            hs256_secret: None,
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway: Duration::from_secs(30),
            jwks_min_refresh: Duration::from_secs(10),
            jwks_refresh: Duration::from_secs(300),
            jwks_timeout: Duration::from_secs(5),
            claims: ClaimNames::default(),
        }
    }
}

/// The largest accepted leeway.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// The shortest accepted HS256 shared secret, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

fn invalid(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        variable,
        message: message.into(),
    }
}

impl AuthSettings {
    /// Reads the `AUTH_*` variables (see the module doc) and checks them.
    pub fn from_env() -> Result<AuthSettings, ConfigError> {
        AuthSettings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`AuthSettings::from_env`], reading variables through `lookup`.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<AuthSettings, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let secs = |name: &'static str, default: Duration| -> Result<Duration, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u64>()
                    .map(Duration::from_secs)
                    .map_err(|_| invalid(name, format!("{v:?} is not a number of seconds"))),
            }
        };
        let list = |name: &str| -> Vec<String> {
            get(name)
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let defaults = AuthSettings::default();
        let jwks_file_alg = match get("AUTH_JWKS_FILE_ALG") {
            None => None,
            Some(v) => Some(v.parse::<Algorithm>().map_err(|_| {
                invalid(
                    "AUTH_JWKS_FILE_ALG",
                    format!("{v:?} is not a JWS algorithm"),
                )
            })?),
        };
        let claim =
            |name: &str, default: ClaimPath| get(name).map(ClaimPath::new).unwrap_or(default);
        let settings = AuthSettings {
            jwks_url: get("AUTH_JWKS_URL"),
            jwks_file: get("AUTH_JWKS_FILE").map(PathBuf::from),
            jwks_file_alg,
            jwks_file_kid: get("AUTH_JWKS_FILE_KID"),
            // The secret is taken as is, untrimmed: whitespace may be part of it.
            hs256_secret: lookup("AUTH_HS256_SECRET")
                .filter(|v| !v.is_empty())
                .map(SecretString::from),
            issuers: list("AUTH_ISSUER"),
            audiences: list("AUTH_AUDIENCE"),
            leeway: secs("AUTH_LEEWAY_SECS", defaults.leeway)?,
            jwks_min_refresh: secs("AUTH_JWKS_MIN_REFRESH_SECS", defaults.jwks_min_refresh)?,
            jwks_refresh: secs("AUTH_JWKS_REFRESH_SECS", defaults.jwks_refresh)?,
            jwks_timeout: secs("AUTH_JWKS_TIMEOUT_SECS", defaults.jwks_timeout)?,
            claims: ClaimNames {
                roles: claim("AUTH_ROLES_CLAIM", defaults.claims.roles),
                tenant: claim("AUTH_TENANT_CLAIM", defaults.claims.tenant),
                person: claim("AUTH_PERSON_CLAIM", defaults.claims.person),
                name: claim("AUTH_NAME_CLAIM", defaults.claims.name),
            },
        };
        settings.check()?;
        Ok(settings)
    }

    /// Whether any source besides the built-in key is configured.
    pub fn has_external_source(&self) -> bool {
        self.jwks_url.is_some() || self.jwks_file.is_some() || self.hs256_secret.is_some()
    }

    /// Checks the settings hang together: an external source needs an issuer and an
    /// audience (a token is only as trustworthy as the check of who it is for), the
    /// shared secret is long enough, the JWKS URL is `https` (or loopback `http`).
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.leeway > MAX_LEEWAY {
            return Err(invalid("AUTH_LEEWAY_SECS", "at most 300"));
        }
        if self.jwks_refresh.is_zero() {
            return Err(invalid("AUTH_JWKS_REFRESH_SECS", "must be positive"));
        }
        if self.jwks_timeout.is_zero() {
            return Err(invalid("AUTH_JWKS_TIMEOUT_SECS", "must be positive"));
        }
        if let Some(secret) = &self.hs256_secret
            && secret.expose_secret().len() < MIN_SECRET_LEN
        {
            return Err(invalid("AUTH_HS256_SECRET", "must be at least 32 bytes"));
        }
        if let Some(url) = &self.jwks_url {
            let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
                .iter()
                .any(|p| {
                    url.strip_prefix(p)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
                });
            if !url.starts_with("https://") && !loopback {
                return Err(invalid(
                    "AUTH_JWKS_URL",
                    "must be an https:// URL (http:// only to a loopback address)",
                ));
            }
        }
        if self.has_external_source() {
            if self.issuers.is_empty() {
                return Err(invalid(
                    "AUTH_ISSUER",
                    "required when AUTH_JWKS_URL, AUTH_JWKS_FILE or AUTH_HS256_SECRET is set",
                ));
            }
            if self.audiences.is_empty() {
                return Err(invalid(
                    "AUTH_AUDIENCE",
                    "required when AUTH_JWKS_URL, AUTH_JWKS_FILE or AUTH_HS256_SECRET is set",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<AuthSettings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AuthSettings::from_lookup(|k| vars.get(k).cloned())
    }

    #[test]
    fn nothing_set_means_the_built_in_key_only() {
        let s = from(&[]).expect("valid");
        assert!(!s.has_external_source());
        assert_eq!(s.leeway, Duration::from_secs(30));
        assert_eq!(s.jwks_min_refresh, Duration::from_secs(10));
        assert_eq!(s.claims, ClaimNames::default());
    }

    #[test]
    fn an_external_source_needs_issuer_and_audience() {
        let url = ("AUTH_JWKS_URL", "https://idp.example/jwks");
        let err = from(&[url]).expect_err("no issuer");
        assert!(err.to_string().contains("AUTH_ISSUER"), "{err}");
        let err = from(&[url, ("AUTH_ISSUER", "https://idp.example")]).expect_err("no audience");
        assert!(err.to_string().contains("AUTH_AUDIENCE"), "{err}");
        let s = from(&[
            url,
            ("AUTH_ISSUER", "https://idp.example"),
            ("AUTH_AUDIENCE", "a, b"),
        ])
        .expect("valid");
        assert_eq!(s.audiences, ["a", "b"]);
    }

    #[test]
    fn bad_values_name_their_variable_and_never_echo_the_secret() {
        let base = [("AUTH_ISSUER", "i"), ("AUTH_AUDIENCE", "a")];
        for (var, value) in [
            ("AUTH_HS256_SECRET", "short-secret-value"),
            ("AUTH_LEEWAY_SECS", "301"),
            ("AUTH_LEEWAY_SECS", "soon"),
            ("AUTH_JWKS_URL", "http://idp.example/jwks"),
            ("AUTH_JWKS_FILE_ALG", "none"),
        ] {
            let mut vars = base.to_vec();
            vars.push((var, value));
            let err = from(&vars).expect_err(var).to_string();
            assert!(err.contains(var), "{err}");
            assert!(!err.contains("short-secret-value"), "{err}");
        }
        let s = from(&[
            ("AUTH_HS256_SECRET", "0123456789abcdef0123456789abcdef"),
            base[0],
            base[1],
        ])
        .expect("valid");
        assert!(!format!("{s:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn a_dotted_claim_path_reaches_into_objects() {
        let claims = serde_json::json!({
            "realm_access": { "roles": ["admin"] },
            "https://example.com/roles": "service",
        });
        let claims = claims.as_object().expect("object");
        let nested = ClaimPath::new("realm_access.roles");
        assert_eq!(nested.find(claims), Some(&serde_json::json!(["admin"])));
        let literal = ClaimPath::new("https://example.com/roles");
        assert_eq!(literal.find(claims), Some(&serde_json::json!("service")));
        assert_eq!(ClaimPath::new("realm_access.nope").find(claims), None);
    }
}

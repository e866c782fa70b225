//! Verification keys with the checks that go with each, and reading them from JWKS
//! documents and PEM files.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde_json::Value;

/// A key and the `Validation` built for it once: the algorithms the *key* allows
/// (never the token's say-so), the issuers, audiences and leeway of its source.
pub(crate) struct KeyEntry {
    pub key: DecodingKey,
    pub validation: Validation,
}

impl fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyEntry")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

/// What tokens of one source must say besides their signature.
#[derive(Debug, Clone)]
pub(crate) struct Expectations {
    pub issuers: Vec<String>,
    pub audiences: Vec<String>,
    pub leeway: Duration,
}

impl Expectations {
    pub fn validation(&self, algorithms: Vec<Algorithm>) -> Validation {
        let mut v = Validation::new(algorithms.first().copied().unwrap_or(Algorithm::RS256));
        v.algorithms = algorithms;
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v.set_issuer(&self.issuers);
        v.set_audience(&self.audiences);
        v.validate_nbf = true;
        v.leeway = self.leeway.as_secs();
        v
    }

    pub fn entry(&self, key: DecodingKey, algorithms: Vec<Algorithm>) -> Arc<KeyEntry> {
        Arc::new(KeyEntry {
            key,
            validation: self.validation(algorithms),
        })
    }
}

/// Keys by `kid`, plus keys without one (a PEM key).
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    pub by_kid: HashMap<String, Arc<KeyEntry>>,
    pub unnamed: Vec<Arc<KeyEntry>>,
}

impl KeySet {
    pub fn insert(&mut self, kid: Option<String>, entry: Arc<KeyEntry>) {
        match kid {
            Some(kid) => {
                self.by_kid.insert(kid, entry);
            }
            None => self.unnamed.push(entry),
        }
    }

    pub fn len(&self) -> usize {
        self.by_kid.len() + self.unnamed.len()
    }
}

/// The algorithms a JWK may verify: its `alg` if it has one (and it fits the key
/// type), else what its type and curve allow. `None` for keys we do not take:
/// symmetric keys (a published JWKS is no place for a secret), encryption keys,
/// unsupported curves, mismatched `alg`.
fn jwk_algorithms(jwk: &Jwk) -> Option<Vec<Algorithm>> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let by_type: &[Algorithm] = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa.algorithms(),
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => &[Algorithm::ES256],
            EllipticCurve::P384 => &[Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(p) => match p.curve {
            EllipticCurve::Ed25519 => &[Algorithm::EdDSA],
            _ => return None,
        },
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(by_type.to_vec()),
        Some(declared) => {
            let alg = Algorithm::try_from(declared).ok()?;
            by_type.contains(&alg).then(|| vec![alg])
        }
    }
}

/// Reads a JWKS document (`{"keys": [...]}`) or a single JWK. Keys that cannot be
/// used are skipped with a warning; a document that is not JSON is an error.
pub(crate) fn parse_jwks(bytes: &[u8], expect: &Expectations) -> Result<KeySet, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let keys = match doc.get("keys") {
        Some(Value::Array(keys)) => keys.clone(),
        Some(_) => return Err("`keys` is not an array".to_owned()),
        None if doc.get("kty").is_some() => vec![doc],
        None => return Err("neither a JWKS nor a JWK".to_owned()),
    };
    let mut set = KeySet::default();
    for value in keys {
        let kid = value.get("kid").and_then(Value::as_str).map(str::to_owned);
        let usable = serde_json::from_value::<Jwk>(value).ok().and_then(|jwk| {
            let algorithms = jwk_algorithms(&jwk)?;
            let key = DecodingKey::from_jwk(&jwk).ok()?;
            Some(expect.entry(key, algorithms))
        });
        match usable {
            Some(entry) => set.insert(kid, entry),
            None => tracing::warn!(kid = ?kid, "skipped a JWK that cannot verify signatures"),
        }
    }
    Ok(set)
}

/// Reads a PEM public key (RSA, EC P-256/P-384, Ed25519). The algorithm follows from
/// the key; `alg` narrows it and must fit the key type.
pub(crate) fn parse_pem(
    bytes: &[u8],
    alg: Option<Algorithm>,
    kid: Option<String>,
    expect: &Expectations,
) -> Result<KeySet, String> {
    let (key, by_type): (DecodingKey, Vec<Algorithm>) =
        if let Ok(k) = DecodingKey::from_rsa_pem(bytes) {
            (k, AlgorithmFamily::Rsa.algorithms().to_vec())
        } else if let Ok(k) = DecodingKey::from_ec_pem(bytes) {
            // The key is an uncompressed point: 0x04 || x || y.
            let curve = match k.try_get_as_bytes().map(<[u8]>::len) {
                Ok(65) => Algorithm::ES256,
                Ok(97) => Algorithm::ES384,
                _ => return Err("unsupported EC curve (P-256 and P-384 are)".to_owned()),
            };
            (k, vec![curve])
        } else if let Ok(k) = DecodingKey::from_ed_pem(bytes) {
            (k, vec![Algorithm::EdDSA])
        } else {
            return Err("not a PEM RSA, EC or Ed25519 public key".to_owned());
        };
    let algorithms = match alg {
        None => by_type,
        Some(alg) if by_type.contains(&alg) => vec![alg],
        Some(alg) => {
            return Err(format!(
                "AUTH_JWKS_FILE_ALG {alg:?} does not fit the key type"
            ));
        }
    };
    let mut set = KeySet::default();
    set.insert(kid, expect.entry(key, algorithms));
    Ok(set)
}

/// Reads a key file: JSON means a JWKS or JWK, anything else a PEM key.
pub(crate) fn parse_key_file(
    bytes: &[u8],
    alg: Option<Algorithm>,
    kid: Option<String>,
    expect: &Expectations,
) -> Result<KeySet, String> {
    if bytes.trim_ascii_start().starts_with(b"{") {
        parse_jwks(bytes, expect)
    } else {
        parse_pem(bytes, alg, kid, expect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect() -> Expectations {
        Expectations {
            issuers: vec!["i".into()],
            audiences: vec!["a".into()],
            leeway: Duration::from_secs(30),
        }
    }

    #[test]
    fn symmetric_encryption_and_mislabelled_keys_are_skipped() {
        let doc = serde_json::json!({ "keys": [
            { "kty": "oct", "kid": "secret", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0" },
            { "kty": "EC", "kid": "enc", "use": "enc", "crv": "P-256",
              "x": "MoZ6kwrjSx0L5vfUfxykHZzwNLszfsg8D8VhN8nE44o", "y": "Mad0Ru6xx7xp-oJ7Jtd7NrW2MgBmdrsyOHZgMzY47kY" },
            { "kty": "EC", "kid": "hs", "alg": "HS256", "crv": "P-256",
              "x": "MoZ6kwrjSx0L5vfUfxykHZzwNLszfsg8D8VhN8nE44o", "y": "Mad0Ru6xx7xp-oJ7Jtd7NrW2MgBmdrsyOHZgMzY47kY" },
            { "kty": "EC", "kid": "ok", "crv": "P-256",
              "x": "MoZ6kwrjSx0L5vfUfxykHZzwNLszfsg8D8VhN8nE44o", "y": "Mad0Ru6xx7xp-oJ7Jtd7NrW2MgBmdrsyOHZgMzY47kY" },
            { "kty": "weird", "kid": "w" },
        ]});
        let set = parse_jwks(doc.to_string().as_bytes(), &expect()).expect("parses");
        assert_eq!(set.by_kid.keys().collect::<Vec<_>>(), ["ok"]);
        assert_eq!(set.by_kid["ok"].validation.algorithms, [Algorithm::ES256]);
    }

    #[test]
    fn not_json_is_an_error_not_an_empty_set() {
        assert!(parse_jwks(b"<html>", &expect()).is_err());
        assert!(parse_key_file(b"-----BEGIN NOTHING-----", None, None, &expect()).is_err());
    }
}

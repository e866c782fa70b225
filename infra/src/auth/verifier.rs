//! Checks bearer tokens against every configured source of trust.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Map, Value};
use sqlx::PgPool;
use tokio::task::AbortHandle;

use super::builtin::{BUILTIN_AUDIENCE, BUILTIN_ISSUER, BUILTIN_KID_PREFIX, BuiltinKey};
use super::error::{AuthError, MAX_TOKEN_LEN};
use super::jwks::{RefreshGate, RemoteJwks};
use super::keys::{Expectations, KeyEntry, KeySet, parse_key_file};
use super::principal::Principal;
use super::settings::{AuthSettings, ClaimNames};

/// How often an unknown `il-` kid may send us to the database for new built-in keys.
const BUILTIN_MIN_RELOAD: std::time::Duration = std::time::Duration::from_secs(1);

/// Verifies bearer tokens. Cheap to clone (one `Arc`), `Send + Sync`.
///
/// Routing is by the token's `kid`: `il-…` goes to the built-in keys only; otherwise an
/// HMAC token goes to `AUTH_HS256_SECRET` when set; otherwise the key with that `kid`
/// in `AUTH_JWKS_FILE` or `AUTH_JWKS_URL`, or for a token without a `kid` a key
/// without one (a PEM key). The chosen *key* decides the accepted algorithms.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    builtin: BuiltinKey,
    builtin_keys: RwLock<Arc<HashMap<String, Arc<KeyEntry>>>>,
    builtin_expect: Expectations,
    builtin_gate: RefreshGate,
    pool: PgPool,
    shared: Option<Arc<KeyEntry>>,
    file: KeySet,
    remote: Option<Arc<RemoteJwks>>,
    claims: ClaimNames,
    builtin_claims: ClaimNames,
    refresher: Option<AbortHandle>,
    /// Tokens verified lately, by their exact text (see [`Verifier::verify`]).
    verified: moka::sync::Cache<String, Arc<Verified>, foldhash::fast::RandomState>,
}

/// A token that passed verification: who it stands for, and the key that said so.
struct Verified {
    alg: Algorithm,
    kid: Option<String>,
    /// The key entry it was checked with; a hit counts only while the same entry is
    /// still the one its `kid` resolves to (a rotation or reload makes a new one).
    entry: Arc<KeyEntry>,
    principal: Arc<Principal>,
}

/// Tokens remembered as verified (a few MiB at most), and for how long at most.
const VERIFIED_CAPACITY: u64 = 10_000;
const VERIFIED_TTL: std::time::Duration = std::time::Duration::from_secs(300);

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = &self.refresher {
            task.abort();
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("builtin_kid", &self.inner.builtin.kid())
            .field("hs256_secret", &self.inner.shared.is_some())
            .field("file_keys", &self.inner.file.len())
            .field("jwks_url", &self.inner.remote.is_some())
            .finish()
    }
}

#[derive(Deserialize)]
struct PeekHeader<'a> {
    #[serde(borrow, default)]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
}

/// The header's `alg` and `kid`, read before any key is chosen. `none` and unknown
/// algorithms stop here.
fn peek_header(token: &str) -> Result<(Algorithm, Option<String>), AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed);
    };
    let json = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::Malformed)?;
    let header: PeekHeader<'_> = serde_json::from_slice(&json).map_err(|_| AuthError::Malformed)?;
    let alg = header.alg.ok_or(AuthError::Malformed)?;
    let alg = alg
        .parse::<Algorithm>()
        .map_err(|_| AuthError::UnsupportedAlgorithm)?;
    Ok((alg, header.kid.map(Cow::into_owned)))
}

fn static_claim(name: &str) -> &'static str {
    match name {
        "exp" => "exp",
        "nbf" => "nbf",
        "iss" => "iss",
        "aud" => "aud",
        "sub" => "sub",
        _ => "claim",
    }
}

fn from_jwt(e: jsonwebtoken::errors::Error) -> AuthError {
    match e.kind() {
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => AuthError::BadSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::InvalidAlgorithm => AuthError::AlgorithmMismatch,
        ErrorKind::UnsupportedAlgorithm | ErrorKind::InvalidAlgorithmName => {
            AuthError::UnsupportedAlgorithm
        }
        ErrorKind::MissingRequiredClaim(c) => AuthError::MissingClaim(static_claim(c)),
        ErrorKind::InvalidClaimFormat(c) => AuthError::InvalidClaim(static_claim(c)),
        _ => AuthError::Malformed,
    }
}

impl Inner {
    fn builtin_key(&self, kid: &str) -> Option<Arc<KeyEntry>> {
        self.builtin_keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(kid)
            .cloned()
    }

    async fn reload_builtin(&self) -> Result<(), AuthError> {
        let keys = BuiltinKey::load_all(&self.pool).await?;
        let map = keys
            .iter()
            .map(|k| {
                let entry = self
                    .builtin_expect
                    .entry(k.decoding_key().clone(), vec![Algorithm::HS256]);
                (k.kid().to_owned(), entry)
            })
            .collect();
        *self
            .builtin_keys
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(map);
        Ok(())
    }

    async fn key_for(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<(Arc<KeyEntry>, &ClaimNames), AuthError> {
        if let Some(kid) = kid.filter(|k| k.starts_with(BUILTIN_KID_PREFIX)) {
            let found = self
                .builtin_gate
                .find_or_refresh(|| self.builtin_key(kid), || self.reload_builtin())
                .await?;
            return found
                .map(|e| (e, &self.builtin_claims))
                .ok_or(AuthError::UnknownKey);
        }
        let names = &self.claims;
        if alg.family() == AlgorithmFamily::Hmac
            && let Some(shared) = &self.shared
        {
            return Ok((shared.clone(), names));
        }
        let Some(kid) = kid else {
            // No kid: a key without one (a PEM key), preferring one that allows `alg`;
            // a misfit is then refused as an algorithm mismatch.
            let remote = self.remote.as_ref().map(|r| r.current());
            let mut candidates = self
                .file
                .unnamed
                .iter()
                .chain(remote.iter().flat_map(|set| set.unnamed.iter()));
            let first = candidates.clone().next();
            return candidates
                .find(|e| e.validation.algorithms.contains(&alg))
                .or(first)
                .map(|e| (e.clone(), names))
                .ok_or(AuthError::UnknownKey);
        };
        if let Some(entry) = self.file.by_kid.get(kid) {
            return Ok((entry.clone(), names));
        }
        let Some(remote) = &self.remote else {
            return Err(AuthError::UnknownKey);
        };
        match remote
            .gate
            .find_or_refresh(|| remote.get(kid), || remote.refresh())
            .await?
        {
            Some(entry) => Ok((entry, names)),
            None if remote.loaded() => Err(AuthError::UnknownKey),
            None => Err(AuthError::KeySource(
                "the JWKS has not been loaded yet".to_owned(),
            )),
        }
    }
}

impl Verifier {
    /// Sets up the built-in key (creating it on first start) and the configured
    /// sources. A JWKS URL that cannot be fetched now is logged and tried again when a
    /// token needs it; an unreadable key file or bad settings are errors.
    ///
    /// `pool` must reach a database migrated with [`crate::auth::MIGRATOR`].
    #[tracing::instrument(name = "auth.verifier_new", skip_all, err)]
    pub async fn new(settings: AuthSettings, pool: PgPool) -> Result<Verifier, AuthError> {
        settings
            .check()
            .map_err(|e| AuthError::Settings(e.to_string()))?;
        let builtin = BuiltinKey::load_or_create(&pool).await?;
        let builtin_expect = Expectations {
            issuers: vec![BUILTIN_ISSUER.to_owned()],
            audiences: vec![BUILTIN_AUDIENCE.to_owned()],
            leeway: settings.leeway,
        };
        let external = Expectations {
            issuers: settings.issuers.clone(),
            audiences: settings.audiences.clone(),
            leeway: settings.leeway,
        };
        let shared = match &settings.hs256_secret {
            None => None,
            Some(secret) => {
                let key = DecodingKey::from_secret(secret.expose_secret().as_bytes())
                    .map_err(|_| AuthError::Settings("AUTH_HS256_SECRET is unusable".into()))?;
                Some(external.entry(key, vec![Algorithm::HS256]))
            }
        };
        let file = match &settings.jwks_file {
            None => KeySet::default(),
            Some(path) => {
                let bytes = tokio::fs::read(path).await.map_err(|e| {
                    AuthError::KeySource(format!("AUTH_JWKS_FILE {}: {e}", path.display()))
                })?;
                let set = parse_key_file(
                    &bytes,
                    settings.jwks_file_alg,
                    settings.jwks_file_kid.clone(),
                    &external,
                )
                .map_err(|e| {
                    AuthError::Settings(format!("AUTH_JWKS_FILE {}: {e}", path.display()))
                })?;
                if set.len() == 0 {
                    return Err(AuthError::Settings(format!(
                        "AUTH_JWKS_FILE {}: no usable key",
                        path.display()
                    )));
                }
                set
            }
        };
        let remote = match &settings.jwks_url {
            None => None,
            Some(url) => {
                let remote = Arc::new(RemoteJwks::new(
                    url,
                    settings.jwks_timeout,
                    settings.jwks_min_refresh,
                    external.clone(),
                )?);
                if let Err(e) = remote.refresh().await {
                    tracing::warn!(error = %e, "JWKS not loaded at start; will retry when a token needs it");
                }
                Some(remote)
            }
        };
        let refresher = remote
            .as_ref()
            .map(|r| r.spawn_refresher(settings.jwks_refresh));
        let inner = Inner {
            builtin,
            builtin_keys: RwLock::new(Arc::new(HashMap::new())),
            builtin_expect,
            builtin_gate: RefreshGate::new(BUILTIN_MIN_RELOAD),
            pool,
            shared,
            file,
            remote,
            claims: settings.claims,
            builtin_claims: ClaimNames::default(),
            refresher,
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_CAPACITY)
                .time_to_live(VERIFIED_TTL)
                // A randomly seeded fast hash: the keys are whole tokens (hundreds of
                // bytes), hashed on every request; only verified tokens are ever stored.
                .build_with_hasher(foldhash::fast::RandomState::default()),
        };
        inner.reload_builtin().await?;
        tracing::info!(
            builtin_kid = %inner.builtin.kid(),
            hs256_secret = inner.shared.is_some(),
            file_keys = inner.file.len(),
            jwks_url = inner.remote.is_some(),
            "token verification ready"
        );
        Ok(Verifier {
            inner: Arc::new(inner),
        })
    }

    /// Verifies a bearer token and returns who it stands for.
    ///
    /// A token verified lately is remembered by its exact text, so a client sending the
    /// same token again costs a lookup, not a signature check (the signature is most of
    /// the cost of a request served from the query caches). A remembered token still
    /// counts only while its `kid` resolves to the very key entry that verified it (a
    /// JWKS rotation or a reload of the built-in keys makes new entries, so it is checked
    /// afresh and refused if its key is gone) and while `exp` (with the leeway) holds.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        self.verify_shared(token).await.map(|p| (*p).clone())
    }

    /// [`Verifier::verify`], answering the remembered principal itself (no copy of its
    /// strings): what the APIs call on every request.
    pub async fn verify_shared(&self, token: &str) -> Result<Arc<Principal>, AuthError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::TooLarge);
        }
        if let Some(known) = self.inner.verified.get(token) {
            if let Ok((entry, _)) = self.inner.key_for(known.alg, known.kid.as_deref()).await
                && Arc::ptr_eq(&entry, &known.entry)
                && still_valid(&known.principal, entry.validation.leeway)
            {
                return Ok(known.principal.clone());
            }
            self.inner.verified.invalidate(token);
        }
        let (alg, kid) = peek_header(token)?;
        let (entry, names) = self.inner.key_for(alg, kid.as_deref()).await?;
        if !entry.validation.algorithms.contains(&alg) {
            return Err(AuthError::AlgorithmMismatch);
        }
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &entry.key, &entry.validation)
            .map_err(from_jwt)?;
        let principal = Arc::new(Principal::from_claims(&data.claims, names)?);
        self.inner.verified.insert(
            token.to_owned(),
            Arc::new(Verified {
                alg,
                kid,
                entry,
                principal: principal.clone(),
            }),
        );
        Ok(principal)
    }

    /// The built-in key, to mint tokens with.
    pub fn builtin(&self) -> &BuiltinKey {
        &self.inner.builtin
    }
}

/// Whether a remembered principal's `exp` still holds, as `jsonwebtoken` judges it:
/// expired once `exp` is more than `leeway` seconds in the past.
fn still_valid(principal: &Principal, leeway: u64) -> bool {
    // The settings cap the leeway at 300 s; the cap here only keeps the sum in range.
    let leeway = chrono::Duration::seconds(i64::try_from(leeway.min(3_600)).unwrap_or(3_600));
    chrono::Utc::now() <= principal.expires_at + leeway
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verifier_can_be_shared_between_tasks() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        shareable::<Verifier>();
    }

    #[test]
    fn the_header_is_read_without_trusting_it() {
        let header = |json: &str| format!("{}.e30.sig", URL_SAFE_NO_PAD.encode(json));
        assert_eq!(
            peek_header(&header(r#"{"alg":"RS256","kid":"k\u0031"}"#)),
            Ok((Algorithm::RS256, Some("k1".to_owned())))
        );
        for (json, expected) in [
            (r#"{"alg":"none"}"#, AuthError::UnsupportedAlgorithm),
            (r#"{"alg":"NONE"}"#, AuthError::UnsupportedAlgorithm),
            (r#"{"kid":"k"}"#, AuthError::Malformed),
            (r#"{"alg":"HS256","kid":7}"#, AuthError::Malformed),
            ("not json", AuthError::Malformed),
        ] {
            assert_eq!(peek_header(&header(json)), Err(expected), "{json}");
        }
        assert_eq!(peek_header("a.b"), Err(AuthError::Malformed));
        assert_eq!(peek_header("a.b.c.d"), Err(AuthError::Malformed));
    }
}

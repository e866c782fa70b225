//! The built-in signing key: an HS256 secret kept in `auth_signing_keys`, shared by
//! every process of the deployment.

use std::fmt;
use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::zeroize::Zeroize;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::error::AuthError;
use super::principal::{MAX_TEXT_CHARS, is_tenant_slug, truncate};
use super::role::{Role, Roles};

/// `iss` and `aud` of built-in tokens.
pub const BUILTIN_ISSUER: &str = "interview-ledger";
/// `aud` of built-in tokens.
pub const BUILTIN_AUDIENCE: &str = "interview-ledger";
/// Every built-in key's `kid` starts with this; tokens so marked are checked against
/// the built-in keys only.
pub const BUILTIN_KID_PREFIX: &str = "il-";
/// The length of a new secret, in bytes.
const SECRET_LEN: usize = 32;
/// The longest lifetime a minted token may have.
pub const MAX_TTL: Duration = Duration::from_secs(366 * 24 * 3600);
/// Serialises key creation between processes (any constant unique to this use).
const CREATE_LOCK: i64 = 0x696c_6175_7468_0001;

/// What a minted token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The tenant slug.
    pub tenant: String,
    /// At least one role.
    pub roles: Vec<Role>,
    /// `sub`: 1 to 200 characters.
    pub subject: String,
    /// The person the token stands for.
    pub person: Option<Uuid>,
    /// A display name (cut to 200 characters).
    pub name: Option<String>,
    /// The lifetime: 1 s to 366 days.
    pub ttl: Duration,
}

/// The built-in key, kept in the database (never printed, never logged).
#[derive(Clone)]
pub struct BuiltinKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl fmt::Debug for BuiltinKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuiltinKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct MintedClaims<'a> {
    iss: &'static str,
    aud: &'static str,
    sub: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    tenant: &'a str,
    roles: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    person: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

fn db_error(e: sqlx::Error) -> AuthError {
    AuthError::KeySource(format!("auth_signing_keys: {e}"))
}

impl BuiltinKey {
    fn from_secret(kid: String, mut secret: Vec<u8>) -> Result<BuiltinKey, AuthError> {
        let keys = EncodingKey::from_secret(&secret)
            .and_then(|enc| DecodingKey::from_secret(&secret).map(|dec| (enc, dec)));
        secret.zeroize();
        let (encoding, decoding) =
            keys.map_err(|_| AuthError::KeySource(format!("built-in key {kid} is unusable")))?;
        Ok(BuiltinKey {
            kid,
            encoding,
            decoding,
        })
    }

    /// The newest unretired built-in key, created first if there is none. Safe when
    /// several processes start at once: creation is serialised by an advisory lock, so
    /// they all end up with the same key.
    #[tracing::instrument(name = "auth.builtin_key", skip_all, err)]
    pub async fn load_or_create(pool: &PgPool) -> Result<BuiltinKey, AuthError> {
        let mut tx = pool.begin().await.map_err(db_error)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CREATE_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let existing: Option<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT kid, secret FROM auth_signing_keys
             WHERE alg = 'HS256' AND retired_at IS NULL
             ORDER BY created_at DESC, kid DESC LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let (kid, secret) = match existing {
            Some(row) => row,
            None => {
                let kid = format!("{BUILTIN_KID_PREFIX}{}", Uuid::now_v7().simple());
                let mut secret = vec![0u8; SECRET_LEN];
                OsRng
                    .try_fill_bytes(&mut secret)
                    .map_err(|e| AuthError::KeySource(format!("OS random generator: {e}")))?;
                sqlx::query(
                    "INSERT INTO auth_signing_keys (kid, alg, secret) VALUES ($1, 'HS256', $2)",
                )
                .bind(&kid)
                .bind(&secret)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                tracing::info!(kid = %kid, "created the built-in signing key");
                (kid, secret)
            }
        };
        tx.commit().await.map_err(db_error)?;
        BuiltinKey::from_secret(kid, secret)
    }

    /// Every unretired built-in key (other processes may sign with a newer one).
    pub(crate) async fn load_all(pool: &PgPool) -> Result<Vec<BuiltinKey>, AuthError> {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT kid, secret FROM auth_signing_keys WHERE alg = 'HS256' AND retired_at IS NULL",
        )
        .fetch_all(pool)
        .await
        .map_err(db_error)?;
        rows.into_iter()
            .map(|(kid, secret)| BuiltinKey::from_secret(kid, secret))
            .collect()
    }

    /// The key's id (`il-…`): public, safe to log.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// Signs a token for `request`, checked as a verifier would check it.
    pub fn mint(&self, request: &TokenRequest) -> Result<String, AuthError> {
        let subject_chars = request.subject.chars().count();
        if subject_chars == 0 || subject_chars > MAX_TEXT_CHARS {
            return Err(AuthError::InvalidClaim("sub"));
        }
        if !is_tenant_slug(&request.tenant) {
            return Err(AuthError::InvalidClaim("tenant"));
        }
        let roles: Roles = request.roles.iter().copied().collect();
        if roles.is_empty() {
            return Err(AuthError::MissingClaim("roles"));
        }
        if request.ttl < Duration::from_secs(1) || request.ttl > MAX_TTL {
            return Err(AuthError::InvalidClaim("exp"));
        }
        let now = Utc::now().timestamp();
        let claims = MintedClaims {
            iss: BUILTIN_ISSUER,
            aud: BUILTIN_AUDIENCE,
            sub: &request.subject,
            iat: now,
            nbf: now,
            exp: now.saturating_add_unsigned(request.ttl.as_secs()),
            tenant: &request.tenant,
            roles: roles.iter().map(Role::as_str).collect(),
            person: request.person,
            name: request
                .name
                .as_deref()
                .filter(|n| !n.is_empty())
                .map(truncate),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| AuthError::Signing(e.to_string()))
    }
}

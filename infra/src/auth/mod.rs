//! Authentication: bearer JWTs verified against a built-in key and optional external
//! sources of trust (a JWKS URL, a JWKS or PEM file, an HS256 shared secret), yielding a
//! typed [`Principal`] or a typed refusal ([`AuthError`]).
//!
//! The built-in key is an HS256 secret in the `auth_signing_keys` table, made on first
//! start and shared by every process; [`BuiltinKey::mint`] issues tokens with it. The
//! settings, their environment variables and defaults are in [`settings`].
//!
//! ```no_run
//! # async fn demo(pool: sqlx::PgPool, header: Option<&str>) -> Result<(), infra::auth::AuthError> {
//! use infra::auth::{AuthSettings, Verifier, bearer_token};
//! let verifier = Verifier::new(AuthSettings::default(), pool).await?;
//! let principal = verifier.verify(bearer_token(header)?).await?;
//! # let _ = principal; Ok(()) }
//! ```

#![warn(missing_docs)]

mod builtin;
mod error;
mod jwks;
mod keys;
mod principal;
mod role;
pub mod settings;
mod verifier;

pub use builtin::{
    BUILTIN_AUDIENCE, BUILTIN_ISSUER, BUILTIN_KID_PREFIX, BuiltinKey, MAX_TTL, TokenRequest,
};
pub use error::{AuthError, MAX_TOKEN_LEN, bearer_token};
pub use jsonwebtoken::Algorithm;
pub use principal::{MAX_TEXT_CHARS, Principal, is_tenant_slug};
pub use role::{Role, Roles, UnknownRole};
pub use settings::{AuthSettings, ClaimNames, ClaimPath};
pub use verifier::Verifier;

/// The built-in key's table. Every part that verifies tokens runs it, whichever event
/// store is configured (the event store's own migrations run only for PostgreSQL).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate::Migrator {
    // Several crates migrate one database; each ignores the others' entries.
    ignore_missing: true,
    ..sqlx::migrate!("./auth_migrations")
};

/// Creates the built-in key's table if it is not there.
pub async fn migrate(pool: &sqlx::PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

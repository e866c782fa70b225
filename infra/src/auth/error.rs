//! Why a request is not authenticated, and the `Authorization` header's parser.

/// The largest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// A refusal, or a failure to decide.
///
/// The `Display` text is for logs; a client gets [`AuthError::description`] and
/// [`AuthError::rfc6750_code`]. Neither ever contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The request has no `Authorization` header.
    #[error("no Authorization header")]
    Missing,
    /// The header is not `Bearer <token>`.
    #[error("the Authorization header is not `Bearer <token>`")]
    MalformedHeader,
    /// The token is longer than [`MAX_TOKEN_LEN`].
    #[error("the token is longer than {MAX_TOKEN_LEN} bytes")]
    TooLarge,
    /// The token is not a JWS compact JWT.
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// The token's `alg` is `none` or unknown.
    #[error("the token's algorithm is not accepted")]
    UnsupportedAlgorithm,
    /// The token's `alg` is not one its key may verify (algorithm confusion).
    #[error("the token's algorithm does not match its key")]
    AlgorithmMismatch,
    /// No configured key has the token's `kid` (or the token has none and no key fits).
    #[error("the token names an unknown key")]
    UnknownKey,
    /// The signature does not verify with the token's key.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `exp` is past (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is ahead (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("the token's issuer is not accepted")]
    WrongIssuer,
    /// `aud` does not name this deployment.
    #[error("the token's audience is not accepted")]
    WrongAudience,
    /// A required claim is absent (or empty, for `roles`).
    #[error("the token lacks the `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim is present but unusable.
    #[error("the token's `{0}` claim is invalid")]
    InvalidClaim(&'static str),
    /// Keys could not be had: JWKS fetch, key file or database failure. A server-side
    /// problem: answer 503 without details (see [`AuthError::is_unavailable`]).
    #[error("key source unavailable: {0}")]
    KeySource(String),
    /// The authentication settings are unusable.
    #[error("invalid auth settings: {0}")]
    Settings(String),
    /// Minting failed inside the JWT library.
    #[error("cannot sign the token: {0}")]
    Signing(String),
}

impl AuthError {
    /// The RFC 6750 `error` code for the `WWW-Authenticate` header: `invalid_request`
    /// for a missing or malformed header (RFC 6750 §3.1 suggests omitting the code
    /// entirely when the header is missing), `invalid_token` for anything wrong with
    /// the token, `temporarily_unavailable` for server-side failures.
    pub fn rfc6750_code(&self) -> &'static str {
        match self {
            AuthError::Missing | AuthError::MalformedHeader | AuthError::TooLarge => {
                "invalid_request"
            }
            AuthError::KeySource(_) | AuthError::Settings(_) | AuthError::Signing(_) => {
                "temporarily_unavailable"
            }
            _ => "invalid_token",
        }
    }

    /// Whether this is the server's failure, not the client's: answer 503, log the
    /// error, and show the client no details.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            AuthError::KeySource(_) | AuthError::Settings(_) | AuthError::Signing(_)
        )
    }

    /// The HTTP status that fits: 400, 401 or 503.
    pub fn http_status(&self) -> u16 {
        match self.rfc6750_code() {
            "invalid_request" if !matches!(self, AuthError::Missing) => 400,
            "temporarily_unavailable" => 503,
            _ => 401,
        }
    }

    /// A short explanation that is safe to show a client.
    pub fn description(&self) -> &'static str {
        match self {
            AuthError::Missing => "authentication required",
            AuthError::MalformedHeader => "the Authorization header must be `Bearer <token>`",
            AuthError::TooLarge => "the token is too large",
            AuthError::Malformed => "the token is malformed",
            AuthError::UnsupportedAlgorithm | AuthError::AlgorithmMismatch => {
                "the token's algorithm is not accepted"
            }
            AuthError::UnknownKey => "the token is signed by an unknown key",
            AuthError::BadSignature => "the token's signature is invalid",
            AuthError::Expired => "the token has expired",
            AuthError::NotYetValid => "the token is not valid yet",
            AuthError::WrongIssuer => "the token's issuer is not accepted",
            AuthError::WrongAudience => "the token is not meant for this service",
            AuthError::MissingClaim(_) => "the token lacks a required claim",
            AuthError::InvalidClaim(_) => "the token has an invalid claim",
            AuthError::KeySource(_) | AuthError::Settings(_) | AuthError::Signing(_) => {
                "authentication is temporarily unavailable"
            }
        }
    }
}

/// Parses an `Authorization` header value: exactly `Bearer <token>` (the scheme in any
/// case, one space), the token made of RFC 6750 `b64token` characters and at most
/// [`MAX_TOKEN_LEN`] bytes.
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::Missing)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::MalformedHeader)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::MalformedHeader);
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::TooLarge);
    }
    let body = token.trim_end_matches('=');
    let b64token =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
    if body.is_empty() || !body.bytes().all(b64token) {
        return Err(AuthError::MalformedHeader);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_takes_exactly_bearer_and_a_token() {
        assert_eq!(bearer_token(Some("Bearer a.b.c")), Ok("a.b.c"));
        assert_eq!(bearer_token(Some("bEaReR a.b.c")), Ok("a.b.c"));
        assert_eq!(bearer_token(None), Err(AuthError::Missing));
        for bad in [
            "",
            "Bearer",
            "Bearer ",
            "Basic a.b.c",
            "Bearer  a.b.c",
            "Bearer a b",
            "Bearer a.b.c ",
        ] {
            assert_eq!(
                bearer_token(Some(bad)),
                Err(AuthError::MalformedHeader),
                "{bad:?}"
            );
        }
        let huge = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));
        assert_eq!(bearer_token(Some(&huge)), Err(AuthError::TooLarge));
    }

    #[test]
    fn server_side_failures_are_unavailable_and_say_nothing() {
        let e = AuthError::KeySource("connection refused to 10.0.0.1".into());
        assert!(e.is_unavailable());
        assert_eq!(e.http_status(), 503);
        assert!(!e.description().contains("10.0.0.1"));
        assert_eq!(AuthError::Expired.rfc6750_code(), "invalid_token");
        assert_eq!(AuthError::Expired.http_status(), 401);
        assert_eq!(AuthError::MalformedHeader.rfc6750_code(), "invalid_request");
        assert_eq!(AuthError::Missing.http_status(), 401);
    }
}

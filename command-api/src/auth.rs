//! Who is calling, and what they may do: the bearer token is verified
//! ([`infra::auth::Verifier`]) before anything else, the caller's roles are checked
//! against the permission matrix ([`MATRIX`], docs/API.md §5) before the body is read, and
//! the checks that need the target (whose availability, whose feedback, which panel) are
//! made by the handlers with the [`Scope`] granted here.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::Tenant;
use infra::auth::{self, AuthError, Principal, Role};
use uuid::Uuid;

use crate::command::{Actor, CommandMeta};
use crate::error::ApiError;
use crate::state::AppState;

/// How far a role's grant on an action reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Only as the caller's own person: its own availability, feedback as itself, a
    /// decision by itself.
    Own,
    /// Only on interviews whose panel the caller's person sits on.
    Panel,
    /// Anything of the kind in the caller's tenant.
    Any,
}

/// One row of the permission matrix: a route, and the roles that may call it with how
/// far each reaches. A route with no row is refused to everyone.
pub struct Permission {
    /// The method.
    pub method: Method,
    /// The route as the router names it (`/interviews/{id}/start`).
    pub path: &'static str,
    /// Each role that may call it, and its scope.
    pub grants: &'static [(Role, Scope)],
}

const STAFF: &[(Role, Scope)] = &[(Role::Admin, Scope::Any), (Role::Recruiter, Scope::Any)];
const PANEL: &[(Role, Scope)] = &[(Role::Admin, Scope::Any), (Role::Interviewer, Scope::Panel)];
const EVERYONE: &[(Role, Scope)] = &[
    (Role::Admin, Scope::Any),
    (Role::Recruiter, Scope::Any),
    (Role::Interviewer, Scope::Any),
    (Role::Candidate, Scope::Any),
    (Role::Service, Scope::Any),
];

/// The command API's permission matrix (docs/API.md §5). `service` alone grants nothing:
/// a service token carries the roles it acts with, and `service` lets it name the person
/// it acts for (`X-On-Behalf-Of`).
pub const MATRIX: &[Permission] = &[
    Permission {
        method: Method::POST,
        path: "/people",
        grants: STAFF,
    },
    Permission {
        method: Method::POST,
        path: "/people/{id}/details",
        grants: STAFF,
    },
    Permission {
        method: Method::POST,
        path: "/people/{id}/availability",
        grants: &[
            (Role::Admin, Scope::Any),
            (Role::Recruiter, Scope::Any),
            (Role::Interviewer, Scope::Own),
            (Role::Candidate, Scope::Own),
        ],
    },
    Permission {
        method: Method::POST,
        path: "/interviews",
        grants: STAFF,
    },
    Permission {
        method: Method::POST,
        path: "/interviews/{id}/reschedule",
        grants: STAFF,
    },
    Permission {
        method: Method::POST,
        path: "/interviews/{id}/cancel",
        grants: STAFF,
    },
    Permission {
        method: Method::POST,
        path: "/interviews/{id}/no-show",
        grants: STAFF,
    },
    Permission {
        method: Method::POST,
        path: "/interviews/{id}/start",
        grants: PANEL,
    },
    Permission {
        method: Method::POST,
        path: "/interviews/{id}/transcript",
        grants: PANEL,
    },
    Permission {
        method: Method::POST,
        path: "/interviews/{id}/complete",
        grants: PANEL,
    },
    Permission {
        method: Method::POST,
        path: "/interviews/{id}/feedback",
        grants: &[(Role::Admin, Scope::Any), (Role::Interviewer, Scope::Own)],
    },
    Permission {
        method: Method::POST,
        path: "/interviews/{id}/decision",
        grants: &[(Role::Admin, Scope::Any), (Role::Recruiter, Scope::Own)],
    },
    Permission {
        method: Method::GET,
        path: "/openapi.json",
        grants: EVERYONE,
    },
];

/// Routes anyone may call without a token: probes and the metrics scrape.
pub fn is_public(path: &str) -> bool {
    path.starts_with("/health/") || path == "/metrics"
}

/// The widest scope `principal`'s roles grant on `method path`, if any.
pub fn grant(principal: &Principal, method: &Method, path: &str) -> Option<Scope> {
    let row = MATRIX
        .iter()
        .find(|p| p.method == *method && p.path == path)?;
    row.grants
        .iter()
        .filter(|(role, _)| principal.roles.contains(*role))
        .map(|(_, scope)| *scope)
        .max()
}

/// The verified caller of a request, as the middleware leaves it for the handlers.
#[derive(Debug, Clone)]
pub struct Caller {
    /// What the token says (shared with the verifier's memory of the token).
    pub principal: std::sync::Arc<Principal>,
    /// Its tenant.
    pub tenant: Tenant,
    /// The person a `service` caller acts for.
    pub on_behalf_of: Option<Uuid>,
    /// How far its grant on this route reaches.
    pub scope: Scope,
}

impl Caller {
    /// The actor recorded in the events.
    pub fn actor(&self) -> Actor {
        Actor {
            subject: self.principal.subject.clone(),
            name: self.principal.name.clone(),
            person: self.principal.person,
            on_behalf_of: self.on_behalf_of,
            tenant: self.tenant.clone(),
        }
    }
}

/// The longest `X-On-Behalf-Of` looked at.
const MAX_ON_BEHALF_OF: usize = 64;

/// Authenticates every non-public request and checks the matrix before the handler
/// (and before the body is read): 401 without a valid token, 403 when no role of the
/// caller may call the route. Leaves a [`Caller`] in the request's extensions.
pub async fn authenticate(
    State(app): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if is_public(path) {
        return next.run(request).await;
    }
    // An unknown path is a 404 for anyone, as before; it reveals nothing.
    let Some(route) = request.extensions().get::<MatchedPath>().cloned() else {
        return next.run(request).await;
    };
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().map_err(|_| AuthError::Malformed));
    let principal = match header.transpose() {
        Err(e) => return unauthorized(&e),
        Ok(value) => match auth::bearer_token(value) {
            Err(e) => return unauthorized(&e),
            Ok(token) => match app.verifier.verify_shared(token).await {
                Ok(p) => p,
                Err(e) => return unauthorized(&e),
            },
        },
    };
    let Ok(tenant) = Tenant::parse(&principal.tenant) else {
        return unauthorized(&AuthError::InvalidClaim("tenant"));
    };
    let on_behalf_of = match on_behalf_of(&request, &principal) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let Some(scope) = grant(&principal, request.method(), route.as_str()) else {
        return ApiError::Forbidden("your roles do not allow this command".into()).into_response();
    };
    request.extensions_mut().insert(Caller {
        principal,
        tenant,
        on_behalf_of,
        scope,
    });
    next.run(request).await
}

/// `X-On-Behalf-Of: <person id>`: only a `service` caller may act for someone.
fn on_behalf_of(request: &Request, principal: &Principal) -> Result<Option<Uuid>, ApiError> {
    let Some(value) = request.headers().get("x-on-behalf-of") else {
        return Ok(None);
    };
    if !principal.roles.contains(Role::Service) {
        return Err(ApiError::Forbidden(
            "only a service may act on behalf of someone".into(),
        ));
    }
    let text = value
        .to_str()
        .ok()
        .filter(|t| t.len() <= MAX_ON_BEHALF_OF)
        .ok_or_else(|| ApiError::BadHeader("X-On-Behalf-Of must be a person id".into()))?;
    Uuid::parse_str(text.trim())
        .map(Some)
        .map_err(|_| ApiError::BadHeader("X-On-Behalf-Of must be a person id".into()))
}

fn unauthorized(error: &AuthError) -> Response {
    if error.is_unavailable() {
        // The key source (JWKS, database) failed: not the caller's fault; logged.
        return ApiError::Unavailable(format!("token verification: {error}")).into_response();
    }
    ApiError::Unauthorized {
        code: error.rfc6750_code(),
        description: error.description(),
        missing: matches!(error, AuthError::Missing),
    }
    .into_response()
}

/// Checks an `Own` grant: `person` must be the person the command is by (the caller's,
/// or the one a service acts for). An `Any` grant passes.
pub fn require_own(meta: &CommandMeta, person: Uuid, what: &'static str) -> Result<(), ApiError> {
    if meta.scope == Scope::Any || meta.actor.acting_person() == Some(person) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "your roles allow {what} only as yourself"
        )))
    }
}

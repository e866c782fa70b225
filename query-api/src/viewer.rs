//! Who is asking: every read of the query API is made for one [`Viewer`], and sees only
//! the rows of the viewer's tenant.
//!
//! The HTTP handlers make it from the verified caller's tenant (the authentication
//! middleware puts the caller into the request's extensions); a WebSocket connection
//! makes it once, from the caller of its `connection_init`. The access rules refuse
//! everything to a request whose viewer is not of its caller's tenant. It travels in
//! the GraphQL request data, and resolvers pass it whole to every read of the
//! [`ReadModel`](crate::read_model::ReadModel), which filters by its tenant and reads
//! through the database's row-level security as that tenant.

use axum::http::Extensions;
use domain::Tenant;

/// The caller of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// The tenant whose data it sees, and no other.
    pub tenant: Tenant,
}

impl Viewer {
    /// A viewer of `tenant`.
    pub fn of(tenant: Tenant) -> Self {
        Viewer { tenant }
    }

    /// The viewer of the `default` tenant: what a request without a verified caller is
    /// served as, until authentication is in place.
    pub fn default_tenant() -> Self {
        Viewer::of(Tenant::default_tenant())
    }

    /// The viewer a request's extensions carry, else the `default` tenant's.
    pub fn from_extensions(extensions: &Extensions) -> Self {
        extensions
            .get::<Viewer>()
            .cloned()
            .unwrap_or_else(Viewer::default_tenant)
    }
}

impl Default for Viewer {
    fn default() -> Self {
        Viewer::default_tenant()
    }
}

//! What can be asked of a person.

use uuid::Uuid;

use crate::Role;

/// A request to change a person's stream. Values arrive raw; `decide` validates them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonCommand {
    /// Create the person. Name 1..200 characters (trimmed), at least one role (duplicates
    /// dropped), email `local@domain.tld` when given, timezone 1..64 of `[A-Za-z0-9_+-/]`.
    Register {
        /// The new person's id (client-supplied or a fresh UUIDv7).
        person_id: Uuid,
        /// Display name.
        name: String,
        /// Contact email.
        email: Option<String>,
        /// Roles the person holds.
        roles: Vec<Role>,
        /// IANA-style timezone name, e.g. `Europe/Paris` (checked for shape only).
        timezone: Option<String>,
    },
    /// Change some details; `None` leaves a field as it is. Needs at least one `Some`.
    ChangeDetails {
        /// New display name.
        name: Option<String>,
        /// New email.
        email: Option<String>,
        /// New timezone.
        timezone: Option<String>,
    },
}

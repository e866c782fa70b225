//! The roles a token can grant, and a set of them in one byte.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A role granted by a token. Text form: lowercase (`"admin"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the deployment.
    Admin,
    /// Runs hiring processes.
    Recruiter,
    /// Conducts interviews.
    Interviewer,
    /// Is interviewed.
    Candidate,
    /// Another service, not a person.
    Service,
}

impl Role {
    /// Every role, in bit order.
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Recruiter,
        Role::Interviewer,
        Role::Candidate,
        Role::Service,
    ];

    /// The lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Recruiter => "recruiter",
            Role::Interviewer => "interviewer",
            Role::Candidate => "candidate",
            Role::Service => "service",
        }
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role")]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;

    /// Parses a role name, ignoring ASCII case (identity providers differ).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or(UnknownRole)
    }
}

/// A set of roles, one bit each.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Roles(u8);

impl Roles {
    /// No role.
    pub const fn empty() -> Roles {
        Roles(0)
    }

    /// Whether `role` is in the set.
    pub const fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// Adds `role`.
    pub fn insert(&mut self, role: Role) {
        self.0 |= role.bit();
    }

    /// Whether the set has no role.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The roles in the set, in [`Role::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }
}

impl FromIterator<Role> for Roles {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> Self {
        let mut roles = Roles::empty();
        iter.into_iter().for_each(|r| roles.insert(r));
        roles
    }
}

impl fmt::Debug for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
            let json = serde_json::to_string(&role).expect("json");
            assert_eq!(json, format!("\"{role}\""));
        }
        assert_eq!("Admin".parse::<Role>(), Ok(Role::Admin));
        assert_eq!("root".parse::<Role>(), Err(UnknownRole));
    }

    #[test]
    fn a_role_set_holds_what_was_put_in() {
        let roles: Roles = [Role::Candidate, Role::Admin, Role::Admin]
            .into_iter()
            .collect();
        assert!(roles.contains(Role::Admin) && roles.contains(Role::Candidate));
        assert!(!roles.contains(Role::Service));
        assert_eq!(
            roles.iter().collect::<Vec<_>>(),
            [Role::Admin, Role::Candidate]
        );
        assert!(Roles::empty().is_empty());
        assert_eq!(format!("{roles:?}"), "{Admin, Candidate}");
    }
}

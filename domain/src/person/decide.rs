//! Decides person commands.

use super::{Person, PersonCommand, PersonEvent};
use crate::validate::Violations;
use crate::{Error, Role};

const ENTITY: &str = "person";
const NAME_MAX: usize = 200;
const EMAIL_MAX: usize = 254;
const TIMEZONE_MAX: usize = 64;

/// Decides a person command against the current state (`None` = not registered).
pub fn decide(state: &Option<Person>, cmd: PersonCommand) -> Result<Vec<PersonEvent>, Error> {
    match cmd {
        PersonCommand::Register {
            person_id,
            name,
            email,
            roles,
            timezone,
        } => {
            if state.is_some() {
                return Err(Error::AlreadyExists {
                    entity: ENTITY,
                    id: person_id,
                });
            }
            let mut v = Violations::new();
            let name = v.text("name", &name, NAME_MAX);
            let email = email.map(|e| check_email(&mut v, &e));
            let timezone = timezone.map(|tz| check_timezone(&mut v, &tz));
            let roles = distinct_roles(roles);
            v.check(!roles.is_empty(), "roles", "at least one role is required");
            v.finish()?;
            Ok(vec![PersonEvent::PersonRegistered {
                person_id,
                name,
                email,
                roles,
                timezone,
            }])
        }
        PersonCommand::ChangeDetails {
            name,
            email,
            timezone,
        } => {
            let person = state.as_ref().ok_or_else(|| Error::not_found(ENTITY))?;
            let mut v = Violations::new();
            v.check(
                name.is_some() || email.is_some() || timezone.is_some(),
                "",
                "at least one of name, email, timezone is required",
            );
            let name = name.map(|n| v.text("name", &n, NAME_MAX));
            let email = email.map(|e| check_email(&mut v, &e));
            let timezone = timezone.map(|tz| check_timezone(&mut v, &tz));
            v.finish()?;
            let name = name.filter(|n| *n != person.name);
            let email = email.filter(|e| person.email.as_ref() != Some(e));
            let timezone = timezone.filter(|tz| person.timezone.as_ref() != Some(tz));
            if name.is_none() && email.is_none() && timezone.is_none() {
                return Ok(vec![]);
            }
            Ok(vec![PersonEvent::PersonDetailsChanged {
                name,
                email,
                timezone,
            }])
        }
    }
}

fn distinct_roles(mut roles: Vec<Role>) -> Vec<Role> {
    roles.sort();
    roles.dedup();
    roles
}

fn check_email(v: &mut Violations, email: &str) -> String {
    let email = email.trim();
    if email.chars().count() > EMAIL_MAX {
        v.add("email", format!("must be at most {EMAIL_MAX} characters"));
    } else if !is_valid_email(email) {
        v.add("email", "must be an address like name@example.com");
    }
    email.to_owned()
}

/// `local@domain.tld`: one `@`, no whitespace or control characters, a non-empty local
/// part of at most 64 characters, and a domain of at least two non-empty dot-separated
/// labels that neither start nor end with `-`.
fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let clean = |s: &str| {
        !s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@')
    };
    let labels: Vec<&str> = domain.split('.').collect();
    !local.is_empty()
        && local.chars().count() <= 64
        && clean(local)
        && clean(domain)
        && labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
}

fn check_timezone(v: &mut Violations, timezone: &str) -> String {
    let tz = timezone.trim();
    let len = tz.chars().count();
    let shape = tz
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '/'));
    if len == 0 || len > TIMEZONE_MAX {
        v.add(
            "timezone",
            format!("must be 1 to {TIMEZONE_MAX} characters"),
        );
    } else if !shape {
        v.add("timezone", "must be a timezone name such as Europe/Paris");
    }
    tz.to_owned()
}

#[cfg(test)]
mod email_tests {
    use super::is_valid_email;

    #[test]
    fn email_shapes_are_checked_syntactically() {
        for ok in ["a@b.co", "first.last+tag@mail.example.org", "x@a-b.io"] {
            assert!(is_valid_email(ok), "{ok} should be valid");
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@.co", "a@b.", "a b@c.de", "a@b@c.de", "a@-b.co",
        ] {
            assert!(!is_valid_email(bad), "{bad} should be invalid");
        }
    }
}

use uuid::Uuid;

use super::*;
use crate::testing::{PersonAgg, given};
use crate::{Error, Role};

fn id() -> Uuid {
    Uuid::from_u128(0x1111)
}

fn register() -> PersonCommand {
    PersonCommand::Register {
        person_id: id(),
        name: "  Ada Lovelace ".into(),
        email: Some("ada@example.com".into()),
        roles: vec![Role::Interviewer, Role::Candidate, Role::Interviewer],
        timezone: Some("Europe/London".into()),
    }
}

fn registered() -> PersonEvent {
    PersonEvent::PersonRegistered {
        person_id: id(),
        name: "Ada Lovelace".into(),
        email: Some("ada@example.com".into()),
        roles: vec![Role::Candidate, Role::Interviewer],
        timezone: Some("Europe/London".into()),
    }
}

fn change(name: Option<&str>, email: Option<&str>, timezone: Option<&str>) -> PersonCommand {
    PersonCommand::ChangeDetails {
        name: name.map(Into::into),
        email: email.map(Into::into),
        timezone: timezone.map(Into::into),
    }
}

#[test]
fn registering_trims_the_name_and_dedupes_roles() {
    given::<PersonAgg>([])
        .when(register())
        .then(vec![registered()]);
}

#[test]
fn registering_without_email_or_timezone_is_fine() {
    let cmd = PersonCommand::Register {
        person_id: id(),
        name: "Bob".into(),
        email: None,
        roles: vec![Role::Candidate],
        timezone: None,
    };
    given::<PersonAgg>([])
        .when(cmd)
        .then(vec![PersonEvent::PersonRegistered {
            person_id: id(),
            name: "Bob".into(),
            email: None,
            roles: vec![Role::Candidate],
            timezone: None,
        }]);
}

#[test]
fn registering_an_existing_person_is_refused() {
    given::<PersonAgg>([registered()])
        .when(register())
        .then_error(Error::AlreadyExists {
            entity: "person",
            id: id(),
        });
}

#[test]
fn registering_reports_every_invalid_field_at_once() {
    let cmd = PersonCommand::Register {
        person_id: id(),
        name: "   ".into(),
        email: Some("not an email".into()),
        roles: vec![],
        timezone: Some("Europe/Par is".into()),
    };
    given::<PersonAgg>([])
        .when(cmd)
        .then_invalid(&["name", "email", "timezone", "roles"]);
}

#[test]
fn registering_refuses_overlong_values() {
    let cmd = PersonCommand::Register {
        person_id: id(),
        name: "n".repeat(201),
        email: Some(format!("{}@example.com", "a".repeat(250))),
        roles: vec![Role::Candidate],
        timezone: Some("A".repeat(65)),
    };
    given::<PersonAgg>([])
        .when(cmd)
        .then_invalid(&["name", "email", "timezone"]);
}

#[test]
fn a_name_of_exactly_200_characters_is_accepted() {
    let cmd = PersonCommand::Register {
        person_id: id(),
        name: "é".repeat(200),
        email: None,
        roles: vec![Role::Candidate],
        timezone: Some("Etc/GMT+5".into()),
    };
    assert_eq!(given::<PersonAgg>([]).when(cmd).events().len(), 1);
}

#[test]
fn changing_details_emits_only_the_fields_that_change() {
    given::<PersonAgg>([registered()])
        .when(change(Some("Ada L."), Some("ada@example.com"), Some("UTC")))
        .then(vec![PersonEvent::PersonDetailsChanged {
            name: Some("Ada L.".into()),
            email: None,
            timezone: Some("UTC".into()),
        }]);
}

#[test]
fn changing_details_to_the_current_values_emits_nothing() {
    given::<PersonAgg>([registered()])
        .when(change(Some("Ada Lovelace"), None, Some("Europe/London")))
        .then(vec![]);
}

#[test]
fn changing_details_of_a_missing_person_is_not_found() {
    given::<PersonAgg>([])
        .when(change(Some("X"), None, None))
        .then_error(Error::not_found("person"));
}

#[test]
fn changing_nothing_is_invalid() {
    given::<PersonAgg>([registered()])
        .when(change(None, None, None))
        .then_invalid(&[""]);
}

#[test]
fn changing_details_validates_each_given_field() {
    given::<PersonAgg>([registered()])
        .when(change(Some(""), Some("x@y"), Some("")))
        .then_invalid(&["name", "email", "timezone"]);
}

#[test]
fn evolve_counts_every_event_and_applies_changes() {
    let events = [
        registered(),
        PersonEvent::PersonDetailsChanged {
            name: None,
            email: Some("new@example.com".into()),
            timezone: None,
        },
    ];
    let person = replay(&events).expect("registered");
    assert_eq!(person.version, 2);
    assert_eq!(person.email.as_deref(), Some("new@example.com"));
    assert_eq!(person.name, "Ada Lovelace");
    assert!(person.has_role(Role::Interviewer));
    assert_eq!(stream_id(id()), format!("person-{}", id()));
}

#[test]
fn a_details_change_without_registration_builds_nothing() {
    let event = PersonEvent::PersonDetailsChanged {
        name: Some("x".into()),
        email: None,
        timezone: None,
    };
    assert_eq!(evolve(None, &event), None);
}

#[test]
fn not_found_gets_the_target_id_from_the_caller() {
    let err = Error::not_found("person").with_target_id(id());
    assert_eq!(
        err,
        Error::NotFound {
            entity: "person",
            id: id()
        }
    );
    assert_eq!(err.to_string(), format!("person {} not found", id()));
}

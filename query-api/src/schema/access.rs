//! Who may read what (docs/API.md §5, "Roles (query API)"): one table, [`RULES`], of
//! GraphQL fields and how far each role reaches on them, consulted by one-line calls in
//! the resolvers and iterated by the tests.
//!
//! The verified [`Caller`] travels in the GraphQL request data (the HTTP layer puts it
//! there); a request without one is refused everywhere. A denied field is a GraphQL
//! error on that field with `extensions.code = "FORBIDDEN"`, never a silent null or an
//! empty list. Lists are narrowed by forcing their filter to the caller's own person, so
//! `totalCount` and paging stay right.

use std::sync::Arc;

use async_graphql::Context;
use domain::Tenant;
use infra::auth::{Principal, Role};
use uuid::Uuid;

use crate::error::{QueryError, QueryResult};
use crate::read_model::{FeedbackRow, InterviewFilter, InterviewRow};

/// The verified caller of a request or WebSocket connection.
#[derive(Debug, Clone)]
pub struct Caller {
    /// What its token says (shared with the verifier's memory of the token: no copy per
    /// request).
    pub principal: Arc<Principal>,
    /// Its tenant.
    pub tenant: Tenant,
}

/// How far a role reaches on a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Not at all: `FORBIDDEN`.
    Deny,
    /// Everything of the kind.
    All,
    /// Interviews whose panel holds the caller's person.
    Panel,
    /// Interviews whose candidate is the caller's person.
    Candidate,
    /// Only the caller's own person.
    Itself,
    /// On an interview of its panel, once the caller's person has submitted its own
    /// feedback there (independent feedback).
    PanelAfterOwnFeedback,
}

/// One row of the table: a field, and each role's reach on it, in [`Role::ALL`] order
/// (admin, recruiter, interviewer, candidate, service).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The GraphQL type (`Query`, `Subscription`, `Interview`, `Person`).
    pub parent: &'static str,
    /// The field, as GraphQL names it.
    pub field: &'static str,
    /// Reach per role, in [`Role::ALL`] order.
    pub reach: [Reach; 5],
}

/// A field the table has a rule for; its value indexes [`RULES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `Query.interview`.
    Interview,
    /// `Query.interviews`.
    Interviews,
    /// `Query.person`.
    Person,
    /// `Query.people`.
    People,
    /// `Query.schedule`.
    Schedule,
    /// `Query.availability`.
    Availability,
    /// `Query.searchTranscripts`.
    SearchTranscripts,
    /// `Query.analytics`.
    Analytics,
    /// `Query.projections`.
    Projections,
    /// `Subscription.interviewChanged`.
    InterviewChanged,
    /// `Subscription.projectionStatus`.
    ProjectionStatus,
    /// `Interview.feedback`.
    Feedback,
    /// `Interview.decision`.
    Decision,
    /// `Interview.transcript`.
    Transcript,
    /// `Interview.history`.
    History,
    /// `Interview.asOf`.
    AsOf,
    /// `Person.email`.
    Email,
    /// `Person.interviews`.
    PersonInterviews,
}

use Reach::{All, Candidate, Deny, Itself, Panel, PanelAfterOwnFeedback};

const fn rule(parent: &'static str, field: &'static str, reach: [Reach; 5]) -> Rule {
    Rule {
        parent,
        field,
        reach,
    }
}

/// The query API's access table, in [`Field`] order. Fields of `Interview` and `Person`
/// not listed here are readable by whoever reached the object (every path to an
/// interview or person is itself ruled). `service` alone grants nothing.
pub static RULES: [Rule; 18] = [
    //                                    admin recruiter interviewer candidate service
    rule("Query", "interview", [All, All, Panel, Candidate, Deny]),
    rule("Query", "interviews", [All, All, Panel, Candidate, Deny]),
    rule("Query", "person", [All, All, Itself, Itself, Deny]),
    rule("Query", "people", [All, All, Deny, Deny, Deny]),
    rule("Query", "schedule", [All, All, Itself, Itself, Deny]),
    rule("Query", "availability", [All, All, Itself, Itself, Deny]),
    rule("Query", "searchTranscripts", [All, All, Deny, Deny, Deny]),
    rule("Query", "analytics", [All, All, Deny, Deny, Deny]),
    rule("Query", "projections", [All, Deny, Deny, Deny, Deny]),
    rule(
        "Subscription",
        "interviewChanged",
        [All, All, Panel, Candidate, Deny],
    ),
    rule(
        "Subscription",
        "projectionStatus",
        [All, Deny, Deny, Deny, Deny],
    ),
    rule(
        "Interview",
        "feedback",
        [All, All, PanelAfterOwnFeedback, Deny, Deny],
    ),
    rule("Interview", "decision", [All, All, Panel, Deny, Deny]),
    rule("Interview", "transcript", [All, All, Panel, Deny, Deny]),
    rule("Interview", "history", [All, All, Deny, Deny, Deny]),
    rule("Interview", "asOf", [All, All, Panel, Deny, Deny]),
    rule("Person", "email", [All, All, All, Itself, Deny]),
    rule("Person", "interviews", [All, All, Panel, Candidate, Deny]),
];

impl Field {
    /// Its row of [`RULES`].
    pub fn rule(self) -> &'static Rule {
        &RULES[self as usize]
    }
}

/// What a caller's roles grant on one field, all roles together.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Grant {
    all: bool,
    panel: bool,
    candidate: bool,
    itself: bool,
    after_own_feedback: bool,
    /// The caller's person: every grant short of `all` is about it.
    person: Option<Uuid>,
}

fn forbidden(field: Field) -> QueryError {
    let rule = field.rule();
    QueryError::Forbidden(format!(
        "your roles do not allow {}.{} here",
        rule.parent, rule.field
    ))
}

/// The caller of this request, if the HTTP layer put one into the request data.
pub(crate) fn caller<'a>(ctx: &Context<'a>) -> Option<&'a Caller> {
    // A caller counts only where the reads are made for its own tenant: a request whose
    // viewer (and loaders) are of another tenant is treated as having no caller, so it
    // is refused everything rather than served another tenant's rows.
    let caller = ctx.data_opt::<Caller>()?;
    (super::viewer(ctx).tenant == caller.tenant).then_some(caller)
}

impl Grant {
    /// What `caller`'s roles grant on `field`.
    pub(crate) fn of(caller: Option<&Caller>, field: Field) -> Grant {
        let Some(caller) = caller else {
            return Grant::default();
        };
        let principal = &caller.principal;
        let mut grant = Grant {
            person: principal.person,
            ..Grant::default()
        };
        for (role, reach) in Role::ALL.iter().zip(field.rule().reach) {
            if !principal.roles.contains(*role) {
                continue;
            }
            match reach {
                Deny => {}
                All => grant.all = true,
                Panel => grant.panel = true,
                Candidate => grant.candidate = true,
                Itself => grant.itself = true,
                PanelAfterOwnFeedback => grant.after_own_feedback = true,
            }
        }
        grant
    }

    /// The caller's person, when a grant short of `all` needs one.
    fn me(&self) -> Option<Uuid> {
        self.person
            .filter(|_| self.panel || self.candidate || self.itself || self.after_own_feedback)
    }

    /// Whether the caller may see `row` at all under this grant.
    pub(crate) fn sees(&self, row: &InterviewRow) -> bool {
        self.all
            || self.me().is_some_and(|me| {
                ((self.panel || self.after_own_feedback) && row.interviewer_ids.contains(&me))
                    || (self.candidate && row.candidate_id == me)
            })
    }
}

/// Refuses `field` unless some role of the caller reaches it at all.
pub(crate) fn require(ctx: &Context<'_>, field: Field) -> QueryResult<()> {
    let grant = Grant::of(caller(ctx), field);
    match grant.all || grant.me().is_some() {
        true => Ok(()),
        false => Err(forbidden(field)),
    }
}

/// The grant on `field`, refused when it reaches nothing (for subscriptions, which
/// check each event with [`Grant::sees`]).
pub(crate) fn grant(ctx: &Context<'_>, field: Field) -> QueryResult<Grant> {
    require(ctx, field)?;
    Ok(Grant::of(caller(ctx), field))
}

/// Refuses `field` of the interview `row` unless the caller may read it there; `None`
/// (no such interview) passes once the role reaches the field at all.
pub(crate) fn interview(
    ctx: &Context<'_>,
    field: Field,
    row: Option<&InterviewRow>,
) -> QueryResult<()> {
    let grant = grant(ctx, field)?;
    match row {
        Some(row) if !grant.sees(row) => Err(forbidden(field)),
        _ => Ok(()),
    }
}

/// Refuses `field` of (or about) person `id` unless the caller may read it.
pub(crate) fn person(ctx: &Context<'_>, field: Field, id: Uuid) -> QueryResult<()> {
    people(ctx, field, &[id])
}

/// Refuses `field` about persons `ids` unless the caller may read it for every one.
pub(crate) fn people(ctx: &Context<'_>, field: Field, ids: &[Uuid]) -> QueryResult<()> {
    let grant = grant(ctx, field)?;
    let mine = |id: &Uuid| grant.itself && grant.me() == Some(*id);
    match grant.all || ids.iter().all(mine) {
        true => Ok(()),
        false => Err(forbidden(field)),
    }
}

/// `filter` narrowed to what the caller may list under `field`: its own panel's
/// interviews (`interviewerId` forced to its person) or its own (`candidateId`).
/// Naming another interviewer or candidate is refused, not answered with nothing.
pub(crate) fn scoped(
    ctx: &Context<'_>,
    field: Field,
    mut filter: InterviewFilter,
) -> QueryResult<InterviewFilter> {
    let grant = grant(ctx, field)?;
    if grant.all {
        return Ok(filter);
    }
    let me = grant.me().ok_or_else(|| forbidden(field))?;
    // A caller both on panels and a candidate lists its candidacy when it asks for it,
    // its panels otherwise: never more than one of them grants.
    if grant.candidate && (filter.candidate_id == Some(me) || !grant.panel) {
        if filter.candidate_id.is_some_and(|c| c != me) {
            return Err(forbidden(field));
        }
        filter.candidate_id = Some(me);
        return Ok(filter);
    }
    if filter.interviewer_id.is_some_and(|i| i != me) {
        return Err(forbidden(field));
    }
    filter.interviewer_id = Some(me);
    Ok(filter)
}

/// Refuses an interview's feedback unless the caller may read it: to a panel member,
/// only once its own is among `rows` (independent feedback).
pub(crate) fn feedback(
    ctx: &Context<'_>,
    row: &InterviewRow,
    rows: &[FeedbackRow],
) -> QueryResult<()> {
    let grant = grant(ctx, Field::Feedback)?;
    let own_given = grant
        .me()
        .is_some_and(|me| rows.iter().any(|f| f.interviewer_id == me));
    match grant.all || (grant.sees(row) && own_given) {
        true => Ok(()),
        false => Err(QueryError::Forbidden(
            "the panel's feedback is shown to a panel member once its own is in".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_field_order_and_service_alone_grants_nothing() {
        let fields = [
            (Field::Interview, "interview"),
            (Field::Interviews, "interviews"),
            (Field::Person, "person"),
            (Field::People, "people"),
            (Field::Schedule, "schedule"),
            (Field::Availability, "availability"),
            (Field::SearchTranscripts, "searchTranscripts"),
            (Field::Analytics, "analytics"),
            (Field::Projections, "projections"),
            (Field::InterviewChanged, "interviewChanged"),
            (Field::ProjectionStatus, "projectionStatus"),
            (Field::Feedback, "feedback"),
            (Field::Decision, "decision"),
            (Field::Transcript, "transcript"),
            (Field::History, "history"),
            (Field::AsOf, "asOf"),
            (Field::Email, "email"),
            (Field::PersonInterviews, "interviews"),
        ];
        assert_eq!(fields.len(), RULES.len());
        for (field, name) in fields {
            assert_eq!(field.rule().field, name, "{field:?}");
        }
        for rule in &RULES {
            assert_eq!(rule.reach[0], All, "admin reads {}", rule.field);
            assert_eq!(rule.reach[4], Deny, "service alone: {}", rule.field);
        }
    }

    #[test]
    fn every_root_field_of_the_schema_has_a_rule() {
        let sdl = crate::schema::sdl();
        let doc = async_graphql::parser::parse_schema(&sdl).expect("sdl parses");
        let mut roots = Vec::new();
        for def in doc.definitions {
            let async_graphql::parser::types::TypeSystemDefinition::Type(t) = def else {
                continue;
            };
            let name = t.node.name.node.to_string();
            if name != "Query" && name != "Subscription" {
                continue;
            }
            if let async_graphql::parser::types::TypeKind::Object(o) = &t.node.kind {
                for f in &o.fields {
                    roots.push((name.clone(), f.node.name.node.to_string()));
                }
            }
        }
        assert!(!roots.is_empty());
        for (parent, field) in &roots {
            assert!(
                RULES
                    .iter()
                    .any(|r| r.parent == parent.as_str() && r.field == field.as_str()),
                "{parent}.{field} has no row in access::RULES"
            );
        }
    }
}

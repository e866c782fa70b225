//! The schema's limits (API.md §3.2) and the `extensions.code` of every error.
//!
//! Depth and complexity are checked here rather than with `limit_depth` /
//! `limit_complexity`, so the refusal says how deep or complex the query was and carries
//! a code. Complexity counts one per field, and each field under a connection or a list
//! as many times as the page size (`first`, `limit`) or fixed length (24 hours, the days
//! of a range) says; see the `complexity` attributes on those fields.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextResolve,
    NextSubscribe, NextValidation, ResolveInfo,
};
use async_graphql::parser::types::{ExecutableDocument, Selection};
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Value, Variables};
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::error::{codes, finish, has_code, set_code};
use crate::loaders::Loaders;

/// Whether field `name` of type `parent` gets its value from nothing but rows read by id
/// through the [`Loaders`] (an interview, people) or from its parent's row: an answer
/// made of such fields alone may be kept in the response cache. A field not listed here
/// (lists, feedback, transcripts, history, analytics, introspection, and any field added
/// later) makes its request's answer uncacheable.
pub(crate) fn tracked_field(parent: &str, name: &str) -> bool {
    // The items of a list are resolved as "fields" of the list type, named after the list
    // field: that field was judged at its own parent already.
    if parent.starts_with('[') {
        return true;
    }
    match parent.trim_end_matches('!') {
        "Query" => matches!(name, "interview" | "person"),
        "Interview" => matches!(
            name,
            "id" | "status"
                | "kind"
                | "position"
                | "startsAt"
                | "endsAt"
                | "durationMinutes"
                | "location"
                | "candidate"
                | "interviewers"
                | "startedAt"
                | "completedAt"
                | "actualDurationSeconds"
                | "cancellationReason"
                | "decision"
                | "version"
                | "updatedAt"
                | "__typename"
        ),
        "Decision" => matches!(
            name,
            "outcome" | "decidedBy" | "reason" | "decidedAt" | "__typename"
        ),
        "Person" => matches!(
            name,
            "id" | "name" | "email" | "roles" | "timezone" | "version" | "__typename"
        ),
        _ => false,
    }
}

/// Depth and complexity bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest field nesting admitted.
    pub max_depth: usize,
    /// Most field resolutions admitted, lists counted by their page size.
    pub max_complexity: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 12,
            max_complexity: 5_000,
        }
    }
}

/// The extension enforcing [`Limits`] and coding errors.
pub(crate) struct Guard(pub Limits);

impl ExtensionFactory for Guard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardExtension {
            limits: self.0,
            introspection_only: AtomicBool::new(false),
        })
    }
}

/// One per request.
struct GuardExtension {
    limits: Limits,
    /// Set when every operation asks only for `__schema`, `__type` or `__typename`: the
    /// introspection query of GraphiQL and other tools nests `ofType` deeper than 12
    /// levels, and its shape is fixed, so it is exempt from the depth limit.
    introspection_only: AtomicBool,
}

/// Whether a value holds a string (or object key) with U+0000.
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::List(items) => items.iter().any(holds_nul),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.as_str().contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// Whether a literal argument anywhere in `doc` (operations and fragments) holds U+0000.
fn document_holds_nul(doc: &ExecutableDocument) -> bool {
    fn selections(set: &async_graphql::parser::types::SelectionSet) -> bool {
        set.items.iter().any(|item| match &item.node {
            Selection::Field(f) => {
                f.node.arguments.iter().any(|(_, v)| {
                    v.node
                        .clone()
                        .into_const_with(|_| Ok::<_, std::convert::Infallible>(Value::Null))
                        .is_ok_and(|c| holds_nul(&c))
                }) || selections(&f.node.selection_set.node)
            }
            Selection::InlineFragment(f) => selections(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    doc.operations
        .iter()
        .any(|(_, op)| selections(&op.node.selection_set.node))
        || doc
            .fragments
            .values()
            .any(|f| selections(&f.node.selection_set.node))
}

/// Whether every operation of `doc` selects only introspection fields.
fn is_introspection(doc: &ExecutableDocument) -> bool {
    doc.operations.iter().all(|(_, op)| {
        op.node.selection_set.node.items.iter().all(
            |item| matches!(&item.node, Selection::Field(f) if f.node.name.node.starts_with("__")),
        )
    })
}

#[async_graphql::async_trait::async_trait]
impl Extension for GuardExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        response.errors.iter_mut().for_each(finish);
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream)
            .map(|mut response| {
                response.errors.iter_mut().for_each(finish);
                response
            })
            .boxed()
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if !tracked_field(info.parent_type, info.name)
            && let Some(reads) = ctx.data_opt::<Loaders>().and_then(Loaders::reads)
        {
            reads.untracked();
        }
        next.run(ctx, info).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await.map_err(|mut e| {
            set_code(&mut e, codes::GRAPHQL_PARSE_FAILED);
            e
        })?;
        // No stored text can hold U+0000 (PostgreSQL refuses it): refused here, once, for
        // every argument and variable, as a client's mistake rather than a server error.
        if variables.values().any(holds_nul) || document_holds_nul(&doc) {
            return Err(crate::error::coded(
                codes::BAD_USER_INPUT,
                "strings must not contain the NUL character (U+0000)".to_owned(),
            ));
        }
        self.introspection_only
            .store(is_introspection(&doc), Ordering::Relaxed);
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await.map_err(|mut errors| {
            for e in &mut errors {
                if !has_code(e) {
                    set_code(e, codes::GRAPHQL_VALIDATION_FAILED);
                }
            }
            errors
        })?;
        let Limits {
            max_depth,
            max_complexity,
        } = self.limits;
        if result.depth > max_depth && !self.introspection_only.load(Ordering::Relaxed) {
            return Err(vec![crate::error::coded(
                codes::QUERY_TOO_DEEP,
                format!(
                    "query is nested {} levels deep; at most {max_depth} are allowed",
                    result.depth
                ),
            )]);
        }
        if result.complexity > max_complexity {
            return Err(vec![crate::error::coded(
                codes::QUERY_TOO_COMPLEX,
                format!(
                    "query would resolve about {} fields (lists counted by their page size); \
                     at most {max_complexity} are allowed: ask for smaller pages or fewer fields",
                    result.complexity
                ),
            )]);
        }
        Ok(result)
    }
}

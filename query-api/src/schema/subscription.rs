//! Subscriptions, fed by the shared LISTEN connection (never by polling).

use async_graphql::{Context, Subscription as GqlSubscription};
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use uuid::Uuid;

use super::access::{self, Field};
use super::interview::Interview;
use super::projections::ProjectionStatus;
use super::{query_ctx, viewer};
use crate::error::QueryError;
use crate::notify::Notice;

/// The root of every subscription.
pub struct Subscription;

type Item<T> = async_graphql::Result<T>;

/// Logs a subscriber that fell behind the broadcast; the missed notices are gone.
fn lagged(e: &BroadcastStreamRecvError) {
    let BroadcastStreamRecvError::Lagged(n) = e;
    tracing::warn!(
        missed = n,
        "subscription fell behind; notifications dropped"
    );
}

#[GqlSubscription]
impl Subscription {
    /// The interview `id` (or any interview, when null) each time its read model changes.
    async fn interview_changed(
        &self,
        ctx: &Context<'_>,
        id: Option<Uuid>,
    ) -> async_graphql::Result<impl Stream<Item = Item<Interview>> + use<>> {
        let grant = access::grant(ctx, Field::InterviewChanged)?;
        let qctx = query_ctx(ctx);
        let read_model = qctx.read_model().clone();
        // The connection's viewer: another tenant's changes are not even looked at.
        let viewer = viewer(ctx).clone();
        let changes = BroadcastStream::new(qctx.notices().subscribe()).filter_map(move |msg| {
            let read_model = read_model.clone();
            let viewer = viewer.clone();
            async move {
                let changed = match msg {
                    Ok(Notice::InterviewChanged(tenant, changed)) if tenant == viewer.tenant => {
                        changed
                    }
                    Ok(_) => return None,
                    Err(e) => {
                        lagged(&e);
                        return None;
                    }
                };
                if id.is_some_and(|wanted| wanted != changed) {
                    return None;
                }
                match read_model.interviews_by_ids(&viewer, &[changed]).await {
                    Ok(mut rows) => rows
                        .pop()
                        .filter(|row| grant.sees(row))
                        .map(|row| Ok(Interview::from(row))),
                    Err(e) => Some(Err(QueryError::from(e).into())),
                }
            }
        });
        Ok(changes)
    }

    /// A projection's status after each batch it commits.
    async fn projection_status(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = Item<ProjectionStatus>> + use<>> {
        access::require(ctx, Field::ProjectionStatus)?;
        let qctx = query_ctx(ctx);
        let read_model = qctx.read_model().clone();
        let statuses = BroadcastStream::new(qctx.notices().subscribe()).filter_map(move |msg| {
            let read_model = read_model.clone();
            async move {
                let notice = match msg {
                    Ok(Notice::Projection(n)) => n,
                    Ok(_) => return None,
                    Err(e) => {
                        lagged(&e);
                        return None;
                    }
                };
                let status = match read_model.checkpoint(&notice.name).await {
                    Ok(Some(row)) => ProjectionStatus::try_from(row),
                    Ok(None) => ProjectionStatus::from_notice(notice),
                    Err(e) => Err(QueryError::from(e)),
                };
                Some(status.map_err(Into::into))
            }
        });
        Ok(statuses)
    }
}

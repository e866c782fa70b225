//! The PostgreSQL event store.
//!
//! One `events` table. Appends are a single `INSERT … SELECT` whose snapshot reads the
//! stream's current version before the statement's first row takes the transaction id,
//! so a transaction that saw another append's commit always gets a larger id than it:
//! ordering by (transaction_id, position) keeps every stream's versions ascending.
//! Readers only return rows whose transaction id is below the oldest transaction still
//! running that may be appending, so an append that commits late is delivered late,
//! never skipped. Transactions on connections named [`NON_APPENDING_APPLICATION`]
//! (projectors, rebuilds) never write events, so they do not hold the feed back.

use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use serde_json::Value;
use sqlx::postgres::{PgListener, PgRow};
use sqlx::{PgPool, Postgres, Row, Transaction};
use tokio::sync::Notify;
use tracing::instrument;
use uuid::Uuid;

mod commit;

use crate::store::*;
use crate::upcast::Upcasters;
use commit::{Committer, Failure, Outcome};

/// Events read by one subscription query at most.
const PAGE: usize = 1000;

/// The channel live subscribers LISTEN on.
pub const NOTIFY_CHANNEL: &str = "il_events";

macro_rules! non_appending_name {
    () => {
        "il-projector"
    };
}

/// The `application_name` of connections that never append events (the projector's and
/// the rebuild's). Readers of `$all` wait for every running transaction that may append
/// before they deliver events committed after it; a transaction on such a connection is
/// known not to, so it does not hold the feed back while it applies a batch. Nothing
/// that appends may use this name.
pub const NON_APPENDING_APPLICATION: &str = non_appending_name!();

/// `options` named as a connection that never appends events
/// ([`NON_APPENDING_APPLICATION`]).
pub fn non_appending(
    options: &sqlx::postgres::PgConnectOptions,
) -> sqlx::postgres::PgConnectOptions {
    options.clone().application_name(NON_APPENDING_APPLICATION)
}

/// The common table expressions `s` (`head`: the largest stored transaction id) and `b`
/// (`bound`: rows with a transaction id below it are all committed or aborted for good,
/// as far as events go). The bound is the snapshot's oldest running transaction, unless
/// committed events above that exist; then it is the oldest running transaction not
/// known to be a non-appending one (looked up only then, as it reads every backend's
/// status), or the snapshot's xmax when none is left.
///
/// A transaction that ends between the snapshot and the status lookup shows a different
/// or no transaction id there, so it counts as possibly appending: the lookup can only
/// make the bound lower than it could be, never higher.
const BOUND_CTES: &str = concat!(
    r#"
WITH s AS MATERIALIZED (
    SELECT pg_current_snapshot() AS snap, (SELECT max(transaction_id) FROM events) AS head
), b AS MATERIALIZED (
    SELECT head,
           CASE WHEN head IS NULL OR head < pg_snapshot_xmin(snap) THEN pg_snapshot_xmin(snap)
           ELSE coalesce(
               (SELECT min(x) FROM pg_snapshot_xip(snap) AS x
                WHERE x::xid <> ALL (ARRAY(
                    SELECT backend_xid FROM pg_stat_get_activity(NULL)
                    WHERE application_name = '"#,
    non_appending_name!(),
    r#"' AND backend_xid IS NOT NULL))),
               pg_snapshot_xmax(snap))
           END AS bound
    FROM s
)"#
);

const INSERT_SQL: &str = r#"
WITH cur AS (SELECT coalesce(max(version), 0) AS v FROM events WHERE stream_id = $1)
INSERT INTO events (stream_id, version, event_id, event_type, data, metadata)
SELECT $1, cur.v + e.ord, e.id, e.typ, e.data, e.meta
FROM cur, unnest($2::uuid[], $3::text[], $4::jsonb[], $5::jsonb[])
     WITH ORDINALITY AS e(id, typ, data, meta, ord)
WHERE $6::bigint IS NULL OR cur.v = $6
ORDER BY e.ord
RETURNING version, position, transaction_id::text AS tx
"#;

const SELECT_COLUMNS: &str = "position, transaction_id::text AS tx, stream_id, version, event_id, event_type, data, metadata";

/// The PostgreSQL adapter of [`EventStore`].
pub struct PgEventStore {
    pool: PgPool,
    upcasters: Arc<Upcasters>,
    wake_notifier: Arc<Notify>,
    committer: Committer,
}

impl PgEventStore {
    /// An event store on `pool` (whose database has had [`crate::db::migrate`] run).
    /// Starts the background task that tells LISTENers about new events.
    pub fn new(pool: PgPool, upcasters: Arc<Upcasters>) -> Self {
        let wake_notifier = Arc::new(Notify::new());
        tokio::spawn(notifier_task(pool.clone(), wake_notifier.clone()));
        let committer = Committer::start(pool.clone(), wake_notifier.clone());
        PgEventStore {
            pool,
            upcasters,
            wake_notifier,
            committer,
        }
    }

    /// The pool it writes with.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn decode(&self, row: &PgRow) -> StoreResult<RecordedEvent> {
        let tx: String = row.try_get("tx").map_err(db_err)?;
        let position: i64 = row.try_get("position").map_err(db_err)?;
        let version: i64 = row.try_get("version").map_err(db_err)?;
        let metadata: Value = row.try_get("metadata").map_err(db_err)?;
        let metadata: Metadata =
            serde_json::from_value(metadata).map_err(|e| StoreError::Decode(e.to_string()))?;
        let mut event = RecordedEvent {
            event_id: row.try_get("event_id").map_err(db_err)?,
            stream_id: row.try_get("stream_id").map_err(db_err)?,
            version: version as u64,
            position: Position::new(parse_tx(&tx)?, position as u64),
            event_type: row.try_get("event_type").map_err(db_err)?,
            data: row.try_get("data").map_err(db_err)?,
            metadata,
        };
        self.upcasters
            .upcast(&mut event)
            .map_err(StoreError::Decode)?;
        Ok(event)
    }

    async fn append_in(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<Option<AppendResult>, sqlx::Error> {
        if events.is_empty() {
            let (version, position) = stream_head(&mut **tx, stream_id).await?;
            return Ok(expected.matches(version).then_some(AppendResult {
                version,
                position: position.unwrap_or(Position::START),
            }));
        }
        let rows = insert(&mut **tx, stream_id, expected, events).await?;
        Ok(rows)
    }

    /// When an append was refused, decides whether it was a retry of one already stored
    /// (same ids, right after the same expected version) and if so answers as the first did.
    async fn stored_retry(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> StoreResult<Option<AppendResult>> {
        if events.is_empty() {
            return Ok(None);
        }
        let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
        let rows = sqlx::query(
            "SELECT event_id, stream_id, version, position, transaction_id::text AS tx
             FROM events WHERE event_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        if rows.len() != ids.len() {
            return Ok(None);
        }
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: Uuid = row.try_get("event_id").map_err(db_err)?;
            let stream: String = row.try_get("stream_id").map_err(db_err)?;
            let version: i64 = row.try_get("version").map_err(db_err)?;
            let position: i64 = row.try_get("position").map_err(db_err)?;
            let tx: String = row.try_get("tx").map_err(db_err)?;
            if stream != stream_id {
                return Ok(None);
            }
            found.push((
                id,
                version as u64,
                Position::new(parse_tx(&tx)?, position as u64),
            ));
        }
        // The stored events must be exactly these, in this order, contiguous.
        let mut last = None;
        for (i, event) in events.iter().enumerate() {
            let Some(&(_, version, position)) = found.iter().find(|(id, ..)| *id == event.event_id)
            else {
                return Ok(None);
            };
            let first = found.iter().map(|f| f.1).min().unwrap_or(0);
            if version != first + i as u64 {
                return Ok(None);
            }
            if i == 0 {
                // The first event went in right after the expected version.
                if !version
                    .checked_sub(1)
                    .is_some_and(|before| expected.matches(before))
                {
                    return Ok(None);
                }
            }
            last = Some(AppendResult { version, position });
        }
        Ok(last)
    }

    async fn conflict(&self, stream_id: &str, expected: ExpectedVersion) -> StoreError {
        let actual = stream_head(&self.pool, stream_id)
            .await
            .ok()
            .map(|(v, _)| v);
        StoreError::WrongExpectedVersion {
            stream: stream_id.to_owned(),
            expected,
            actual,
        }
    }

    /// Reads a page of `$all` after `after`, only rows of finished transactions.
    async fn read_page(&self, after: Position, limit: usize) -> StoreResult<Vec<RecordedEvent>> {
        Ok(self.read_page_and_withheld(after, limit).await?.0)
    }

    /// Reads a page of `$all` after `after` (only rows below the bound of
    /// [`BOUND_CTES`]), and in the same snapshot whether committed events exist that a
    /// running transaction holds back.
    /// One statement, so nothing can commit between the two answers: when nothing is
    /// held back, every event committed so far has been read and the next one will be
    /// announced by a notification.
    async fn read_page_and_withheld(
        &self,
        after: Position,
        limit: usize,
    ) -> StoreResult<(Vec<RecordedEvent>, bool)> {
        let sql = format!(
            "{BOUND_CTES}, page AS (
                 SELECT {SELECT_COLUMNS} FROM events
                 WHERE (transaction_id, position) > ($1::text::xid8, $2)
                   AND transaction_id < (SELECT bound FROM b)
                 ORDER BY transaction_id, position
                 LIMIT $3
             )
             SELECT page.*, coalesce(b.head >= b.bound, false) AS withheld
             FROM b LEFT JOIN page ON TRUE
             ORDER BY page.tx::xid8, page.position"
        );
        let rows = sqlx::query(&sql)
            .bind(after.major.to_string())
            .bind(after.minor as i64)
            .bind(limit.min(i64::MAX as usize) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut withheld = false;
        let mut page = Vec::with_capacity(rows.len());
        for row in &rows {
            withheld = row.try_get("withheld").map_err(db_err)?;
            let position: Option<i64> = row.try_get("position").map_err(db_err)?;
            if position.is_some() {
                page.push(self.decode(row)?);
            }
        }
        Ok((page, withheld))
    }

    /// The old way of a multi-stream append: one transaction, one statement per part.
    async fn append_multi_in_transaction(
        &self,
        appends: &[StreamAppend],
    ) -> Result<Outcome, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let mut results = Vec::with_capacity(appends.len());
        for (i, a) in appends.iter().enumerate() {
            match self
                .append_in(&mut tx, &a.stream_id, a.expected, &a.events)
                .await?
            {
                Some(r) => results.push(r),
                None => {
                    tx.rollback().await?;
                    return Ok(Outcome::Refused(i));
                }
            }
        }
        tx.commit().await?;
        Ok(Outcome::Done(results))
    }

    /// The first part whose stream is not at its expected version now (the last part
    /// when all are: then the refusal was a race already lost and won again).
    async fn first_mismatch(&self, appends: &[StreamAppend]) -> StoreResult<usize> {
        for (i, a) in appends.iter().enumerate() {
            let (version, _) = stream_head(&self.pool, &a.stream_id)
                .await
                .map_err(db_err)?;
            if !a.expected.matches(version) {
                return Ok(i);
            }
        }
        Ok(appends.len().saturating_sub(1))
    }
}

async fn insert<'e, E: sqlx::PgExecutor<'e>>(
    executor: E,
    stream_id: &str,
    expected: ExpectedVersion,
    events: &[NewEvent],
) -> Result<Option<AppendResult>, sqlx::Error> {
    let expected_version: Option<i64> = expected.required_version().map(|n| n as i64);
    let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let data: Vec<&Value> = events.iter().map(|e| &e.data).collect();
    let meta: Vec<Value> = events
        .iter()
        .map(|e| serde_json::to_value(&e.metadata).unwrap_or(Value::Null))
        .collect();
    let rows = sqlx::query(INSERT_SQL)
        .bind(stream_id)
        .bind(&ids)
        .bind(&types)
        .bind(&data)
        .bind(&meta)
        .bind(expected_version)
        .fetch_all(executor)
        .await?;
    let Some(last) = rows.last() else {
        return Ok(None);
    };
    let version: i64 = last.try_get("version")?;
    let position: i64 = last.try_get("position")?;
    let tx: String = last.try_get("tx")?;
    let major = tx
        .parse::<u64>()
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Some(AppendResult {
        version: version as u64,
        position: Position::new(major, position as u64),
    }))
}

async fn stream_head<'e, E: sqlx::PgExecutor<'e>>(
    executor: E,
    stream_id: &str,
) -> Result<(u64, Option<Position>), sqlx::Error> {
    let row = sqlx::query(
        "SELECT version, position, transaction_id::text AS tx FROM events
         WHERE stream_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(stream_id)
    .fetch_optional(executor)
    .await?;
    match row {
        None => Ok((0, None)),
        Some(row) => {
            let version: i64 = row.try_get("version")?;
            let position: i64 = row.try_get("position")?;
            let tx: String = row.try_get("tx")?;
            let major = tx
                .parse::<u64>()
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            Ok((version as u64, Some(Position::new(major, position as u64))))
        }
    }
}

fn parse_tx(tx: &str) -> StoreResult<u64> {
    tx.parse()
        .map_err(|_| StoreError::Decode(format!("bad transaction id {tx:?}")))
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23505"))
}

/// Maps a database error: connection trouble is `Unavailable`, the rest `Other`.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(ref d)
            if d.code()
                .as_deref()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        other => StoreError::Other(other.to_string()),
    }
}

/// Coalesces "something was appended" signals into NOTIFYs sent after the appends
/// committed. NOTIFY inside the append's own transaction would take PostgreSQL's global
/// notify lock at every commit and serialise all writers.
async fn notifier_task(pool: PgPool, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        if let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
            .bind(NOTIFY_CHANNEL)
            .execute(&pool)
            .await
        {
            if matches!(e, sqlx::Error::PoolClosed) {
                tracing::debug!("event notifier stopped: pool closed");
                return;
            }
            tracing::warn!(error = %e, "event notification failed; subscribers catch up on the next one");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl EventStore for PgEventStore {
    #[instrument(name = "event_store.append", skip_all, fields(stream = stream_id, events = events.len()), err(level = "debug"))]
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> StoreResult<AppendResult> {
        if events.is_empty() {
            let (version, position) = stream_head(&self.pool, stream_id).await.map_err(db_err)?;
            if !expected.matches(version) {
                return Err(StoreError::WrongExpectedVersion {
                    stream: stream_id.to_owned(),
                    expected,
                    actual: Some(version),
                });
            }
            return Ok(AppendResult {
                version,
                position: position.unwrap_or(Position::START),
            });
        }
        // `Any` can lose a race for the next version to a concurrent writer; it then simply
        // takes the version after. Bounded, so a pathological hot stream still answers.
        let mut attempts = 0;
        let mut events = events;
        loop {
            attempts += 1;
            let part = StreamAppend {
                stream_id: stream_id.to_owned(),
                expected,
                events,
            };
            let answer = self.committer.append(vec![part]).await;
            match answer.result {
                Ok(Outcome::Done(mut results)) => {
                    return results
                        .pop()
                        .ok_or_else(|| StoreError::Other("an append answered no result".into()));
                }
                Ok(Outcome::Refused(_)) | Err(Failure::KeyTaken) => {}
                Err(Failure::Store(e)) => return Err(e),
            }
            events = answer
                .appends
                .into_iter()
                .next()
                .map(|a| a.events)
                .ok_or_else(|| StoreError::Other("an append was not handed back".into()))?;
            if let Some(result) = self.stored_retry(stream_id, expected, &events).await? {
                return Ok(result);
            }
            if expected != ExpectedVersion::Any || attempts >= 20 {
                return Err(self.conflict(stream_id, expected).await);
            }
        }
    }

    #[instrument(name = "event_store.append_multi", skip_all, fields(streams = appends.len()), err(level = "debug"))]
    async fn append_multi(&self, appends: Vec<StreamAppend>) -> StoreResult<Vec<AppendResult>> {
        if appends.is_empty() {
            return Ok(Vec::new());
        }
        let distinct = appends
            .iter()
            .map(|a| a.stream_id.as_str())
            .collect::<std::collections::HashSet<_>>()
            .len()
            == appends.len();
        let (appends, outcome) = if distinct {
            let answer = self.committer.append(appends).await;
            if answer.appends.is_empty() {
                // The committer stopped before answering: nothing to look into.
                return Err(match answer.result {
                    Err(Failure::Store(e)) => e,
                    _ => StoreError::Other("an append was not handed back".into()),
                });
            }
            (answer.appends, answer.result)
        } else {
            // The same stream twice: each part must see the one before it, which one
            // statement cannot do; a transaction of one statement per part can.
            let outcome = self
                .append_multi_in_transaction(&appends)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        Failure::KeyTaken
                    } else {
                        Failure::Store(db_err(e))
                    }
                });
            if matches!(outcome, Ok(Outcome::Done(_)))
                && appends.iter().any(|a| !a.events.is_empty())
            {
                self.wake_notifier.notify_one();
            }
            (appends, outcome)
        };
        let failed = match outcome {
            Ok(Outcome::Done(results)) => return Ok(results),
            Ok(Outcome::Refused(i)) => Some(i),
            Err(Failure::KeyTaken) => None,
            Err(Failure::Store(e)) => return Err(e),
        };
        // A retry of a multi-stream append that already committed answers as the first.
        let mut replayed = Vec::with_capacity(appends.len());
        for a in &appends {
            match self
                .stored_retry(&a.stream_id, a.expected, &a.events)
                .await?
            {
                Some(r) => replayed.push(r),
                None => break,
            }
        }
        if replayed.len() == appends.len() && appends.iter().all(|a| !a.events.is_empty()) {
            return Ok(replayed);
        }
        let failed = match failed {
            Some(i) => i,
            None => self.first_mismatch(&appends).await?,
        };
        let a = &appends[failed];
        Err(self.conflict(&a.stream_id, a.expected).await)
    }

    fn supports_multi_stream(&self) -> bool {
        true
    }

    #[instrument(name = "event_store.read_stream", skip_all, fields(stream = stream_id), err(level = "debug"))]
    async fn read_stream(&self, stream_id: &str, from: u64) -> StoreResult<Vec<RecordedEvent>> {
        let sql = format!(
            "SELECT {SELECT_COLUMNS} FROM events WHERE stream_id = $1 AND version >= $2 ORDER BY version"
        );
        let rows = sqlx::query(&sql)
            .bind(stream_id)
            .bind(from.min(i64::MAX as u64) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| self.decode(r)).collect()
    }

    async fn read_all(
        &self,
        after: Option<Position>,
        limit: usize,
    ) -> StoreResult<Vec<RecordedEvent>> {
        self.read_page(after.unwrap_or(Position::START), limit)
            .await
    }

    fn subscribe_all(&self, after: Option<Position>) -> EventFeed {
        let store = PgEventStore {
            pool: self.pool.clone(),
            upcasters: self.upcasters.clone(),
            wake_notifier: self.wake_notifier.clone(),
            committer: self.committer.clone(),
        };
        let stream = async_stream::stream! {
            let mut position = after.unwrap_or(Position::START);
            let mut listener = match PgListener::connect_with(&store.pool).await {
                Ok(l) => l,
                Err(e) => { yield Err(db_err(e)); return; }
            };
            if let Err(e) = listener.listen(NOTIFY_CHANNEL).await {
                yield Err(db_err(e));
                return;
            }
            let mut backoff = Duration::from_millis(2);
            loop {
                let (page, withheld) = match store.read_page_and_withheld(position, PAGE).await {
                    Ok(p) => p,
                    Err(e) => { yield Err(e); return; }
                };
                let full = page.len() == PAGE;
                for event in page {
                    position = event.position;
                    yield Ok(event);
                }
                if full {
                    continue;
                }
                // Caught up with what can be delivered now.
                let wait = if withheld {
                    // A transaction still running holds back events committed after it;
                    // it may end without notifying anyone, so look again shortly, or at
                    // once when another append is announced.
                    let wait = backoff;
                    backoff = (backoff * 2).min(Duration::from_millis(10));
                    wait
                } else {
                    // Everything committed is read; the next append notifies. A lost
                    // notification costs at most this timeout.
                    backoff = Duration::from_millis(2);
                    Duration::from_secs(5)
                };
                match tokio::time::timeout(wait, listener.try_recv()).await {
                    Ok(Ok(_)) | Err(_) => {}
                    Ok(Err(e)) => { yield Err(db_err(e)); return; }
                }
                // The announcements that came while the consumer was busy: one read
                // answers them all.
                while let Some(Ok(Some(_))) = listener.try_recv().now_or_never() {}
            }
        };
        stream.boxed()
    }

    async fn head_position(&self) -> StoreResult<Option<Position>> {
        let row = sqlx::query(
            "SELECT position, transaction_id::text AS tx FROM events
             ORDER BY transaction_id DESC, position DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        match row {
            None => Ok(None),
            Some(row) => {
                let position: i64 = row.try_get("position").map_err(db_err)?;
                let tx: String = row.try_get("tx").map_err(db_err)?;
                Ok(Some(Position::new(parse_tx(&tx)?, position as u64)))
            }
        }
    }

    async fn count_after(&self, after: Option<Position>) -> StoreResult<u64> {
        let after = after.unwrap_or(Position::START);
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE (transaction_id, position) > ($1::text::xid8, $2)",
        )
        .bind(after.major.to_string())
        .bind(after.minor as i64)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(n as u64)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

//! Reads: a stream, pages of `$all` below the bound of finished transactions, the head
//! and counts.

use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{PgEventStore, db_err, parse_tx};
use crate::store::*;

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

const SELECT_COLUMNS: &str = "position, transaction_id::text AS tx, stream_id, version, event_id, event_type, data, metadata";

impl PgEventStore {
    /// Decodes a row. The columns that place the event (position, stream, version, type)
    /// must read, or the whole read fails; metadata that is not ours, or data an upcaster
    /// refuses, makes [`StoreError::Undecodable`] naming the event.
    pub(super) fn decode(&self, row: &PgRow) -> StoreResult<RecordedEvent> {
        let tx: String = row.try_get("tx").map_err(db_err)?;
        let position: i64 = row.try_get("position").map_err(db_err)?;
        let version: i64 = row.try_get("version").map_err(db_err)?;
        let stream_id: String = row.try_get("stream_id").map_err(db_err)?;
        let event_type: String = row.try_get("event_type").map_err(db_err)?;
        let position = Position::new(parse_tx(&tx)?, position as u64);
        let version = version as u64;
        let undecodable = |stream_id: String, event_type: String, reason: String| {
            UndecodableEvent {
                stream_id,
                version,
                position,
                event_type,
                reason,
            }
            .into_error()
        };
        let metadata: Value = row.try_get("metadata").map_err(db_err)?;
        let metadata: Metadata = match serde_json::from_value(metadata) {
            Ok(m) => m,
            Err(e) => {
                let reason = format!("metadata: {}", crate::store::short_reason(&e.to_string()));
                return Err(undecodable(stream_id, event_type, reason));
            }
        };
        let mut event = RecordedEvent {
            event_id: row.try_get("event_id").map_err(db_err)?,
            stream_id,
            version,
            position,
            event_type,
            data: row.try_get("data").map_err(db_err)?,
            metadata,
        };
        if let Err(e) = self.upcasters.upcast(&mut event) {
            return Err(undecodable(
                event.stream_id,
                event.event_type,
                crate::store::short_reason(&e),
            ));
        }
        Ok(event)
    }

    /// Reads a page of `$all` after `after`, only rows of finished transactions.
    /// A page ends before an event that cannot be decoded; see [`EventStore::read_all`].
    pub(super) async fn read_page(
        &self,
        after: Position,
        limit: usize,
    ) -> StoreResult<Vec<RecordedEvent>> {
        page_until_undecodable(self.read_page_and_withheld(after, limit).await?.0)
    }

    /// Reads a page of `$all` after `after` (only rows below the bound of
    /// [`BOUND_CTES`]), and in the same snapshot whether committed events exist that a
    /// running transaction holds back.
    /// One statement, so nothing can commit between the two answers: when nothing is
    /// held back, every event committed so far has been read and the next one will be
    /// announced by a notification. Each event is decoded on its own: one that cannot be
    /// is [`StoreError::Undecodable`] in its place.
    pub(super) async fn read_page_and_withheld(
        &self,
        after: Position,
        limit: usize,
    ) -> StoreResult<(Vec<StoreResult<RecordedEvent>>, bool)> {
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
                match self.decode(row) {
                    Ok(event) => page.push(Ok(event)),
                    Err(e @ StoreError::Undecodable(_)) => page.push(Err(e)),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok((page, withheld))
    }

    pub(super) async fn read_stream_from(
        &self,
        stream_id: &str,
        from: u64,
    ) -> StoreResult<Vec<RecordedEvent>> {
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

    pub(super) async fn head(&self) -> StoreResult<Option<Position>> {
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

    pub(super) async fn count(&self, after: Option<Position>) -> StoreResult<u64> {
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
}

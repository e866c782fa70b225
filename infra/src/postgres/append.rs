//! Appends: one stream through the group committer, several streams atomically, the
//! expectation check of empty appends, and recognising a retry of an append already
//! stored.

use serde_json::Value;
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use super::commit::{self, Failure, Outcome};
use super::{PgEventStore, db_err, parse_tx};
use crate::store::*;

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

impl PgEventStore {
    pub(super) async fn append_one(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> StoreResult<AppendResult> {
        if events.is_empty() {
            let (version, position) = stream_head(&self.pool, stream_id).await.map_err(db_err)?;
            return check_only(stream_id, expected, version, position);
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

    pub(super) async fn append_streams(
        &self,
        appends: Vec<StreamAppend>,
    ) -> StoreResult<Vec<AppendResult>> {
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
                .map_err(commit::failure);
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
    Ok(Some(AppendResult {
        version: version as u64,
        position: Position::new(commit::parse_tx(&tx)?, position as u64),
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
            let position = Position::new(commit::parse_tx(&tx)?, position as u64);
            Ok((version as u64, Some(position)))
        }
    }
}

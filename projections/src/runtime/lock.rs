//! Advisory locks: one active runner per projection across processes, one rebuild at a
//! time. Both are session-level locks on a dedicated connection, so they vanish with the
//! connection when a process dies.

use sqlx::PgConnection;

/// First key of a runner's lock (`pg_advisory_lock(int4, int4)`).
const RUNNER_CLASS: i32 = 0x494C_5001;
/// First key of a rebuild's lock.
const REBUILD_CLASS: i32 = 0x494C_5002;

/// Which lock of a projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockKind {
    /// Held by the task that applies live events.
    Runner,
    /// Held by a rebuild while it runs.
    Rebuild,
}

/// The two keys of `kind`'s lock on projection `name`: a class and a stable hash of the
/// name (FNV-1a, kept positive so it reads the same as an `oid` in `pg_locks`).
pub(crate) fn keys(kind: LockKind, name: &str) -> (i32, i32) {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in name.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    let class = match kind {
        LockKind::Runner => RUNNER_CLASS,
        LockKind::Rebuild => REBUILD_CLASS,
    };
    (class, (hash & 0x7fff_ffff) as i32)
}

/// Tries to take the lock on this connection's session; true when taken.
pub(crate) async fn try_lock(
    conn: &mut PgConnection,
    kind: LockKind,
    name: &str,
) -> Result<bool, sqlx::Error> {
    let (a, b) = keys(kind, name);
    sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
        .bind(a)
        .bind(b)
        .fetch_one(conn)
        .await
}

/// SQL that is true while some session holds the lock with keys `$a`, `$b`.
pub(crate) fn held_sql(a: &str, b: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                 AND objsubid = 2 AND classid = ({a})::oid AND objid = ({b})::oid)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_differ_by_kind_and_name() {
        assert_eq!(
            keys(LockKind::Runner, "people"),
            keys(LockKind::Runner, "people")
        );
        assert_ne!(
            keys(LockKind::Runner, "people"),
            keys(LockKind::Rebuild, "people")
        );
        assert_ne!(
            keys(LockKind::Runner, "people").1,
            keys(LockKind::Runner, "analytics").1
        );
        assert!(keys(LockKind::Runner, "interviews").1 >= 0);
    }
}

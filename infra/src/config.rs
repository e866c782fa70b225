//! Configuration from the environment.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL` | `postgres:///interview_ledger` | read models (and the PostgreSQL event store) |
//! | `EVENTSTORE_URL` | the `DATABASE_URL` | `esdb://…` for EventStoreDB/KurrentDB, `postgres://…` for the PostgreSQL event store |
//! | `COMMAND_API_ADDR` | `127.0.0.1:8080` | where the REST command API listens |
//! | `QUERY_API_ADDR` | `127.0.0.1:8081` | where the GraphQL query API listens |
//! | `DATABASE_MAX_CONNECTIONS` | `32` | pool size of each pool (the query API's is half of it when `serve` runs it beside the command API) |

use std::net::SocketAddr;
use std::sync::Arc;

use crate::any::AnyEventStore;
use crate::db::{self, DbError, PoolSettings};
use crate::esdb::EsdbEventStore;
use crate::postgres::PgEventStore;
use crate::store::StoreError;
use crate::upcast::Upcasters;

/// The default read-model database.
pub const DEFAULT_DATABASE_URL: &str = "postgres:///interview_ledger";
/// The default command API address.
pub const DEFAULT_COMMAND_API_ADDR: &str = "127.0.0.1:8080";
/// The default query API address.
pub const DEFAULT_QUERY_API_ADDR: &str = "127.0.0.1:8081";

/// A setting that cannot be used, naming the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The value does not parse.
    #[error("{variable} is invalid: {message}")]
    Invalid {
        /// The environment variable (or flag) at fault.
        variable: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A database could not be prepared.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The event store could not be opened.
    #[error("EVENTSTORE_URL: {0}")]
    Store(#[from] StoreError),
}

/// Which event store to use and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventStoreConfig {
    /// The PostgreSQL event store at this URL.
    Postgres(String),
    /// EventStoreDB / KurrentDB at this `esdb://` URL.
    Esdb(String),
}

impl EventStoreConfig {
    /// Chooses from `EVENTSTORE_URL` (if set and non-empty) or falls back to the database.
    pub fn from_urls(
        eventstore_url: Option<&str>,
        database_url: &str,
    ) -> Result<Self, ConfigError> {
        let url = match eventstore_url.map(str::trim).filter(|s| !s.is_empty()) {
            None => return Ok(EventStoreConfig::Postgres(database_url.to_owned())),
            Some(u) => u,
        };
        if url.starts_with("esdb://")
            || url.starts_with("esdb+discover://")
            || url.starts_with("kurrentdb://")
        {
            Ok(EventStoreConfig::Esdb(url.to_owned()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            db::connect_options(url).map_err(|e| ConfigError::Invalid {
                variable: "EVENTSTORE_URL",
                message: e.to_string(),
            })?;
            Ok(EventStoreConfig::Postgres(url.to_owned()))
        } else {
            Err(ConfigError::Invalid {
                variable: "EVENTSTORE_URL",
                message: format!(
                    "{:?} is neither an esdb:// nor a postgres:// URL",
                    db::redact(url)
                ),
            })
        }
    }

    /// Opens the store. For PostgreSQL: creates the database when missing and migrates it.
    pub async fn open(&self, pool: PoolSettings) -> Result<AnyEventStore, ConfigError> {
        let upcasters = Arc::new(Upcasters::standard());
        match self {
            EventStoreConfig::Postgres(url) => {
                db::create_database_if_missing(url).await?;
                let pool = db::connect(url, pool).await?;
                db::migrate(&pool).await?;
                Ok(AnyEventStore::Postgres(Arc::new(PgEventStore::new(
                    pool, upcasters,
                ))))
            }
            EventStoreConfig::Esdb(url) => Ok(AnyEventStore::Esdb(Arc::new(
                EsdbEventStore::connect(url, upcasters).await?,
            ))),
        }
    }
}

/// Parses a listen address, naming the variable on failure.
pub fn parse_addr(variable: &'static str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.trim().parse().map_err(|e| ConfigError::Invalid {
        variable,
        message: format!("{value:?}: {e}"),
    })
}

/// Checks a database URL, naming the variable on failure.
pub fn check_database_url(variable: &'static str, value: &str) -> Result<(), ConfigError> {
    db::connect_options(value)
        .map(|_| ())
        .map_err(|e| ConfigError::Invalid {
            variable,
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_eventstore_url_means_the_postgres_store_in_the_database() {
        let cfg = EventStoreConfig::from_urls(None, "postgres:///x").expect("valid");
        assert_eq!(cfg, EventStoreConfig::Postgres("postgres:///x".into()));
        let cfg = EventStoreConfig::from_urls(Some(" "), "postgres:///x").expect("valid");
        assert_eq!(cfg, EventStoreConfig::Postgres("postgres:///x".into()));
    }

    #[test]
    fn esdb_urls_select_eventstoredb() {
        let cfg =
            EventStoreConfig::from_urls(Some("esdb://127.0.0.1:2113?tls=false"), "postgres:///x")
                .expect("valid");
        assert!(matches!(cfg, EventStoreConfig::Esdb(_)));
    }

    #[test]
    fn a_malformed_url_names_the_variable() {
        let err = EventStoreConfig::from_urls(Some("mysql://x"), "postgres:///x").expect_err("bad");
        assert!(err.to_string().contains("EVENTSTORE_URL"), "{err}");
        let err = parse_addr("COMMAND_API_ADDR", "nope").expect_err("bad");
        assert!(err.to_string().contains("COMMAND_API_ADDR"), "{err}");
    }
}

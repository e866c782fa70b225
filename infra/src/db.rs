//! PostgreSQL pools, database creation and the event store's migrations.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

/// The event store's schema (the `events` table).
pub static MIGRATOR: Migrator = Migrator {
    // Several crates migrate one database; each ignores the others' entries.
    ignore_missing: true,
    ..sqlx::migrate!("./migrations")
};

/// Failures while preparing a database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL is not a PostgreSQL URL.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The server could not be reached or refused.
    #[error("cannot connect to PostgreSQL at {url}: {source}")]
    Connect {
        /// The URL without its password.
        url: String,
        /// The cause.
        source: sqlx::Error,
    },
    /// A statement failed.
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Pool settings.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Upper bound of open connections.
    pub max_connections: u32,
    /// How long a caller waits for a free connection.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 32,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Parses a PostgreSQL URL into connect options.
pub fn connect_options(url: &str) -> Result<PgConnectOptions, DbError> {
    PgConnectOptions::from_str(url)
        .map(|o| o.disable_statement_logging())
        .map_err(|e| DbError::InvalidUrl(format!("{}: {e}", redact(url))))
}

/// The URL with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Opens a pool. Connections are not pinged on every checkout: that costs a round trip
/// per use and a broken connection surfaces as an error on first use anyway.
pub async fn connect(url: &str, settings: PoolSettings) -> Result<PgPool, DbError> {
    let options = connect_options(url)?;
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(|source| DbError::Connect {
            url: redact(url),
            source,
        })
}

/// Creates the database named in `url` if it does not exist, connecting to the server's
/// `postgres` database to do so.
pub async fn create_database_if_missing(url: &str) -> Result<(), DbError> {
    let options = connect_options(url)?;
    let name = options
        .get_database()
        .map(str::to_owned)
        .unwrap_or_else(|| options.get_username().to_owned());
    match PgConnection::connect_with(&options).await {
        Ok(conn) => {
            let _ = conn.close().await;
            return Ok(());
        }
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {}
        Err(source) => {
            return Err(DbError::Connect {
                url: redact(url),
                source,
            });
        }
    }
    let mut admin = PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .map_err(|source| DbError::Connect {
            url: redact(url),
            source,
        })?;
    let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
    match sqlx::query(&sql).execute(&mut admin).await {
        Ok(_) => {}
        // Someone else created it first.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
        Err(e) => return Err(e.into()),
    }
    tracing::info!(database = %name, "created database");
    let _ = admin.close().await;
    Ok(())
}

/// Runs the event store's migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Fresh, throwaway databases for tests: each call creates a new database on the server
/// named by `TEST_DATABASE_URL` (default `postgres:///postgres`... any database of the
/// local server) and returns its URL.
pub mod testing {
    use super::*;

    /// A database created for one test.
    #[derive(Debug, Clone)]
    pub struct TestDatabase {
        /// Its URL.
        pub url: String,
        /// Its name.
        pub name: String,
    }

    fn base_url() -> String {
        std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
    }

    /// Creates an empty database with a unique name.
    pub async fn fresh_database() -> Result<TestDatabase, DbError> {
        let base = base_url();
        let options = connect_options(&base)?;
        let name = format!("il_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect_with(&options)
            .await
            .map_err(|source| DbError::Connect {
                url: redact(&base),
                source,
            })?;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await?;
        let _ = admin.close().await;
        let url = match base.rfind('/') {
            Some(i) if base[..i].contains("://") && i > base.find("://").unwrap_or(0) + 2 => {
                let (head, tail) = base.split_at(i);
                let query = tail.find('?').map(|q| &tail[q..]).unwrap_or("");
                format!("{head}/{name}{query}")
            }
            _ => return Err(DbError::InvalidUrl(redact(&base))),
        };
        Ok(TestDatabase { url, name })
    }

    impl TestDatabase {
        /// Drops the database, disconnecting anyone still on it.
        pub async fn drop_database(self) -> Result<(), DbError> {
            let base = base_url();
            let mut admin = PgConnection::connect_with(&connect_options(&base)?)
                .await
                .map_err(|source| DbError::Connect {
                    url: redact(&base),
                    source,
                })?;
            sqlx::query(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin)
            .await?;
            Ok(())
        }
    }
}

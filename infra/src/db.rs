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

/// Pool settings. Every connection of a pool also gets the server-side bounds of
/// [`bounded`]: TCP keepalives, `tcp_user_timeout` and `client_connection_check_interval`,
/// so that the server drops a connection whose client vanished within
/// [`DEAD_CLIENT_BOUND`] (and with it any session lock, e.g. a projector's).
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Upper bound of open connections.
    pub max_connections: u32,
    /// How long a caller waits for a free connection.
    pub acquire_timeout: Duration,
    /// `statement_timeout` of every connection: a statement running longer is cancelled
    /// by the server (SQLSTATE 57014). `None`: the server's setting (usually none).
    pub statement_timeout: Option<Duration>,
    /// `idle_in_transaction_session_timeout`: a session idle inside a transaction longer
    /// than this is ended by the server, so no transaction of ours holds locks or the
    /// log's horizon for long. `None`: the server's setting.
    pub idle_in_transaction_timeout: Option<Duration>,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 32,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: None,
            idle_in_transaction_timeout: Some(IDLE_IN_TRANSACTION_TIMEOUT),
        }
    }
}

impl PoolSettings {
    /// This pool with `statement_timeout` set to `timeout`.
    pub fn with_statement_timeout(self, timeout: Option<Duration>) -> Self {
        PoolSettings {
            statement_timeout: timeout,
            ..self
        }
    }
}

/// `statement_timeout` of the pools that answer requests (commands, queries): a
/// statement of a request never runs longer (the request itself gives up sooner).
pub const REQUEST_STATEMENT_TIMEOUT: Duration = Duration::from_secs(15);
/// `idle_in_transaction_session_timeout` of every pool.
pub const IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);
/// Server-side `tcp_keepalives_idle`: an idle connection is probed after this long.
pub const TCP_KEEPALIVES_IDLE: Duration = Duration::from_secs(8);
/// Server-side `tcp_keepalives_interval`: between unanswered probes.
pub const TCP_KEEPALIVES_INTERVAL: Duration = Duration::from_secs(4);
/// Server-side `tcp_keepalives_count`: unanswered probes before the connection is dead.
pub const TCP_KEEPALIVES_COUNT: u32 = 3;
/// Server-side `tcp_user_timeout`: data the server sent stays unacknowledged at most
/// this long (the case keepalives do not cover: a connection that is not idle).
pub const TCP_USER_TIMEOUT: Duration = Duration::from_secs(20);
/// Server-side `client_connection_check_interval`: how often a running statement checks
/// that its client is still there (PostgreSQL 14 or later).
pub const CLIENT_CONNECTION_CHECK_INTERVAL: Duration = Duration::from_secs(5);
/// The longest a connection whose client vanished (killed, partitioned, blackholed)
/// keeps its session on the server: keepalives declare an idle connection dead after
/// `8 + 3 × 4 = 20 s` (`tcp_user_timeout` does the same for one with data in flight),
/// and a statement running meanwhile notices within the next 5 s check.
pub const DEAD_CLIENT_BOUND: Duration = Duration::from_secs(25);

/// `options` with the bounds of `settings` and the dead-client settings above, sent as
/// startup parameters (no round trip; a server older than 14 refuses the connection:
/// it does not know `client_connection_check_interval`). Over a Unix socket the TCP
/// settings are accepted and ignored.
pub fn bounded(options: PgConnectOptions, settings: &PoolSettings) -> PgConnectOptions {
    let ms = |d: Duration| d.as_millis().to_string();
    let mut params: Vec<(&str, String)> = vec![
        (
            "tcp_keepalives_idle",
            TCP_KEEPALIVES_IDLE.as_secs().to_string(),
        ),
        (
            "tcp_keepalives_interval",
            TCP_KEEPALIVES_INTERVAL.as_secs().to_string(),
        ),
        ("tcp_keepalives_count", TCP_KEEPALIVES_COUNT.to_string()),
        ("tcp_user_timeout", ms(TCP_USER_TIMEOUT)),
        (
            "client_connection_check_interval",
            ms(CLIENT_CONNECTION_CHECK_INTERVAL),
        ),
    ];
    if let Some(t) = settings.statement_timeout {
        params.push(("statement_timeout", ms(t)));
    }
    if let Some(t) = settings.idle_in_transaction_timeout {
        params.push(("idle_in_transaction_session_timeout", ms(t)));
    }
    options.options(params)
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

/// Opens a pool, each connection [`bounded`] by `settings`. Connections are not pinged on every checkout: that costs a round trip
/// per use and a broken connection surfaces as an error on first use anyway.
pub async fn connect(url: &str, settings: PoolSettings) -> Result<PgPool, DbError> {
    let options = bounded(connect_options(url)?, &settings);
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
/// named by `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
/// and returns its URL, and [`testing::TestDb`] drops it however the test ends. Every
/// crate's test harness uses these, so the guard exists once.
pub mod testing {
    use std::future::Future;
    use std::ops::Deref;
    use std::sync::mpsc::Sender;

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

    async fn admin() -> Result<PgConnection, DbError> {
        let base = base_url();
        PgConnection::connect_with(&connect_options(&base)?)
            .await
            .map_err(|source| DbError::Connect {
                url: redact(&base),
                source,
            })
    }

    /// Creates an empty database with a unique name.
    pub async fn fresh_database() -> Result<TestDatabase, DbError> {
        let db = TestDatabase::named(&format!("il_test_{}", uuid::Uuid::new_v4().simple()))?;
        let mut admin = admin().await?;
        sqlx::query(&format!("CREATE DATABASE \"{}\"", db.name))
            .execute(&mut admin)
            .await?;
        let _ = admin.close().await;
        Ok(db)
    }

    /// Whether a database of that name exists on the test server.
    pub async fn database_exists(name: &str) -> Result<bool, DbError> {
        let mut admin = admin().await?;
        let exists =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(name)
                .fetch_one(&mut admin)
                .await?;
        let _ = admin.close().await;
        Ok(exists)
    }

    impl TestDatabase {
        /// A database of that name on the test server, created or not (a process under
        /// test may create it itself).
        pub fn named(name: &str) -> Result<TestDatabase, DbError> {
            let base = base_url();
            let url = match base.rfind('/') {
                Some(i) if base[..i].contains("://") && i > base.find("://").unwrap_or(0) + 2 => {
                    let (head, tail) = base.split_at(i);
                    let query = tail.find('?').map(|q| &tail[q..]).unwrap_or("");
                    format!("{head}/{name}{query}")
                }
                _ => return Err(DbError::InvalidUrl(redact(&base))),
            };
            Ok(TestDatabase {
                url,
                name: name.to_owned(),
            })
        }

        /// Drops the database if it exists, disconnecting anyone still on it.
        pub async fn drop_database(self) -> Result<(), DbError> {
            let mut admin = admin().await?;
            sqlx::query(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin)
            .await?;
            let _ = admin.close().await;
            Ok(())
        }
    }

    /// A test database that is dropped however the test ends: by
    /// [`TestDb::drop_database`] on the normal path, and by `Drop` when a panic unwinds
    /// past it first, so a failing test leaves no `il_test_*` database behind.
    pub struct TestDb(Option<TestDatabase>);

    impl TestDb {
        /// Creates a fresh database and guards it.
        ///
        /// # Panics
        /// When the test server cannot create one: there is no test without it.
        pub async fn fresh() -> TestDb {
            TestDb(Some(fresh_database().await.expect("test database")))
        }

        /// Guards a database that something else creates (a process under test).
        pub fn guard(db: TestDatabase) -> TestDb {
            TestDb(Some(db))
        }

        /// Drops the database now (the guard then has nothing left to do).
        pub async fn drop_database(mut self) -> Result<(), DbError> {
            match self.0.take() {
                Some(db) => db.drop_database().await,
                None => Ok(()),
            }
        }
    }

    impl Deref for TestDb {
        type Target = TestDatabase;

        fn deref(&self) -> &TestDatabase {
            self.0.as_ref().expect("the database is still there")
        }
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            let Some(db) = self.0.take() else {
                return;
            };
            // `Drop` cannot await, and the test's own runtime may be the one unwinding:
            // drop it from a short-lived thread with a runtime of its own, and wait.
            let name = db.name.clone();
            let dropped = std::thread::spawn(move || block_on(db.drop_database())).join();
            if !matches!(dropped, Ok(Ok(Ok(())))) {
                eprintln!("test database {name} could not be dropped: {dropped:?}");
            }
        }
    }

    fn block_on<F: Future>(f: F) -> std::io::Result<F::Output> {
        Ok(tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(f))
    }

    /// Runs `body` the way `#[tokio::test]` runs a test (on a runtime of its own, here
    /// on a thread so its panic can be watched); `body` sends the name of the database
    /// its harness made and then panics. Asserts that it did panic and that the database
    /// is gone afterwards: the harness's guard held.
    ///
    /// # Panics
    /// When the body does not panic, sends no name, or the database survives.
    pub fn assert_dropped_after_panic<F, Fut>(body: F)
    where
        F: FnOnce(Sender<String>) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        let test = std::thread::spawn(move || block_on(body(tx)));
        assert!(
            !matches!(test.join(), Ok(Ok(()))),
            "the test body was meant to panic"
        );
        let name = rx.recv().expect("the harness made a database");
        let exists = block_on(database_exists(&name))
            .expect("runtime")
            .expect("pg_database");
        assert!(!exists, "{name} is still there after the panic");
    }
}

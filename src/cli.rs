//! Command line: every setting from the environment with a matching flag.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use uuid::Uuid;

/// Interview Ledger: event-sourced interview scheduling — commands over REST, reads over GraphQL.
#[derive(Debug, Parser)]
#[command(name = "interview-ledger", version, about, propagate_version = true)]
pub struct Cli {
    /// Shared settings.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command understands.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Read-model database (and the PostgreSQL event store unless EVENTSTORE_URL says otherwise).
    #[arg(long, env = "DATABASE_URL", default_value = infra::config::DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,
    /// Event store: `esdb://…` for EventStoreDB/KurrentDB, `postgres://…` for PostgreSQL (default: DATABASE_URL).
    #[arg(long, env = "EVENTSTORE_URL", global = true)]
    pub eventstore_url: Option<String>,
    /// Pool size of each PostgreSQL pool.
    #[arg(
        long,
        env = "DATABASE_MAX_CONNECTIONS",
        default_value_t = 32,
        global = true
    )]
    pub database_max_connections: u32,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormatArg::Pretty, global = true)]
    pub log_format: LogFormatArg,
}

/// Log output.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    /// Human-readable.
    Pretty,
    /// JSON lines.
    Json,
}

/// Listen addresses.
#[derive(Debug, Clone, Args)]
pub struct Addrs {
    /// Where the REST command API listens.
    #[arg(long, env = "COMMAND_API_ADDR", default_value = infra::config::DEFAULT_COMMAND_API_ADDR)]
    pub command_api_addr: String,
    /// Where the GraphQL query API listens.
    #[arg(long, env = "QUERY_API_ADDR", default_value = infra::config::DEFAULT_QUERY_API_ADDR)]
    pub query_api_addr: String,
    /// Where the projector serves `/health/live` (and `/metrics` unless METRICS_ADDR is set).
    #[arg(long, env = "PROJECTOR_ADDR", default_value = "127.0.0.1:8082")]
    pub projector_addr: String,
    /// Where `/metrics` is served, once for the whole process, instead of on each API's
    /// and the projector's port. It asks for no token: bind it to a private address.
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<String>,
    /// How long a query waits for `X-Min-Position`, in milliseconds.
    #[arg(long, env = "MIN_POSITION_TIMEOUT_MS", default_value_t = 5000)]
    pub min_position_timeout_ms: u64,
    /// Age after which an unfinished multi-stream booking (a crash between its steps on
    /// EventStoreDB) is reconciled, in milliseconds.
    #[arg(long, env = "BOOKING_RECOVERY_GRACE_MS", default_value_t = 30_000)]
    pub booking_recovery_grace_ms: u64,
    /// Per-subject rate limits.
    #[command(flatten)]
    pub rate_limits: RateLimitArgs,
    /// How long each API waits for a request's headers before closing the connection
    /// (slowloris), in milliseconds.
    #[arg(long, env = "HTTP_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub http_header_read_timeout_ms: u64,
    /// Connections each API serves at once; more wait until one closes.
    #[arg(long, env = "HTTP_MAX_CONNECTIONS", default_value_t = 1024)]
    pub http_max_connections: usize,
}

impl Addrs {
    /// The HTTP bounds of each API.
    pub fn http_bounds(&self) -> infra::serve::HttpBounds {
        infra::serve::HttpBounds {
            header_read_timeout: std::time::Duration::from_millis(
                self.http_header_read_timeout_ms.max(1),
            ),
            max_connections: self.http_max_connections.max(1),
        }
    }
}

/// Token buckets per (tenant, subject) of each API (docs/API.md, Limits): a request
/// finding its bucket empty is answered 429 with `Retry-After`. 0 per second: no limit.
#[derive(Debug, Clone, Args)]
pub struct RateLimitArgs {
    /// Commands per second each caller may send, on average.
    #[arg(long, env = "RATE_LIMIT_COMMANDS_PER_SECOND", default_value_t = 50)]
    pub rate_limit_commands_per_second: u32,
    /// Commands a caller may send at once after a pause (0: one second's worth).
    #[arg(long, env = "RATE_LIMIT_COMMANDS_BURST", default_value_t = 100)]
    pub rate_limit_commands_burst: u32,
    /// Query API requests and subscription starts per second each caller may make.
    #[arg(long, env = "RATE_LIMIT_QUERIES_PER_SECOND", default_value_t = 200)]
    pub rate_limit_queries_per_second: u32,
    /// Query API requests a caller may make at once after a pause (0: one second's worth).
    #[arg(long, env = "RATE_LIMIT_QUERIES_BURST", default_value_t = 400)]
    pub rate_limit_queries_burst: u32,
}

impl RateLimitArgs {
    /// The command API's limit (`None`: off).
    pub fn commands(&self) -> Option<infra::rate_limit::RateLimit> {
        infra::rate_limit::RateLimit::from_settings(
            self.rate_limit_commands_per_second,
            self.rate_limit_commands_burst,
        )
    }

    /// The query API's limit (`None`: off).
    pub fn queries(&self) -> Option<infra::rate_limit::RateLimit> {
        infra::rate_limit::RateLimit::from_settings(
            self.rate_limit_queries_per_second,
            self.rate_limit_queries_burst,
        )
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Command API, projector and query API in one process (creates and migrates the database).
    Serve(#[command(flatten)] Addrs),
    /// Only the REST command API.
    CommandApi(#[command(flatten)] Addrs),
    /// Only the projector.
    Projector(#[command(flatten)] Addrs),
    /// Only the GraphQL query API.
    QueryApi(#[command(flatten)] Addrs),
    /// Projection status and rebuilds.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// Audit trails read from the event store.
    #[command(subcommand)]
    History(HistoryCommand),
    /// Realistic demo data through the command path.
    Seed(SeedArgs),
    /// Load generators and physical baselines (see BENCHMARKS.md).
    Bench(crate::bench::BenchArgs),
    /// Prints a bearer token signed with the built-in key of `DATABASE_URL`.
    Token(TokenArgs),
}

/// `token …`
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The tenant the token acts in.
    #[arg(long, default_value = domain::DEFAULT_TENANT)]
    pub tenant: domain::Tenant,
    /// A role (repeat for several): admin, recruiter, interviewer, candidate, service.
    #[arg(long = "role", required = true)]
    pub roles: Vec<infra::auth::Role>,
    /// The token's subject (who the audit trail names).
    #[arg(long, default_value = "cli")]
    pub subject: String,
    /// The person the token stands for.
    #[arg(long)]
    pub person: Option<Uuid>,
    /// A display name.
    #[arg(long)]
    pub name: Option<String>,
    /// How long it is valid, e.g. `1h`, `30m`, `7d` (at most 366 days).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub ttl: std::time::Duration,
}

/// `projections …`
#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Each projection's state, position and lag.
    Status {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Replay the event store into fresh tables while the old ones serve, then swap.
    Rebuild {
        /// The projection to rebuild.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        name: Option<String>,
        /// Rebuild every projection.
        #[arg(long)]
        all: bool,
    },
    /// Streams parked at an event a projection cannot apply (their later events are held).
    Parked {
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Apply a parked stream's events again, in order, after a fix (an upcaster, a corrected event).
    Retry {
        /// The projection.
        name: String,
        /// The stream (default: every stream the projection has parked).
        stream: Option<String>,
    },
    /// Drop the event a stream is parked at (recorded as an audit event), then apply the held ones.
    Skip {
        /// The projection.
        name: String,
        /// The stream.
        stream: String,
        /// Why (recorded in the audit event).
        #[arg(long)]
        reason: String,
        /// Who skips it (recorded as the audit event's actor; default: the OS user).
        #[arg(long, env = "USER", default_value = "operator")]
        actor: String,
    },
}

/// `history …`
#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// One interview's stream, oldest first.
    Interview {
        /// The interview id.
        id: Uuid,
        /// The tenant it belongs to.
        #[arg(long, default_value = domain::DEFAULT_TENANT)]
        tenant: domain::Tenant,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// `seed …`
#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// How many people (about a third interviewers).
    #[arg(long, default_value_t = 200)]
    pub people: usize,
    /// How many interviews.
    #[arg(long, default_value_t = 1000)]
    pub interviews: usize,
    /// Concurrent command streams.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Random seed (same seed, same data shape).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write the ids created to this file (JSON).
    #[arg(long)]
    pub ids_out: Option<PathBuf>,
}

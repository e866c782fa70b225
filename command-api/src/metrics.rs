//! Metrics of the command API: requests by route and status, latency, appends and
//! conflicts, recorded through the `metrics` facade into the process's one recorder
//! ([`infra::metrics`]), which `/metrics` renders.

use std::sync::Once;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

/// Requests by route and status, with latency.
const REQUESTS: &str = "command_api_requests_total";
const LATENCY: &str = "command_api_request_duration_seconds";
/// Requests answered 2xx, and 412.
const SUCCEEDED: &str = "command_api_commands_succeeded_total";
const PRECONDITION_FAILED: &str = "command_api_precondition_failed_total";
/// Stream appends and version conflicts, counted where the handler meets them.
const APPENDS: &str = "command_api_appends_total";
const CONFLICTS: &str = "command_api_version_conflicts_total";
/// Where command handlers found the state of a stream, refusals decided on memory that
/// were read again before answering, and how many streams this process remembers.
const STREAM_LOADS: &str = "command_api_stream_loads_total";
const REFUSALS_RECHECKED: &str = "command_api_refusals_rechecked_total";
const STREAMS_REMEMBERED: &str = "command_api_streams_remembered";

/// The request metrics of an app state. The series are the process's: two states in
/// one process count into the same ones.
pub struct Metrics {
    /// Whether the router serves `/metrics` (false when a listener of its own does,
    /// see [`Metrics::served_elsewhere`]).
    on_router: bool,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(true)
    }
}

impl Metrics {
    fn new(on_router: bool) -> Self {
        static DESCRIBED: Once = Once::new();
        infra::metrics::install();
        DESCRIBED.call_once(|| {
            describe_counter!(REQUESTS, "Requests by route and status.");
            describe_histogram!(LATENCY, "Request latency.");
            describe_counter!(APPENDS, "Stream appends made by commands.");
            describe_counter!(
                CONFLICTS,
                "Version conflicts met (retried or answered 412)."
            );
            describe_counter!(STREAM_LOADS, "Stream loads by where the state came from.");
            describe_counter!(
                REFUSALS_RECHECKED,
                "Refusals decided on memory, read again before answering."
            );
            describe_gauge!(STREAMS_REMEMBERED, "Streams this process remembers.");
            // Shown at 0 from the start, as before anything happened.
            for source in ["memory", "store", "assumed_new"] {
                counter!(STREAM_LOADS, "source" => source).absolute(0);
            }
            for name in [
                SUCCEEDED,
                PRECONDITION_FAILED,
                APPENDS,
                CONFLICTS,
                REFUSALS_RECHECKED,
            ] {
                counter!(name).absolute(0);
            }
        });
        Metrics { on_router }
    }

    /// Metrics whose `/metrics` the router leaves off: the process's exposition is served
    /// by a listener of its own (`METRICS_ADDR`).
    pub fn served_elsewhere() -> Self {
        Metrics::new(false)
    }

    /// Whether the router serves `/metrics`.
    pub fn on_router(&self) -> bool {
        self.on_router
    }

    /// Records one request.
    pub fn observe(&self, route: &str, status: u16, seconds: f64) {
        counter!(REQUESTS, "route" => route.to_owned(), "status" => status.to_string())
            .increment(1);
        histogram!(LATENCY, "route" => route.to_owned()).record(seconds);
        if (200..300).contains(&status) {
            counter!(SUCCEEDED).increment(1);
        }
        if status == 412 {
            counter!(PRECONDITION_FAILED).increment(1);
        }
    }

    /// Sets the series that are figures of the moment, which nothing records as they
    /// change: `remembered`, the number of streams held in memory.
    pub fn refresh(&self, remembered: usize) {
        gauge!(STREAMS_REMEMBERED).set(remembered as f64);
    }

    /// Prometheus text exposition of every series recorded in this process, with
    /// `remembered` as the number of streams held in memory.
    pub fn render(&self, remembered: usize) -> String {
        self.refresh(remembered);
        infra::metrics::render()
    }
}

/// `n` stream appends were made.
pub fn appended(n: usize) {
    counter!(APPENDS).increment(n as u64);
}

/// A version conflict was met (to be retried, or answered 412).
pub fn conflict() {
    counter!(CONFLICTS).increment(1);
}

/// The counter of stream loads served from `source` (kept by the stream memory).
pub fn stream_loads(source: &'static str) -> metrics::Counter {
    infra::metrics::install();
    counter!(STREAM_LOADS, "source" => source)
}

/// The counter of refusals decided on memory and read again before answering.
pub fn refusals_rechecked() -> metrics::Counter {
    infra::metrics::install();
    counter!(REFUSALS_RECHECKED)
}

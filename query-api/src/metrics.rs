//! Metrics of the GraphQL endpoint (requests, latency and errors by operation name,
//! errors by code) and of the row and response caches, recorded through the `metrics`
//! facade into the process's one recorder ([`infra::metrics`]), which `/metrics` renders.

use std::collections::HashSet;
use std::sync::{Mutex, Once, PoisonError};

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

use crate::read_model::{RowCache, TableStats};

/// Distinct operation labels kept; later names are counted as `other`, so clients
/// cannot grow the label set without bound.
const MAX_OPERATIONS: usize = 200;

const REQUESTS: &str = "graphql_requests_total";
const FAILED: &str = "graphql_request_errors_total";
const LATENCY: &str = "graphql_request_duration_seconds";
const ERRORS: &str = "graphql_errors_total";

const CACHE_ON: &str = "read_model_cache_on";
const CACHE_ENTRIES: &str = "read_model_cache_entries";
/// A counter of the row cache, per table: name, help, and which count it shows.
type CacheCounter = (&'static str, &'static str, fn(&TableStats) -> u64);

const CACHE_COUNTERS: [CacheCounter; 4] = [
    (
        "read_model_cache_hits_total",
        "Rows served from the in-process cache.",
        |s| s.hits,
    ),
    (
        "read_model_cache_misses_total",
        "Rows looked up and not in the cache.",
        |s| s.misses,
    ),
    (
        "read_model_cache_evictions_total",
        "Rows pushed out of the full cache.",
        |s| s.evictions,
    ),
    (
        "read_model_cache_invalidations_total",
        "Cached rows dropped on a change notice.",
        |s| s.invalidations,
    ),
];
const RESPONSE_HITS: &str = "read_model_response_cache_hits_total";
const RESPONSE_MISSES: &str = "read_model_response_cache_misses_total";
const RESPONSE_STORED: &str = "read_model_response_cache_stored_total";
const RESPONSE_ENTRIES: &str = "read_model_response_cache_entries";

/// The request metrics of an app state (the series are the process's), with the
/// operation labels seen so far.
pub struct Metrics {
    operations: Mutex<HashSet<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        infra::metrics::install();
        static DESCRIBED: Once = Once::new();
        DESCRIBED.call_once(describe);
        Metrics {
            operations: Mutex::new(HashSet::new()),
        }
    }
}

fn describe() {
    describe_counter!(REQUESTS, "GraphQL requests by operation name.");
    describe_counter!(FAILED, "GraphQL requests answered with errors.");
    describe_histogram!(LATENCY, "GraphQL request latency.");
    describe_counter!(ERRORS, "GraphQL errors by extensions.code.");
    describe_gauge!(
        CACHE_ON,
        "Whether the row cache serves (1) or is bypassed (0)."
    );
    describe_gauge!(CACHE_ENTRIES, "Rows held in the cache.");
    for (name, help, _) in CACHE_COUNTERS {
        describe_counter!(name, help);
    }
    describe_counter!(
        RESPONSE_HITS,
        "GraphQL answers served whole from the response cache."
    );
    describe_counter!(
        RESPONSE_MISSES,
        "Requests looked up in the response cache and run."
    );
    describe_counter!(RESPONSE_STORED, "Answers kept in the response cache.");
    describe_gauge!(RESPONSE_ENTRIES, "Answers held in the response cache.");
}

/// The label for an operation name: a valid GraphQL name, `anonymous` or `invalid`.
fn label(operation: Option<&str>) -> String {
    match operation {
        None | Some("") => "anonymous".to_owned(),
        Some(name)
            if name.len() <= 100
                && name.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic())
                && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) =>
        {
            name.to_owned()
        }
        Some(_) => "invalid".to_owned(),
    }
}

impl Metrics {
    /// Records one request: its operation, duration and the codes of its errors.
    pub fn observe<'a>(
        &self,
        operation: Option<&str>,
        seconds: f64,
        error_codes: impl IntoIterator<Item = &'a str>,
    ) {
        let mut name = label(operation);
        {
            let mut seen = self
                .operations
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !seen.contains(&name) {
                if seen.len() >= MAX_OPERATIONS {
                    name = "other".to_owned();
                } else {
                    seen.insert(name.clone());
                }
            }
        }
        let mut failed = false;
        for code in error_codes {
            failed = true;
            counter!(ERRORS, "code" => code.to_owned()).increment(1);
        }
        counter!(REQUESTS, "operation" => name.clone()).increment(1);
        // Counted at 0 too, so that every operation has the series.
        counter!(FAILED, "operation" => name.clone()).increment(u64::from(failed));
        histogram!(LATENCY, "operation" => name).record(seconds);
    }

    /// Sets the series that are figures of the moment, which nothing records as they
    /// change: the counts of `cache` (if any) as they are now.
    pub fn refresh(&self, cache: Option<&RowCache>) {
        if let Some(cache) = cache {
            publish(cache);
        }
    }

    /// The Prometheus text exposition of every series recorded in this process, with
    /// the counts of `cache` (if any) as they are now.
    pub fn render(&self, cache: Option<&RowCache>) -> String {
        self.refresh(cache);
        infra::metrics::render()
    }
}

/// Sets the cache's series from its own counts (which its stats also show): the
/// entries are a figure of the moment and the counters only ever grow.
fn publish(cache: &RowCache) {
    gauge!(CACHE_ON).set(f64::from(u8::from(cache.is_on())));
    let tables = [
        ("interviews", cache.interview_stats()),
        ("people", cache.people_stats()),
        ("schedules", cache.schedule_stats()),
    ];
    for (table, stats) in &tables {
        gauge!(CACHE_ENTRIES, "table" => *table).set(stats.entries as f64);
        for (name, _, value) in CACHE_COUNTERS {
            counter!(name, "table" => *table).absolute(value(stats));
        }
    }
    let r = cache.responses().stats();
    counter!(RESPONSE_HITS).absolute(r.hits);
    counter!(RESPONSE_MISSES).absolute(r.misses);
    counter!(RESPONSE_STORED).absolute(r.stored);
    gauge!(RESPONSE_ENTRIES).set(r.held as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_latency_and_errors_are_counted_per_operation() {
        let m = Metrics::default();
        m.observe(Some("Page"), 0.003, []);
        m.observe(Some("Page"), 0.2, ["BAD_USER_INPUT"]);
        m.observe(Some("bad\"name"), 0.001, []);
        let text = m.render(None);
        assert!(
            text.contains("graphql_requests_total{operation=\"Page\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("graphql_request_errors_total{operation=\"Page\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("graphql_errors_total{code=\"BAD_USER_INPUT\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "graphql_request_duration_seconds_bucket{operation=\"Page\",le=\"0.005\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("operation=\"invalid\""), "{text}");
    }

    #[test]
    fn the_cache_series_show_its_counts_at_scrape_time() {
        let m = Metrics::default();
        let cache = RowCache::new(crate::read_model::CacheCapacity::default());
        let text = m.render(Some(&cache));
        assert!(text.contains("read_model_cache_on 0"), "{text}");
        assert!(
            text.contains("read_model_cache_entries{table=\"schedules\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("read_model_response_cache_stored_total 0"),
            "{text}"
        );
    }
}

//! Prometheus text metrics of the GraphQL endpoint: requests, latency and errors by
//! operation name, and errors by code.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::read_model::{RowCache, TableStats};

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// Distinct operation labels kept; later names are counted as `other`, so clients
/// cannot grow the label set without bound.
const MAX_OPERATIONS: usize = 200;

#[derive(Default)]
struct OpStats {
    requests: u64,
    failed: u64,
    buckets: [u64; BUCKETS.len()],
    sum_seconds: f64,
}

#[derive(Default)]
struct Inner {
    ops: BTreeMap<String, OpStats>,
    errors: HashMap<String, u64>,
}

/// The counters; shared by every request.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
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
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let mut name = label(operation);
        if !inner.ops.contains_key(&name) && inner.ops.len() >= MAX_OPERATIONS {
            name = "other".to_owned();
        }
        let mut failed = false;
        for code in error_codes {
            failed = true;
            *inner.errors.entry(code.to_owned()).or_default() += 1;
        }
        let op = inner.ops.entry(name).or_default();
        op.requests += 1;
        op.failed += u64::from(failed);
        op.sum_seconds += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                op.buckets[i] += 1;
            }
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let Ok(inner) = self.inner.lock() else {
            return String::new();
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP graphql_requests_total GraphQL requests by operation name."
        );
        let _ = writeln!(out, "# TYPE graphql_requests_total counter");
        for (name, op) in &inner.ops {
            let _ = writeln!(
                out,
                "graphql_requests_total{{operation=\"{name}\"}} {}",
                op.requests
            );
        }
        let _ = writeln!(
            out,
            "# HELP graphql_request_errors_total GraphQL requests answered with errors."
        );
        let _ = writeln!(out, "# TYPE graphql_request_errors_total counter");
        for (name, op) in &inner.ops {
            let _ = writeln!(
                out,
                "graphql_request_errors_total{{operation=\"{name}\"}} {}",
                op.failed
            );
        }
        let _ = writeln!(
            out,
            "# HELP graphql_request_duration_seconds GraphQL request latency."
        );
        let _ = writeln!(out, "# TYPE graphql_request_duration_seconds histogram");
        for (name, op) in &inner.ops {
            for (bound, count) in BUCKETS.iter().zip(op.buckets) {
                let _ = writeln!(
                    out,
                    "graphql_request_duration_seconds_bucket{{operation=\"{name}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "graphql_request_duration_seconds_bucket{{operation=\"{name}\",le=\"+Inf\"}} {}",
                op.requests
            );
            let _ = writeln!(
                out,
                "graphql_request_duration_seconds_sum{{operation=\"{name}\"}} {}",
                op.sum_seconds
            );
            let _ = writeln!(
                out,
                "graphql_request_duration_seconds_count{{operation=\"{name}\"}} {}",
                op.requests
            );
        }
        let _ = writeln!(
            out,
            "# HELP graphql_errors_total GraphQL errors by extensions.code."
        );
        let _ = writeln!(out, "# TYPE graphql_errors_total counter");
        let mut codes: Vec<_> = inner.errors.iter().collect();
        codes.sort();
        for (code, n) in codes {
            let _ = writeln!(out, "graphql_errors_total{{code=\"{code}\"}} {n}");
        }
        out
    }
}

/// A series of the row cache: name suffix, type, help and how to read it.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&TableStats) -> u64,
);

/// The row cache's counters in Prometheus text (nothing without a cache).
pub fn render_cache(cache: Option<&RowCache>) -> String {
    let Some(cache) = cache else {
        return String::new();
    };
    let tables = [
        ("interviews", cache.interview_stats()),
        ("people", cache.people_stats()),
        ("schedules", cache.schedule_stats()),
    ];
    let series: [Series; 5] = [
        (
            "hits_total",
            "counter",
            "Rows served from the in-process cache.",
            |s| s.hits,
        ),
        (
            "misses_total",
            "counter",
            "Rows looked up and not in the cache.",
            |s| s.misses,
        ),
        ("entries", "gauge", "Rows held in the cache.", |s| s.entries),
        (
            "evictions_total",
            "counter",
            "Rows pushed out of the full cache.",
            |s| s.evictions,
        ),
        (
            "invalidations_total",
            "counter",
            "Cached rows dropped on a change notice.",
            |s| s.invalidations,
        ),
    ];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP read_model_cache_on Whether the row cache serves (1) or is bypassed (0)."
    );
    let _ = writeln!(out, "# TYPE read_model_cache_on gauge");
    let _ = writeln!(out, "read_model_cache_on {}", u8::from(cache.is_on()));
    for (suffix, kind, help, value) in series {
        let _ = writeln!(out, "# HELP read_model_cache_{suffix} {help}");
        let _ = writeln!(out, "# TYPE read_model_cache_{suffix} {kind}");
        for (table, stats) in &tables {
            let _ = writeln!(
                out,
                "read_model_cache_{suffix}{{table=\"{table}\"}} {}",
                value(stats)
            );
        }
    }
    let r = cache.responses().stats();
    for (name, kind, help, value) in [
        (
            "read_model_response_cache_hits_total",
            "counter",
            "GraphQL answers served whole from the response cache.",
            r.hits,
        ),
        (
            "read_model_response_cache_misses_total",
            "counter",
            "Requests looked up in the response cache and run.",
            r.misses,
        ),
        (
            "read_model_response_cache_stored_total",
            "counter",
            "Answers kept in the response cache.",
            r.stored,
        ),
        (
            "read_model_response_cache_entries",
            "gauge",
            "Answers held in the response cache.",
            r.held,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    }
    out
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
        let text = m.render();
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
        assert!(text.contains("le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("operation=\"invalid\""), "{text}");
    }
}

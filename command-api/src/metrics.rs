//! Prometheus metrics of the command API: requests by route and status, latency
//! histogram, appends and conflicts.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Stream appends made by commands (each stream append counts once).
static APPENDS: AtomicU64 = AtomicU64::new(0);
/// Version conflicts met by commands (retried, or answered 412).
static CONFLICTS: AtomicU64 = AtomicU64::new(0);

/// Counts `n` stream appends made by a command.
pub fn appended(n: usize) {
    APPENDS.fetch_add(n as u64, Ordering::Relaxed);
}

/// Counts one version conflict met by a command.
pub fn conflict() {
    CONFLICTS.fetch_add(1, Ordering::Relaxed);
}

/// Counters and histograms, rendered as Prometheus text.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// Commands that appended events.
    pub appends: AtomicU64,
    /// Version conflicts met (retried or answered 412).
    pub conflicts: AtomicU64,
}

impl Metrics {
    /// Records one request.
    pub fn observe(&self, route: &str, status: u16, seconds: f64) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route.to_owned(), status)).or_default() += 1;
        }
        if let Ok(mut m) = self.latency.lock() {
            let h = m.entry(route.to_owned()).or_default();
            h.count += 1;
            h.sum += seconds;
            for (i, bound) in BUCKETS.iter().enumerate() {
                if seconds <= *bound {
                    h.counts[i] += 1;
                }
            }
        }
        if (200..300).contains(&status) {
            self.appends.fetch_add(1, Ordering::Relaxed);
        }
        if status == 412 {
            self.conflicts.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP command_api_requests_total Requests by route and status.\n");
        out.push_str("# TYPE command_api_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((route, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "command_api_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP command_api_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE command_api_request_duration_seconds histogram\n");
        if let Ok(m) = self.latency.lock() {
            for (route, h) in m.iter() {
                for (i, bound) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "command_api_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "command_api_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "command_api_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "command_api_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count
                );
            }
        }
        let _ = writeln!(
            out,
            "# TYPE command_api_commands_succeeded_total counter\ncommand_api_commands_succeeded_total {}",
            self.appends.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# TYPE command_api_precondition_failed_total counter\ncommand_api_precondition_failed_total {}",
            self.conflicts.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP command_api_appends_total Stream appends made by commands.\n# TYPE command_api_appends_total counter\ncommand_api_appends_total {}",
            APPENDS.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP command_api_version_conflicts_total Version conflicts met (retried or answered 412).\n# TYPE command_api_version_conflicts_total counter\ncommand_api_version_conflicts_total {}",
            CONFLICTS.load(Ordering::Relaxed)
        );
        out
    }
}

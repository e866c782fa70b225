//! Latency histograms, status-class counts and the measurement window.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// The measured window: requests that start before `from` are warm-up and not counted.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// End of the warm-up.
    pub from: Instant,
    /// End of the run: no request starts after it.
    pub until: Instant,
}

impl Window {
    /// Starts now: `warmup` then `duration`.
    pub fn starting_now(warmup: Duration, duration: Duration) -> Window {
        let from = Instant::now() + warmup;
        Window {
            from,
            until: from + duration,
        }
    }

    /// A window that measures nothing and is not over for a day (set-up traffic).
    pub fn unmeasured() -> Window {
        let far = Instant::now() + Duration::from_secs(86_400);
        Window {
            from: far,
            until: far,
        }
    }

    /// Whether a request that started at `t` is measured.
    pub fn measures(&self, t: Instant) -> bool {
        t >= self.from && t < self.until
    }

    /// Whether the run is over.
    pub fn over(&self) -> bool {
        Instant::now() >= self.until
    }

    /// The measured duration in seconds.
    pub fn seconds(&self) -> f64 {
        (self.until - self.from).as_secs_f64().max(1e-9)
    }
}

/// Latencies (µs) and outcome counts of one kind of operation.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Latency of every measured answered request, in microseconds.
    pub latency: Histogram<u64>,
    /// Counts per status class (`2xx`, `409`, `4xx`, `5xx`, `error`, …).
    pub classes: BTreeMap<String, u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl Stats {
    /// Empty.
    pub fn new() -> Stats {
        Stats {
            // 1 µs .. 10 min, 3 significant digits; these bounds are valid constants.
            latency: Histogram::new_with_bounds(1, 600_000_000, 3)
                .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!())),
            classes: BTreeMap::new(),
        }
    }

    /// Records one answered request.
    pub fn record(&mut self, class: &str, elapsed: Duration) {
        let us = (elapsed.as_micros() as u64).clamp(1, 600_000_000);
        self.latency.saturating_record(us);
        *self.classes.entry(class.to_owned()).or_default() += 1;
    }

    /// Counts an outcome without a latency (e.g. a transport error).
    pub fn count(&mut self, class: &str) {
        *self.classes.entry(class.to_owned()).or_default() += 1;
    }

    /// Adds another's figures.
    pub fn merge(&mut self, other: &Stats) {
        let _ = self.latency.add(&other.latency);
        for (k, v) in &other.classes {
            *self.classes.entry(k.clone()).or_default() += v;
        }
    }

    /// Requests answered with a 2xx (or a GraphQL answer without errors).
    pub fn ok(&self) -> u64 {
        self.classes.get("2xx").copied().unwrap_or(0)
    }

    /// Every answered or failed request.
    pub fn total(&self) -> u64 {
        self.classes.values().sum()
    }

    /// 5xx answers and transport errors.
    pub fn failures(&self) -> u64 {
        self.classes
            .iter()
            .filter(|(k, _)| k.starts_with('5') || k.as_str() == "error")
            .map(|(_, v)| v)
            .sum()
    }

    /// The q-quantile in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    /// The largest latency in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.latency.max() as f64 / 1000.0
    }

    /// A summary: throughput over `seconds` (every answered request) and latencies.
    pub fn summary(&self, seconds: f64) -> Summary {
        Summary {
            throughput: self.latency.len() as f64 / seconds.max(1e-9),
            p50_ms: self.ms(0.50),
            p95_ms: self.ms(0.95),
            p99_ms: self.ms(0.99),
            max_ms: self.max_ms(),
            classes: self.classes.clone(),
        }
    }
}

/// The figures of one operation.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Answered requests per second.
    pub throughput: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// Outcome counts.
    pub classes: BTreeMap<String, u64>,
}

impl Summary {
    /// As JSON (status classes under `status`).
    pub fn json(&self) -> Value {
        json!({
            "throughput": round(self.throughput),
            "p50_ms": round(self.p50_ms),
            "p95_ms": round(self.p95_ms),
            "p99_ms": round(self.p99_ms),
            "max_ms": round(self.max_ms),
            "status": self.classes,
        })
    }

    /// `2xx=… 409=…` for humans.
    pub fn classes_line(&self) -> String {
        self.classes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Three decimals are enough for every figure.
pub fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The status class of an HTTP status.
pub fn class_of(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        409 => "409",
        412 => "412",
        400..=499 => "4xx",
        503 => "503",
        500..=599 => "5xx",
        _ => "other",
    }
}

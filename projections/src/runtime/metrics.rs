//! Counters and gauges of the projector, rendered in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use crate::setup::ProjectionState;

/// The metrics of one projection. Plain atomics: written by its task, read by a scrape.
#[derive(Debug, Default)]
pub struct ProjectionMetrics {
    events_applied: AtomicU64,
    batches: AtomicU64,
    batch_micros: AtomicU64,
    lag_events: AtomicU64,
    lag_millis: AtomicU64,
    transient_errors: AtomicU64,
    state: AtomicU8,
}

impl ProjectionMetrics {
    pub(crate) fn batch(&self, events: usize, took: Duration) {
        self.events_applied
            .fetch_add(events as u64, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.batch_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub(crate) fn lag(&self, events: u64, behind: Duration) {
        self.lag_events.store(events, Ordering::Relaxed);
        self.lag_millis
            .store(behind.as_millis() as u64, Ordering::Relaxed);
    }

    pub(crate) fn transient_error(&self) {
        self.transient_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn state(&self, state: ProjectionState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    /// Events applied by this process since it started.
    pub fn events_applied(&self) -> u64 {
        self.events_applied.load(Ordering::Relaxed)
    }

    /// The state this process last saw.
    pub fn current_state(&self) -> ProjectionState {
        ProjectionState::from_index(self.state.load(Ordering::Relaxed))
    }
}

/// The metrics of every projection a [`crate::Projector`] runs.
#[derive(Debug, Default)]
pub struct Metrics {
    entries: Vec<(&'static str, Arc<ProjectionMetrics>)>,
}

impl Metrics {
    pub(crate) fn new(names: impl IntoIterator<Item = &'static str>) -> Self {
        Metrics {
            entries: names
                .into_iter()
                .map(|n| (n, Arc::new(ProjectionMetrics::default())))
                .collect(),
        }
    }

    /// The metrics of projection `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<ProjectionMetrics>> {
        self.entries
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| m)
    }

    /// Every metric in the Prometheus text exposition format (version 0.0.4).
    pub fn render_prometheus(&self) -> String {
        let mut out = String::new();
        let mut family =
            |name: &str, kind: &str, help: &str, value: &dyn Fn(&ProjectionMetrics) -> String| {
                let _ = writeln!(out, "# HELP {name} {help}");
                let _ = writeln!(out, "# TYPE {name} {kind}");
                for (projection, m) in &self.entries {
                    let _ = writeln!(out, "{name}{{projection=\"{projection}\"}} {}", value(m));
                }
            };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        family(
            "projection_events_applied_total",
            "counter",
            "Events applied to the read model.",
            &|m| load(&m.events_applied).to_string(),
        );
        family(
            "projection_batches_total",
            "counter",
            "Batches committed.",
            &|m| load(&m.batches).to_string(),
        );
        family(
            "projection_batch_seconds_sum",
            "counter",
            "Time spent applying and committing batches.",
            &|m| format!("{:.6}", load(&m.batch_micros) as f64 / 1e6),
        );
        family(
            "projection_lag_events",
            "gauge",
            "Events in the store after the checkpoint.",
            &|m| load(&m.lag_events).to_string(),
        );
        family(
            "projection_lag_seconds",
            "gauge",
            "Age of the last applied event while catching up; 0 when live.",
            &|m| format!("{:.3}", load(&m.lag_millis) as f64 / 1e3),
        );
        family(
            "projection_transient_errors_total",
            "counter",
            "Batches retried after a transient error.",
            &|m| load(&m.transient_errors).to_string(),
        );
        let _ = writeln!(
            out,
            "# HELP projection_state Current state (1 for the state it is in)."
        );
        let _ = writeln!(out, "# TYPE projection_state gauge");
        for (projection, m) in &self.entries {
            let current = m.current_state();
            for state in ProjectionState::ALL {
                let _ = writeln!(
                    out,
                    "projection_state{{projection=\"{projection}\",state=\"{}\"}} {}",
                    state.as_str(),
                    u8::from(*state == current)
                );
            }
        }
        out
    }
}

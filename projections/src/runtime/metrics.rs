//! Counters and gauges of the projector, recorded through the `metrics` facade into the
//! process's one recorder ([`infra::metrics`]) as they change, so a scrape reads them as
//! they are.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use metrics::{Counter, Gauge, counter, describe_counter, describe_gauge, gauge};

use crate::setup::ProjectionState;

const APPLIED: &str = "projection_events_applied_total";
const BATCHES: &str = "projection_batches_total";
/// A sum of seconds: a gauge that only goes up, as the facade's counters are integers.
const BATCH_SECONDS: &str = "projection_batch_seconds_sum";
const LAG_EVENTS: &str = "projection_lag_events";
const LAG_SECONDS: &str = "projection_lag_seconds";
const TRANSIENT_ERRORS: &str = "projection_transient_errors_total";
const STATE: &str = "projection_state";
const PARKED: &str = "projection_parked_streams";

fn describe() {
    describe_counter!(APPLIED, "Events applied to the read model.");
    describe_counter!(BATCHES, "Batches committed.");
    describe_gauge!(BATCH_SECONDS, "Time spent applying and committing batches.");
    describe_gauge!(LAG_EVENTS, "Events in the store after the checkpoint.");
    describe_gauge!(
        LAG_SECONDS,
        "Age of the last applied event while catching up; 0 when live."
    );
    describe_counter!(TRANSIENT_ERRORS, "Batches retried after a transient error.");
    describe_gauge!(STATE, "Current state (1 for the state it is in).");
    describe_gauge!(
        PARKED,
        "Streams parked at an event the projection cannot apply (held until retried or skipped)."
    );
}

/// The metrics of one projection: its series, and what this process reads back (events
/// applied, state), which the series cannot tell apart when several projectors share a
/// process.
#[derive(Debug)]
pub struct ProjectionMetrics {
    events_applied: AtomicU64,
    state: AtomicU8,
    parked_streams: AtomicU64,
    applied: Counter,
    batches: Counter,
    batch_seconds: Gauge,
    lag_events: Gauge,
    lag_seconds: Gauge,
    transient_errors: Counter,
    parked: Gauge,
    /// One per [`ProjectionState::ALL`], in that order.
    states: Vec<Gauge>,
}

impl ProjectionMetrics {
    fn new(projection: &'static str) -> Self {
        let label = [("projection", projection)];
        let m = ProjectionMetrics {
            events_applied: AtomicU64::new(0),
            state: AtomicU8::new(0),
            parked_streams: AtomicU64::new(0),
            applied: counter!(APPLIED, &label),
            batches: counter!(BATCHES, &label),
            batch_seconds: gauge!(BATCH_SECONDS, &label),
            lag_events: gauge!(LAG_EVENTS, &label),
            lag_seconds: gauge!(LAG_SECONDS, &label),
            transient_errors: counter!(TRANSIENT_ERRORS, &label),
            parked: gauge!(PARKED, &label),
            states: ProjectionState::ALL
                .iter()
                .map(|s| gauge!(STATE, "projection" => projection, "state" => s.as_str()))
                .collect(),
        };
        // Every series shows from the start, at 0 (or the state it starts in).
        for c in [&m.applied, &m.batches, &m.transient_errors] {
            c.increment(0);
        }
        for g in [&m.batch_seconds, &m.lag_events, &m.lag_seconds, &m.parked] {
            g.increment(0.0);
        }
        m.state(m.current_state());
        m
    }

    pub(crate) fn batch(&self, events: usize, took: Duration) {
        self.events_applied
            .fetch_add(events as u64, Ordering::Relaxed);
        self.applied.increment(events as u64);
        self.batches.increment(1);
        self.batch_seconds.increment(took.as_secs_f64());
    }

    pub(crate) fn lag(&self, events: u64, behind: Duration) {
        self.lag_events.set(events as f64);
        self.lag_seconds.set(behind.as_secs_f64());
    }

    pub(crate) fn transient_error(&self) {
        self.transient_errors.increment(1);
    }

    pub(crate) fn parked(&self, streams: u64) {
        self.parked_streams.store(streams, Ordering::Relaxed);
        self.parked.set(streams as f64);
    }

    /// Streams parked, as this process last counted them.
    pub fn parked_streams(&self) -> u64 {
        self.parked_streams.load(Ordering::Relaxed)
    }

    pub(crate) fn state(&self, state: ProjectionState) {
        self.state.store(state as u8, Ordering::Relaxed);
        for (s, g) in ProjectionState::ALL.iter().zip(&self.states) {
            g.set(f64::from(u8::from(*s == state)));
        }
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
        // Before any handle is taken: one taken with no recorder records nothing.
        infra::metrics::install();
        static DESCRIBED: Once = Once::new();
        DESCRIBED.call_once(describe);
        Metrics {
            entries: names
                .into_iter()
                .map(|n| (n, Arc::new(ProjectionMetrics::new(n))))
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

    /// Every series recorded in this process, in the Prometheus text exposition format
    /// (version 0.0.4).
    pub fn render_prometheus(&self) -> String {
        infra::metrics::render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_shows_from_the_start_and_follows_the_state() {
        let metrics = Metrics::new(["metrics_test"]);
        let m = metrics.get("metrics_test").expect("registered");
        let text = metrics.render_prometheus();
        for line in [
            "projection_events_applied_total{projection=\"metrics_test\"} 0",
            "projection_lag_seconds{projection=\"metrics_test\"} 0",
            "projection_state{projection=\"metrics_test\",state=\"catching_up\"} 1",
            "projection_state{projection=\"metrics_test\",state=\"live\"} 0",
            "projection_parked_streams{projection=\"metrics_test\"} 0",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        m.batch(3, Duration::from_millis(1500));
        m.state(ProjectionState::Live);
        m.lag(7, Duration::ZERO);
        m.parked(2);
        let text = metrics.render_prometheus();
        for line in [
            "projection_events_applied_total{projection=\"metrics_test\"} 3",
            "projection_batch_seconds_sum{projection=\"metrics_test\"} 1.5",
            "projection_lag_events{projection=\"metrics_test\"} 7",
            "projection_parked_streams{projection=\"metrics_test\"} 2",
            "projection_state{projection=\"metrics_test\",state=\"catching_up\"} 0",
            "projection_state{projection=\"metrics_test\",state=\"live\"} 1",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert_eq!(m.events_applied(), 3);
    }
}

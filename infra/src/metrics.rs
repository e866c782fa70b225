//! The process's one metrics recorder, rendered in the Prometheus text format.
//!
//! The `metrics` facade has a single global recorder per process, and `serve` runs every
//! part in one process (tests start several servers in one, too): so the first part to
//! ask installs it, the others find it there, and each part's `/metrics` renders all
//! series recorded in the process. Histogram buckets are fixed when the recorder is
//! built, which is why every histogram series of the workspace is listed here rather
//! than in the crate that records it.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Every histogram series, with the upper bounds (seconds) of its buckets.
const HISTOGRAMS: [(&str, &[f64]); 2] = [
    (
        "command_api_request_duration_seconds",
        &[
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ],
    ),
    (
        "graphql_request_duration_seconds",
        &[
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
        ],
    ),
];

/// How often histogram samples are folded into their buckets between scrapes (they
/// pile up in memory until then).
const UPKEEP: Duration = Duration::from_secs(5);

/// `None` when another recorder was installed first: nothing of ours can render it.
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder if no call did yet, and hands out its handle. Call it before
/// taking a handle to keep (`let c = metrics::counter!(..)`): one taken while no
/// recorder is installed records nothing, ever.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE.get_or_init(build).as_ref()
}

fn build() -> Option<PrometheusHandle> {
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in HISTOGRAMS {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets)
            .expect("every bucket list is non-empty");
    }
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::warn!("another metrics recorder is installed: /metrics will be empty");
        return None;
    }
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP);
                upkeep.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        // Scrapes still fold the samples in; only an unscraped process grows.
        tracing::warn!(%error, "metrics upkeep thread not started");
    }
    Some(handle)
}

/// Every series recorded in this process, in the Prometheus text exposition format.
pub fn render() -> String {
    install().map(PrometheusHandle::render).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_use_their_own_buckets_and_counters_render() {
        install();
        metrics::histogram!("graphql_request_duration_seconds", "operation" => "T").record(3.0);
        metrics::counter!("infra_metrics_test_total").increment(2);
        let text = render();
        assert!(text.contains("infra_metrics_test_total 2"), "{text}");
        assert!(
            text.contains("graphql_request_duration_seconds_bucket{operation=\"T\",le=\"10\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("graphql_request_duration_seconds_bucket{operation=\"T\",le=\"2.5\"} 0"),
            "{text}"
        );
    }
}

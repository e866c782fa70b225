//! `bench all --spawn`: a smoke test of the benchmark tool (no timing assertions).

use std::process::Command;

use serde_json::Value;

use crate::harness::BIN;

#[test]
fn bench_all_spawn_reports_every_figure() {
    let out = Command::new(BIN)
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        )
        .env_remove("EVENTSTORE_URL")
        .env("RUST_LOG", "warn")
        .args([
            "bench",
            "all",
            "--spawn",
            "--duration",
            "1",
            "--warmup",
            "0",
            "--clients",
            "4",
            "--json",
        ])
        .output()
        .expect("run bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_str(stdout.trim()).expect("one JSON object on stdout");
    let keys: &[(&str, &[&str])] = &[
        ("commands", &["throughput", "p50_ms", "p99_ms"]),
        ("queries", &["throughput", "p50_ms", "p99_ms"]),
        ("lag", &["p50_ms", "p99_ms"]),
        ("rebuild", &["events_per_s"]),
        (
            "baseline",
            &["insert_tps", "batch_rows_per_s", "select_tps"],
        ),
    ];
    for (part, fields) in keys {
        for field in *fields {
            let v = doc[part][field].as_f64();
            assert!(
                v.is_some_and(|v| v > 0.0),
                "{part}.{field} is not a positive number in {doc}"
            );
        }
    }
    for part in ["commands", "queries"] {
        let failures: u64 = doc[part]["status"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.starts_with('5') || *k == "error")
                    .filter_map(|(_, v)| v.as_u64())
                    .sum()
            })
            .unwrap_or(0);
        assert_eq!(failures, 0, "{part} had failures: {doc}");
    }
}

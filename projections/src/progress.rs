//! Rebuild progress: what is reported, and a reporter for terminals and logs.

use std::time::Duration;

/// How far a rebuild is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Events replayed so far.
    pub events: u64,
    /// Events in the store when last counted (grows if events arrive meanwhile).
    pub total: u64,
    /// Time since the rebuild started.
    pub elapsed: Duration,
}

impl Progress {
    /// Events per second so far.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.events as f64 / secs
        } else {
            0.0
        }
    }
}

/// A progress callback for [`crate::rebuild()`]: an indicatif bar with events/s and ETA
/// when `is_tty`, otherwise a plain line on stderr at most every two seconds (and at the end).
pub fn progress_reporter(is_tty: bool) -> impl Fn(Progress) + Send + Sync {
    use indicatif::{ProgressBar, ProgressStyle};
    use std::sync::Mutex;

    let bar = is_tty.then(|| {
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} events  {per_sec}  ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    });
    let last_line = Mutex::new(None::<Duration>);
    move |p: Progress| {
        if let Some(bar) = &bar {
            bar.set_length(p.total.max(p.events));
            bar.set_position(p.events);
            if p.events >= p.total {
                bar.finish();
            }
            return;
        }
        let Ok(mut last) = last_line.lock() else {
            return;
        };
        let due = last.is_none_or(|t| p.elapsed >= t + Duration::from_secs(2));
        if due || p.events >= p.total {
            *last = Some(p.elapsed);
            eprintln!(
                "rebuild: {}/{} events, {:.0} events/s, {:.1}s",
                p.events,
                p.total,
                p.rate(),
                p.elapsed.as_secs_f64()
            );
        }
    }
}

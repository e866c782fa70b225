//! Whole GraphQL answers by request body, for requests that read nothing but rows the
//! projector's per-id notices track: an interview by id, people by id.
//!
//! An answer is kept with the rows it was made from (its [`Dep`]s) and dropped as soon as
//! the listener hears that one of them changed, at the same moment the row cache drops
//! the row: so an answer from here is never older than the row cache would give, and
//! `X-Min-Position` holds for it exactly as for the rows.
//!
//! What may be kept is decided per request while it runs ([`Reads`]): every field it
//! resolves must be one whose value comes from such rows alone (see
//! `schema::guard::tracked_field`), every row must come from a table the row cache
//! tracks, and the answer must have no errors. Anything else (a list, feedback, a
//! transcript, history, analytics) is answered fresh every time.
//!
//! No answer made from rows read before an invalidation gets in after it: a request
//! takes a [`Ticket`] (the invalidation count) before it reads, and its answer is only
//! kept if none of its rows was invalidated since, and nothing was cleared.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use domain::Tenant;
use moka::sync::Cache;
use uuid::Uuid;

/// A row an answer was made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dep {
    /// `rm.interviews` row `id` (also when there was none: its creation changes the answer).
    Interview(Uuid),
    /// `rm.people` row `id` (likewise).
    Person(Uuid),
}

/// The rows one request read, and whether anything else was read.
#[derive(Debug, Default)]
pub struct Reads {
    deps: Mutex<Vec<Dep>>,
    untracked: AtomicBool,
}

impl Reads {
    /// The request read rows `deps`.
    pub fn record(&self, deps: impl IntoIterator<Item = Dep>) {
        lock(&self.deps).extend(deps);
    }

    /// The request read something no per-id notice tracks: its answer is not kept.
    pub fn untracked(&self) {
        self.untracked.store(true, Ordering::Relaxed);
    }

    /// The rows read, unless something untracked was read too.
    pub fn tracked(&self) -> Option<Vec<Dep>> {
        if self.untracked.load(Ordering::Relaxed) {
            return None;
        }
        let mut deps = lock(&self.deps).clone();
        deps.sort_unstable();
        deps.dedup();
        Some(deps)
    }
}

/// A kept answer: what the HTTP response was.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
    /// The operation name, for the metrics.
    pub operation: Option<String>,
}

/// The invalidation count a request read under; see the module docs.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

/// Counters of the response cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseStats {
    /// Answers served from here.
    pub hits: u64,
    /// Requests that looked here and ran.
    pub misses: u64,
    /// Answers kept.
    pub stored: u64,
    /// Answers held now.
    pub held: u64,
}

struct Entry {
    answer: Arc<Answer>,
    deps: Box<[Dep]>,
    /// The ticket it was made under.
    made: u64,
}

/// What decides whether a kept answer still holds. Answers are not dropped when a row
/// of theirs changes (nothing maps rows to answers): each is checked when it is found.
#[derive(Default)]
struct Generations {
    on: bool,
    /// Invalidations so far (and clears): the clock tickets read.
    epoch: u64,
    /// Answers made under an older ticket do not hold (set by a clear).
    floor: u64,
    /// When each row was last invalidated, since the last clear.
    invalidated: HashMap<Dep, u64>,
}

impl Generations {
    fn fresh(&self, deps: &[Dep], made: u64) -> bool {
        made >= self.floor
            && deps
                .iter()
                .all(|d| self.invalidated.get(d).is_none_or(|at| *at <= made))
    }

    fn clear(&mut self) {
        self.epoch += 1;
        self.floor = self.epoch;
        self.invalidated.clear();
    }
}

/// The cache of whole answers; part of the [`RowCache`](super::RowCache), on and off and
/// cleared with it.
pub struct ResponseCache {
    generations: Mutex<Generations>,
    /// Keyed by the viewer's tenant and the request body: the same request of another
    /// tenant is another answer.
    answers: Cache<(Tenant, Bytes), Arc<Entry>>,
    /// Answers held at most (0: none).
    capacity: usize,
    /// Which kinds of rows the row cache tracks (an answer from an untracked table is
    /// not kept: nothing would drop it when the row changes).
    interviews: bool,
    people: bool,
    hits: AtomicU64,
    misses: AtomicU64,
    stored: AtomicU64,
}

/// Largest answer kept.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ResponseCache {
    /// An empty cache, off, of at most `capacity` answers and `max_bytes` bytes, keeping
    /// answers made from interviews and/or people as those tables are tracked.
    pub(crate) fn new(capacity: usize, max_bytes: usize, interviews: bool, people: bool) -> Self {
        // moka bounds one weight: an answer weighs its bytes (key and body), and at least
        // an equal share of the budget, so that no more than `capacity` fit either.
        let share = max_bytes.checked_div(capacity).unwrap_or(max_bytes);
        let weight = move |key: &(Tenant, Bytes), entry: &Arc<Entry>| {
            let bytes = (key.0.as_str().len() + key.1.len() + entry.answer.body.len()).max(share);
            u32::try_from(bytes).unwrap_or(u32::MAX)
        };
        ResponseCache {
            generations: Mutex::new(Generations::default()),
            answers: Cache::builder()
                .max_capacity(max_bytes as u64)
                .weigher(weight)
                .build(),
            capacity,
            interviews,
            people,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stored: AtomicU64::new(0),
        }
    }

    /// Whether it serves and keeps answers now.
    pub fn is_on(&self) -> bool {
        self.capacity > 0 && (self.interviews || self.people) && lock(&self.generations).on
    }

    /// The kept answer to request `body` of `tenant`, if it still holds.
    pub fn get(&self, tenant: &Tenant, body: &Bytes) -> Option<Arc<Answer>> {
        let generations = lock(&self.generations);
        if !generations.on {
            return None;
        }
        let key = (tenant.clone(), body.clone());
        let found = match self.answers.get(&key) {
            None => None,
            Some(e) if generations.fresh(&e.deps, e.made) => Some(e.answer.clone()),
            Some(_) => {
                self.answers.invalidate(&key);
                None
            }
        };
        drop(generations);
        match &found {
            Some(_) => self.hits.fetch_add(1, Ordering::Relaxed),
            None => self.misses.fetch_add(1, Ordering::Relaxed),
        };
        found
    }

    /// To be taken before a request reads anything; `None` when off.
    pub fn ticket(&self) -> Option<Ticket> {
        let generations = lock(&self.generations);
        (generations.on && self.capacity > 0).then_some(Ticket(generations.epoch))
    }

    /// Keeps `answer` to request `body` of `tenant`, made from `deps` (rows of `tenant`)
    /// under `ticket`, unless one of them changed since, a table of theirs is not
    /// tracked, or it is too large.
    pub fn put(
        &self,
        ticket: Ticket,
        tenant: &Tenant,
        body: Bytes,
        deps: Vec<Dep>,
        answer: Answer,
    ) {
        let tracked = deps.iter().all(|d| match d {
            Dep::Interview(_) => self.interviews,
            Dep::Person(_) => self.people,
        });
        if !tracked || deps.is_empty() || answer.body.len() > MAX_ANSWER_BYTES {
            return;
        }
        let generations = lock(&self.generations);
        if !generations.on || !generations.fresh(&deps, ticket.0) {
            return;
        }
        // Held until the insert is done, so that a clear cannot come between the check
        // and the insert (`get` checks again anyway; this keeps `held` honest).
        self.answers.insert(
            (tenant.clone(), body),
            Arc::new(Entry {
                answer: Arc::new(answer),
                deps: deps.into_boxed_slice(),
                made: ticket.0,
            }),
        );
        drop(generations);
        self.stored.fetch_add(1, Ordering::Relaxed);
    }

    /// Row `dep` changed: the answers made from it are dropped.
    pub fn invalidate(&self, dep: Dep) {
        let mut generations = lock(&self.generations);
        generations.epoch += 1;
        let at = generations.epoch;
        generations.invalidated.insert(dep, at);
        // The record of invalidations only grows between clears; past a bound, start over.
        if generations.invalidated.len() > self.capacity.saturating_mul(4).max(1024) {
            generations.clear();
            self.answers.invalidate_all();
        }
    }

    /// Drops every answer (and refuses those being made).
    pub fn clear(&self) {
        lock(&self.generations).clear();
        self.answers.invalidate_all();
    }

    /// Turns it on or off, empty either way.
    pub(crate) fn switch(&self, on: bool) {
        let mut generations = lock(&self.generations);
        generations.clear();
        generations.on = on;
        self.answers.invalidate_all();
    }

    /// Its counters.
    pub fn stats(&self) -> ResponseStats {
        // The entry count is exact only once moka has applied the writes it buffers.
        self.answers.run_pending_tasks();
        ResponseStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            stored: self.stored.load(Ordering::Relaxed),
            held: self.answers.entry_count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> Answer {
        Answer {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_owned()),
            operation: None,
        }
    }

    fn dt() -> Tenant {
        Tenant::default_tenant()
    }

    fn on() -> ResponseCache {
        let c = ResponseCache::new(100, 1 << 20, true, true);
        c.switch(true);
        c
    }

    #[test]
    fn an_answer_is_dropped_when_one_of_its_rows_changes() {
        let c = on();
        let (i, p, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let t = c.ticket().expect("on");
        let deps = vec![Dep::Interview(i), Dep::Person(p)];
        c.put(t, &dt(), Bytes::from_static(b"q"), deps, answer("a"));
        assert_eq!(
            c.get(&dt(), &Bytes::from_static(b"q")).expect("kept").body,
            "a"
        );
        c.invalidate(Dep::Person(other));
        assert!(
            c.get(&dt(), &Bytes::from_static(b"q")).is_some(),
            "another row changed"
        );
        c.invalidate(Dep::Person(p));
        assert!(
            c.get(&dt(), &Bytes::from_static(b"q")).is_none(),
            "its person changed"
        );
        assert_eq!(c.stats().held, 0);
    }

    #[test]
    fn an_answer_made_before_a_change_is_not_kept_after_it() {
        let c = on();
        let i = Uuid::new_v4();
        let t = c.ticket().expect("on");
        c.invalidate(Dep::Interview(i));
        c.put(
            t,
            &dt(),
            Bytes::from_static(b"q"),
            vec![Dep::Interview(i)],
            answer("old"),
        );
        assert!(c.get(&dt(), &Bytes::from_static(b"q")).is_none());
        let t = c.ticket().expect("on");
        c.clear();
        c.put(
            t,
            &dt(),
            Bytes::from_static(b"q"),
            vec![Dep::Interview(i)],
            answer("old"),
        );
        assert!(
            c.get(&dt(), &Bytes::from_static(b"q")).is_none(),
            "made before a clear"
        );
    }

    #[test]
    fn off_untracked_or_empty_keeps_nothing() {
        let c = ResponseCache::new(100, 1 << 20, true, false);
        assert!(c.ticket().is_none(), "off");
        c.switch(true);
        let t = c.ticket().expect("on");
        let p = Uuid::new_v4();
        c.put(
            t,
            &dt(),
            Bytes::from_static(b"q"),
            vec![Dep::Person(p)],
            answer("a"),
        );
        assert!(
            c.get(&dt(), &Bytes::from_static(b"q")).is_none(),
            "people are not tracked"
        );
        c.put(t, &dt(), Bytes::from_static(b"q"), vec![], answer("a"));
        assert!(
            c.get(&dt(), &Bytes::from_static(b"q")).is_none(),
            "read no row at all"
        );
        c.switch(false);
        assert!(c.ticket().is_none());
    }

    #[test]
    fn it_holds_no_more_than_its_capacity_in_answers_or_bytes() {
        let c = ResponseCache::new(10, 1 << 20, true, true);
        c.switch(true);
        for n in 0..50 {
            let t = c.ticket().expect("on");
            let key = Bytes::from(format!("q{n}"));
            c.put(
                t,
                &dt(),
                key,
                vec![Dep::Interview(Uuid::new_v4())],
                answer("a"),
            );
            assert!(c.stats().held <= 10);
        }
        let c = ResponseCache::new(10, 64, true, true);
        c.switch(true);
        for n in 0..5 {
            let t = c.ticket().expect("on");
            c.put(
                t,
                &dt(),
                Bytes::from(format!("q{n}")),
                vec![Dep::Interview(Uuid::new_v4())],
                answer(&"x".repeat(30)),
            );
            c.answers.run_pending_tasks();
            assert!(c.answers.weighted_size() <= 64);
            assert!(c.stats().held <= 2);
        }
    }

    #[test]
    fn reads_are_tracked_until_something_untracked_is_read() {
        let r = Reads::default();
        let (i, p) = (Uuid::new_v4(), Uuid::new_v4());
        r.record([Dep::Interview(i)]);
        r.record([p, p].map(Dep::Person));
        assert_eq!(r.tracked(), Some(vec![Dep::Interview(i), Dep::Person(p)]));
        r.untracked();
        assert_eq!(r.tracked(), None);
    }
}

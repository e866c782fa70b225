//! An in-process cache of read-model rows by id (`rm.interviews`, `rm.people`, and each
//! person's whole schedule: `rm.schedule_owners`, `rm.availability_windows`,
//! `rm.bookings`), kept fresh by the projector's notifications, so that a hot
//! `interview(id)` or `availability(...)` never leaves the process.
//!
//! Rules, each one a way the cache could otherwise serve a row the projector has replaced:
//! - The notification listener ([`crate::notify`]) applies every invalidation itself, in
//!   delivery order, before it broadcasts the notice: by the time an `il_projection`
//!   notice (sent last in its transaction) wakes an `X-Min-Position` waiter, the
//!   invalidations of that transaction are applied. It also records the position each
//!   projection has reached ([`RowCache::caught_up`]), for waiters that find the
//!   checkpoint already there.
//! - While the listener is not listening, the cache is off: it holds nothing, serves
//!   nothing and takes nothing (reads go to the database). Turning it on empties it.
//! - A reader takes a [`Ticket`] before its `SELECT` and may put rows in only if no
//!   invalidation of those ids (nor a clear) happened since: a row read before an
//!   invalidation never lands in the cache after it. Invalidations mark one of
//!   [`STRIPES`] stripes of the id space, so a change elsewhere does not refuse the row.
//! - Each table holds at most its capacity; beyond it, the least recently used rows
//!   leave (a [`moka`] cache, LRU: its default admission filter would turn away the rows
//!   of a cold cache, where the newest are the ones about to be read again).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use domain::Tenant;
use infra::Position;
use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use uuid::Uuid;

use super::responses::{Dep, ResponseCache};
use super::{InterviewRow, PersonRow, PersonSchedule};

/// Bytes of whole answers held at most.
const RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// How many rows each table of the cache may hold; 0 turns that table off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheCapacity {
    /// `rm.interviews` rows (default 100,000).
    pub interviews: usize,
    /// `rm.people` rows (default 100,000).
    pub people: usize,
    /// People's whole schedules (owner row, windows and bookings; default 20,000).
    pub schedules: usize,
    /// Whole GraphQL answers made from interviews and people by id alone (default
    /// 10,000; see [`ResponseCache`]).
    pub responses: usize,
}

impl Default for CacheCapacity {
    fn default() -> Self {
        CacheCapacity {
            interviews: 100_000,
            people: 100_000,
            schedules: 20_000,
            responses: 10_000,
        }
    }
}

impl CacheCapacity {
    /// No caching at all.
    pub const OFF: CacheCapacity = CacheCapacity {
        interviews: 0,
        people: 0,
        schedules: 0,
        responses: 0,
    };
}

/// Invalidation marks are kept per stripe of the id space, not per id.
pub const STRIPES: usize = 1024;

/// The projections whose rows the cache holds: a waiter for a position needs the
/// listener to have heard these reach it (those whose table is not off).
const SOURCES: [&str; 3] = ["interviews", "people", "schedules"];

/// A row the cache can hold.
pub(crate) trait Cached: Clone {
    fn key(&self) -> Uuid;
}

impl Cached for InterviewRow {
    fn key(&self) -> Uuid {
        self.id
    }
}

impl Cached for PersonRow {
    fn key(&self) -> Uuid {
        self.id
    }
}

impl Cached for Arc<PersonSchedule> {
    fn key(&self) -> Uuid {
        self.person_id
    }
}

/// Taken (by a lookup) before a `SELECT` whose rows may then go into the cache; refused
/// when an invalidation of those rows, or a clear, came after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(Option<u64>);

/// What a lookup found.
#[derive(Debug)]
pub struct Lookup<V> {
    /// Rows served from the cache.
    pub found: Vec<V>,
    /// Ids to read from the database.
    pub missing: Vec<Uuid>,
    /// For putting the rows read into the cache.
    pub ticket: Ticket,
}

/// Counters of one table, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableStats {
    /// Rows served from memory.
    pub hits: u64,
    /// Rows looked for and not there (read from the database, or bypassed).
    pub misses: u64,
    /// Rows held now.
    pub entries: u64,
    /// Rows pushed out to respect the capacity.
    pub evictions: u64,
    /// Rows dropped because a notification said they changed.
    pub invalidations: u64,
}

/// What decides whether a row read under a [`Ticket`] may go in.
struct Generations {
    on: bool,
    /// Moves on every invalidation, clear and switch.
    seq: u64,
    /// `seq` of the last clear or switch.
    cleared: u64,
    /// `seq` of the last invalidation of an id in each stripe.
    stripes: Box<[u64]>,
}

/// A row as held, with the ticket it was read under.
#[derive(Clone)]
struct Filled<V> {
    row: V,
    ticket: u64,
}

struct Table<V> {
    capacity: usize,
    /// A clear drops the rows with moka's `invalidate_all`, which spares one put in the
    /// same clock tick: a row is served only if read under a ticket after the last clear.
    /// Keyed by tenant and id: ids repeat across tenants, rows never do.
    rows: Cache<(Tenant, Uuid), Filled<V>>,
    /// Fills hold it shared from their check to their insert, invalidations hold it
    /// exclusively from their mark to their removal: no insert falls in between.
    generations: RwLock<Generations>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: Arc<AtomicU64>,
    invalidations: AtomicU64,
}

fn stripe(id: Uuid) -> usize {
    let (a, b) = id.as_u64_pair();
    ((a ^ b) % STRIPES as u64) as usize
}

impl<V: Cached + Send + Sync + 'static> Table<V> {
    fn new(capacity: usize) -> Self {
        let evictions = Arc::new(AtomicU64::new(0));
        let evicted = evictions.clone();
        Table {
            capacity,
            rows: Cache::builder()
                .max_capacity(capacity as u64)
                .eviction_policy(EvictionPolicy::lru())
                .eviction_listener(move |_, _, cause| {
                    if cause == RemovalCause::Size {
                        evicted.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .build(),
            generations: RwLock::new(Generations {
                on: false,
                seq: 0,
                cleared: 0,
                stripes: vec![0; STRIPES].into_boxed_slice(),
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions,
            invalidations: AtomicU64::new(0),
        }
    }

    // Every write leaves the generations consistent before anything can panic, so a
    // poisoned lock is used as is.
    fn read(&self) -> RwLockReadGuard<'_, Generations> {
        self.generations
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Generations> {
        self.generations
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Row `key`, unless absent or from before the last clear.
    fn held(&self, generations: &Generations, key: &(Tenant, Uuid)) -> Option<V> {
        self.rows
            .get(key)
            .filter(|f| f.ticket >= generations.cleared)
            .map(|f| f.row)
    }

    fn lookup(&self, tenant: &Tenant, ids: &[Uuid]) -> Lookup<V> {
        let generations = self.read();
        if !generations.on || self.capacity == 0 {
            self.misses.fetch_add(ids.len() as u64, Ordering::Relaxed);
            return Lookup {
                found: Vec::new(),
                missing: ids.to_vec(),
                ticket: Ticket(None),
            };
        }
        let mut found = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match self.held(&generations, &(tenant.clone(), *id)) {
                Some(row) => found.push(row),
                None => missing.push(*id),
            }
        }
        self.hits.fetch_add(found.len() as u64, Ordering::Relaxed);
        self.misses
            .fetch_add(missing.len() as u64, Ordering::Relaxed);
        Lookup {
            found,
            missing,
            ticket: Ticket(Some(generations.seq)),
        }
    }

    /// Every row of `ids` if all are held (counted as hits); otherwise `None`, counting
    /// nothing (the caller then reads through [`Table::lookup`]).
    fn all(&self, tenant: &Tenant, ids: &[Uuid]) -> Option<Vec<V>> {
        let generations = self.read();
        if !generations.on {
            return None;
        }
        let rows: Option<Vec<V>> = ids
            .iter()
            .map(|id| self.held(&generations, &(tenant.clone(), *id)))
            .collect();
        if rows.is_some() {
            self.hits.fetch_add(ids.len() as u64, Ordering::Relaxed);
        }
        rows
    }

    /// Puts `rows`, all of `tenant` (as read for it).
    fn fill(&self, ticket: Ticket, tenant: &Tenant, rows: &[V]) {
        let Ticket(Some(taken)) = ticket else {
            return;
        };
        if rows.is_empty() || self.capacity == 0 {
            return;
        }
        let generations = self.read();
        if !generations.on || generations.cleared > taken {
            return;
        }
        for row in rows {
            let id = row.key();
            let key = (tenant.clone(), id);
            if generations.stripes[stripe(id)] <= taken && self.held(&generations, &key).is_none() {
                let row = row.clone();
                self.rows.insert(key, Filled { row, ticket: taken });
            }
        }
    }

    /// Drops row `(tenant, id)`. The stripes go by id alone: the same id of another
    /// tenant is refused once more than needed, never served.
    fn invalidate(&self, tenant: &Tenant, id: Uuid) {
        let mut generations = self.write();
        generations.seq += 1;
        generations.stripes[stripe(id)] = generations.seq;
        if self.rows.remove(&(tenant.clone(), id)).is_some() {
            self.invalidations.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Drops everything and refuses rows read before now; `switch` turns the table on or
    /// off, `None` leaves it as it is.
    fn reset(&self, switch: Option<bool>) {
        let mut generations = self.write();
        generations.seq += 1;
        generations.cleared = generations.seq;
        if let Some(on) = switch {
            generations.on = on;
        }
        self.rows.invalidate_all();
    }

    fn is_on(&self) -> bool {
        self.capacity > 0 && self.read().on
    }

    fn stats(&self) -> TableStats {
        // The entry count is exact only once moka has applied the writes it buffers.
        self.rows.run_pending_tasks();
        TableStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.rows.entry_count(),
            evictions: self.evictions.load(Ordering::Relaxed),
            invalidations: self.invalidations.load(Ordering::Relaxed),
        }
    }
}

/// The cache of `rm.interviews` and `rm.people` rows by id, and of whole schedules by
/// person id. Off until the notification listener turns it on.
pub struct RowCache {
    interviews: Table<InterviewRow>,
    people: Table<PersonRow>,
    schedules: Table<Arc<PersonSchedule>>,
    /// The position each projection is at as far as the listener knows: from the
    /// checkpoints when it (re)connected, then from every `il_projection` notice.
    heard: Mutex<HashMap<String, Position>>,
    /// Whole answers made from the rows above, dropped with them.
    responses: ResponseCache,
}

impl fmt::Debug for RowCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowCache")
            .field("interviews", &self.interviews.stats())
            .field("people", &self.people.stats())
            .field("schedules", &self.schedules.stats())
            .finish_non_exhaustive()
    }
}

impl RowCache {
    /// An empty cache, off, holding at most `capacity` rows per table.
    pub fn new(capacity: CacheCapacity) -> Self {
        RowCache {
            interviews: Table::new(capacity.interviews),
            people: Table::new(capacity.people),
            schedules: Table::new(capacity.schedules),
            heard: Mutex::new(HashMap::new()),
            responses: ResponseCache::new(
                capacity.responses,
                RESPONSE_BYTES,
                capacity.interviews > 0,
                capacity.people > 0,
            ),
        }
    }

    /// Whether it serves rows now (the listener is listening).
    pub fn is_on(&self) -> bool {
        self.interviews.read().on || self.people.read().on || self.schedules.read().on
    }

    /// Turns it on, empty, knowing the projections to be at `positions` (read from the
    /// checkpoints after the LISTEN was in place).
    pub fn switch_on(&self, positions: HashMap<String, Position>) {
        *self.heard.lock().unwrap_or_else(PoisonError::into_inner) = positions;
        self.interviews.reset(Some(true));
        self.people.reset(Some(true));
        self.schedules.reset(Some(true));
        self.responses.switch(true);
    }

    /// Turns it off and empties it: notifications may be missed from now on.
    pub fn switch_off(&self) {
        self.interviews.reset(Some(false));
        self.people.reset(Some(false));
        self.schedules.reset(Some(false));
        self.responses.switch(false);
        self.heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Drops every row (whatever may have changed, e.g. the listener fell behind).
    pub fn clear(&self) {
        self.interviews.reset(None);
        self.people.reset(None);
        self.schedules.reset(None);
        self.responses.clear();
    }

    /// The interview `id` of `tenant` changed. (Whole answers are dropped by id alone:
    /// they are kept per tenant, so this only ever drops more than needed.)
    pub fn invalidate_interview(&self, tenant: &Tenant, id: Uuid) {
        self.interviews.invalidate(tenant, id);
        self.responses.invalidate(Dep::Interview(id));
    }

    /// The person `id` of `tenant` changed.
    pub fn invalidate_person(&self, tenant: &Tenant, id: Uuid) {
        self.people.invalidate(tenant, id);
        self.responses.invalidate(Dep::Person(id));
    }

    /// The schedule (owner row, windows or bookings) of person `id` of `tenant` changed.
    pub fn invalidate_schedule(&self, tenant: &Tenant, id: Uuid) {
        self.schedules.invalidate(tenant, id);
    }

    /// Every row of projection `name` may have changed (its tables were swapped).
    pub fn invalidate_projection(&self, name: &str) {
        self.responses.clear();
        match name {
            "interviews" => self.interviews.reset(None),
            "people" => self.people.reset(None),
            "schedules" => self.schedules.reset(None),
            _ => {}
        }
    }

    /// Projection `name` is at `position` and the listener has applied every
    /// invalidation up to it.
    pub fn heard(&self, name: &str, position: Position) {
        let mut heard = self.heard.lock().unwrap_or_else(PoisonError::into_inner);
        match heard.get_mut(name) {
            Some(p) if *p >= position => {}
            Some(p) => *p = position,
            None => {
                heard.insert(name.to_owned(), position);
            }
        }
    }

    /// Whether every row the cache could serve reflects at least `target`: it is off, or
    /// the listener has heard each projection whose rows it holds reach `target` (so it
    /// applied their invalidations up to there).
    pub fn caught_up(&self, target: Position) -> bool {
        if !self.is_on() {
            return true;
        }
        let held = [
            self.interviews.capacity,
            self.people.capacity,
            self.schedules.capacity,
        ];
        let heard = self.heard.lock().unwrap_or_else(PoisonError::into_inner);
        SOURCES
            .iter()
            .zip(held)
            .filter(|(_, capacity)| *capacity > 0)
            .all(|(name, _)| heard.get(*name).is_some_and(|p| *p >= target))
    }

    /// Counters of the interviews table.
    pub fn interview_stats(&self) -> TableStats {
        self.interviews.stats()
    }

    /// Counters of the people table.
    pub fn people_stats(&self) -> TableStats {
        self.people.stats()
    }

    /// Counters of the schedules table (one entry per person).
    pub fn schedule_stats(&self) -> TableStats {
        self.schedules.stats()
    }

    /// Whether schedules are served from memory now (otherwise a read of schedules is
    /// better off asking the database for the query's range only).
    pub fn caches_schedules(&self) -> bool {
        self.schedules.is_on()
    }

    /// Like [`RowCache::lookup_interviews`], for whole schedules by person id.
    pub fn lookup_schedules(&self, tenant: &Tenant, ids: &[Uuid]) -> Lookup<Arc<PersonSchedule>> {
        self.schedules.lookup(tenant, ids)
    }

    /// Like [`RowCache::fill_interviews`], for whole schedules.
    pub fn fill_schedules(&self, ticket: Ticket, tenant: &Tenant, rows: &[Arc<PersonSchedule>]) {
        self.schedules.fill(ticket, tenant, rows);
    }

    /// The interviews of `tenant` with `ids` held, the ids to read, and the ticket to put
    /// what is read with [`RowCache::fill_interviews`]. Take it before the `SELECT` starts.
    pub fn lookup_interviews(&self, tenant: &Tenant, ids: &[Uuid]) -> Lookup<InterviewRow> {
        self.interviews.lookup(tenant, ids)
    }

    /// Puts rows of `tenant` read after `ticket` was taken, unless they may have changed
    /// since.
    pub fn fill_interviews(&self, ticket: Ticket, tenant: &Tenant, rows: &[InterviewRow]) {
        self.interviews.fill(ticket, tenant, rows);
    }

    /// Like [`RowCache::lookup_interviews`], for people.
    pub fn lookup_people(&self, tenant: &Tenant, ids: &[Uuid]) -> Lookup<PersonRow> {
        self.people.lookup(tenant, ids)
    }

    /// Like [`RowCache::fill_interviews`], for people.
    pub fn fill_people(&self, ticket: Ticket, tenant: &Tenant, rows: &[PersonRow]) {
        self.people.fill(ticket, tenant, rows);
    }

    /// The interview `id` of `tenant` if held.
    pub fn interview(&self, tenant: &Tenant, id: Uuid) -> Option<InterviewRow> {
        self.interviews
            .all(tenant, &[id])
            .and_then(|mut rows| rows.pop())
    }

    /// The cache of whole answers made from these rows.
    pub fn responses(&self) -> &ResponseCache {
        &self.responses
    }

    /// Every person of `tenant` with `ids` if all are held.
    pub fn people(&self, tenant: &Tenant, ids: &[Uuid]) -> Option<Vec<PersonRow>> {
        self.people.all(tenant, ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: Uuid, name: &str) -> PersonRow {
        PersonRow {
            id,
            name: name.to_owned(),
            email: None,
            roles: vec![],
            timezone: None,
            version: 1,
            updated_at: Default::default(),
            sort_key: name.to_lowercase(),
        }
    }

    fn on(capacity: usize) -> RowCache {
        let cache = RowCache::new(CacheCapacity {
            interviews: capacity,
            people: capacity,
            schedules: capacity,
            responses: capacity,
        });
        cache.switch_on(HashMap::new());
        cache
    }

    fn dt() -> Tenant {
        Tenant::default_tenant()
    }

    fn names(rows: &[PersonRow]) -> Vec<&str> {
        rows.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn off_it_serves_and_takes_nothing() {
        let cache = RowCache::new(CacheCapacity::default());
        let id = Uuid::new_v4();
        let lookup = cache.lookup_people(&dt(), &[id]);
        assert_eq!(lookup.missing, vec![id]);
        cache.fill_people(lookup.ticket, &dt(), &[person(id, "Ann")]);
        assert!(cache.people(&dt(), &[id]).is_none());
        cache.switch_on(HashMap::new());
        cache.fill_people(lookup.ticket, &dt(), &[person(id, "Ann")]);
        assert!(
            cache.people(&dt(), &[id]).is_none(),
            "a ticket taken while off is refused after"
        );
        let lookup = cache.lookup_people(&dt(), &[id]);
        cache.fill_people(lookup.ticket, &dt(), &[person(id, "Ann")]);
        assert_eq!(
            cache.people(&dt(), &[id]).as_deref().map(names),
            Some(vec!["Ann"])
        );
        cache.switch_off();
        assert!(cache.people(&dt(), &[id]).is_none(), "off empties it");
    }

    #[test]
    fn a_row_read_before_an_invalidation_is_not_kept() {
        let cache = on(10);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let before = cache.lookup_people(&dt(), &[a, b]).ticket;
        cache.invalidate_person(&dt(), a);
        cache.fill_people(before, &dt(), &[person(a, "Old A"), person(b, "B")]);
        assert!(
            cache.people(&dt(), &[a]).is_none(),
            "A changed after the ticket"
        );
        if stripe(a) != stripe(b) {
            assert!(cache.people(&dt(), &[b]).is_some(), "B did not change");
        }
        cache.clear();
        let after_clear = cache.lookup_people(&dt(), &[a]).ticket;
        cache.fill_people(before, &dt(), &[person(b, "B")]);
        cache.invalidate_projection("people");
        cache.fill_people(after_clear, &dt(), &[person(a, "A")]);
        assert!(cache.people(&dt(), &[a]).is_none() && cache.people(&dt(), &[b]).is_none());
    }

    #[test]
    fn an_invalidation_drops_a_held_row() {
        let cache = on(10);
        let id = Uuid::new_v4();
        let t = cache.lookup_people(&dt(), &[id]).ticket;
        cache.fill_people(t, &dt(), &[person(id, "Ann")]);
        assert!(cache.people(&dt(), &[id]).is_some());
        cache.invalidate_person(&dt(), id);
        assert!(cache.people(&dt(), &[id]).is_none());
        assert_eq!(cache.people_stats().invalidations, 1);
    }

    #[test]
    fn it_holds_at_most_its_capacity_and_keeps_what_is_read() {
        let cache = on(4);
        let ids: Vec<Uuid> = (0..10).map(|_| Uuid::new_v4()).collect();
        for (i, id) in ids.iter().enumerate() {
            let t = cache.lookup_people(&dt(), &[*id]).ticket;
            cache.fill_people(t, &dt(), &[person(*id, &format!("P{i}"))]);
            // The first one is read all the time.
            assert!(cache.people(&dt(), &ids[..1]).is_some(), "after {i}");
        }
        let stats = cache.people_stats();
        assert_eq!(stats.entries, 4);
        assert_eq!(stats.evictions, 6);
        assert!(
            cache.people(&dt(), &ids[9..]).is_some(),
            "the newest is there"
        );
    }

    #[test]
    fn a_row_of_one_tenant_is_never_served_to_another() {
        let cache = on(10);
        let acme = Tenant::parse("acme").expect("a slug");
        let id = Uuid::new_v4();
        let ticket = cache.lookup_people(&acme, &[id]).ticket;
        cache.fill_people(ticket, &acme, &[person(id, "Acme's")]);
        assert!(cache.people(&acme, &[id]).is_some());
        assert!(
            cache.people(&dt(), &[id]).is_none(),
            "same id, other tenant"
        );
        let other = cache.lookup_people(&dt(), &[id]);
        assert_eq!(other.missing, vec![id]);
        cache.fill_people(other.ticket, &dt(), &[person(id, "Default's")]);
        assert_eq!(
            cache.people(&dt(), &[id]).as_deref().map(names),
            Some(vec!["Default's"])
        );
        assert_eq!(
            cache.people(&acme, &[id]).as_deref().map(names),
            Some(vec!["Acme's"])
        );
        cache.invalidate_person(&acme, id);
        assert!(cache.people(&acme, &[id]).is_none());
        assert!(
            cache.people(&dt(), &[id]).is_some(),
            "the other tenant's row stays"
        );
    }
}

//! A JWKS published by an identity provider: fetched at start, in the background, and
//! when a token names a `kid` we do not know — at most once per window, so a flood of
//! made-up `kid`s cannot hammer the provider.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use tokio::task::AbortHandle;

use super::error::AuthError;
use super::keys::{Expectations, KeyEntry, KeySet, parse_jwks};

/// The largest JWKS document read.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
const NEVER: u64 = u64::MAX;

/// Allows one refresh per `min` window. The async mutex is held over the refresh on
/// purpose: requests for unknown keys that arrive during a fetch wait for its result
/// (a rotation's first tokens are accepted, not refused) instead of starting their own.
/// The verification fast path, a known key, never touches it.
pub(crate) struct RefreshGate {
    started: Instant,
    last_ms: AtomicU64,
    min: Duration,
    in_flight: AtomicBool,
    turn: tokio::sync::Mutex<()>,
}

/// Clears `in_flight` however the refresh ends, cancellation included.
struct InFlight<'a>(&'a AtomicBool);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl RefreshGate {
    pub fn new(min: Duration) -> RefreshGate {
        RefreshGate {
            started: Instant::now(),
            last_ms: AtomicU64::new(NEVER),
            min,
            in_flight: AtomicBool::new(false),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(NEVER - 1)
    }

    fn open(&self) -> bool {
        let last = self.last_ms.load(Ordering::Acquire);
        let min = u64::try_from(self.min.as_millis()).unwrap_or(u64::MAX);
        last == NEVER || self.now_ms().saturating_sub(last) >= min
    }

    /// Looks a key up; if it is missing and the window is open, refreshes once
    /// (concurrent callers share that refresh) and looks again.
    pub async fn find_or_refresh<R, F>(
        &self,
        find: impl Fn() -> Option<Arc<KeyEntry>>,
        refresh: R,
    ) -> Result<Option<Arc<KeyEntry>>, AuthError>
    where
        R: FnOnce() -> F,
        F: Future<Output = Result<(), AuthError>>,
    {
        if let Some(found) = find() {
            return Ok(Some(found));
        }
        if !self.open() && !self.in_flight.load(Ordering::Acquire) {
            return Ok(None);
        }
        let _turn = self.turn.lock().await;
        if let Some(found) = find() {
            return Ok(Some(found));
        }
        if !self.open() {
            return Ok(None);
        }
        self.last_ms.store(self.now_ms(), Ordering::Release);
        self.in_flight.store(true, Ordering::Release);
        let _in_flight = InFlight(&self.in_flight);
        refresh().await?;
        Ok(find())
    }
}

/// The keys of `AUTH_JWKS_URL`.
pub(crate) struct RemoteJwks {
    url: String,
    client: reqwest::Client,
    expect: Expectations,
    keys: RwLock<Arc<KeySet>>,
    loaded: AtomicBool,
    pub gate: RefreshGate,
}

impl RemoteJwks {
    pub fn new(
        url: &str,
        timeout: Duration,
        min_refresh: Duration,
        expect: Expectations,
    ) -> Result<RemoteJwks, AuthError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect could move an https JWKS to plain http: follow none.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| AuthError::Settings(format!("AUTH_JWKS_URL client: {e}")))?;
        Ok(RemoteJwks {
            url: url.to_owned(),
            client,
            expect,
            keys: RwLock::new(Arc::new(KeySet::default())),
            loaded: AtomicBool::new(false),
            gate: RefreshGate::new(min_refresh),
        })
    }

    /// The keys of the last successful fetch.
    pub fn current(&self) -> Arc<KeySet> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The key with this `kid`, from the last successful fetch.
    pub fn get(&self, kid: &str) -> Option<Arc<KeyEntry>> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_kid
            .get(kid)
            .cloned()
    }

    /// Whether any fetch has succeeded.
    pub fn loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Fetches the JWKS and replaces the keys with it: a key the provider no longer
    /// publishes is no longer accepted.
    #[tracing::instrument(name = "auth.jwks_refresh", skip_all, fields(keys), err)]
    pub async fn refresh(&self) -> Result<(), AuthError> {
        let set = self.fetch().await?;
        tracing::Span::current().record("keys", set.len());
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(set);
        self.loaded.store(true, Ordering::Release);
        Ok(())
    }

    async fn fetch(&self) -> Result<KeySet, AuthError> {
        let failed = |e: &dyn std::fmt::Display| AuthError::KeySource(format!("JWKS fetch: {e}"));
        let mut response = self
            .client
            .get(&self.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| failed(&e))?;
        if !response.status().is_success() {
            return Err(failed(&format!("HTTP {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| failed(&e))? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(failed(&"the document is larger than 1 MiB"));
            }
            body.extend_from_slice(&chunk);
        }
        parse_jwks(&body, &self.expect).map_err(|e| failed(&e))
    }

    /// Refreshes every `every` until the JWKS is dropped (the task holds it weakly).
    pub fn spawn_refresher(self: &Arc<Self>, every: Duration) -> AbortHandle {
        let weak: Weak<RemoteJwks> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(remote) = weak.upgrade() else { break };
                if let Err(e) = remote.refresh().await {
                    tracing::warn!(error = %e, "JWKS refresh failed; keeping the keys we have");
                }
            }
            tracing::debug!("JWKS refresher stopped");
        })
        .abort_handle()
    }
}

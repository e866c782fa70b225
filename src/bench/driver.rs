//! A command client and the realistic interview lifecycle it drives.
//!
//! Each client owns its people (one pool of interviewers, a fresh candidate per interview)
//! and its own increasing hourly slots, so clients never contend for a stream and no
//! booking conflicts except the ones the mix provokes on purpose (a retry of a taken slot).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use chrono::{DateTime, TimeZone, Utc};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

use super::stats::{Stats, Window, class_of};

/// Availability windows each client's interviewers declare (each 14 days long).
const WINDOWS: i64 = 40;
/// Hourly slots the declared availability covers.
const SLOTS: i64 = WINDOWS * 14 * 24;
/// Interviewers in each client's pool.
const POOL: usize = 4;

/// Where commands go.
#[derive(Clone)]
pub enum Transport {
    /// Over HTTP to a running command API (127.0.0.1 only).
    Http {
        /// Client with keep-alive.
        http: reqwest::Client,
        /// `http://127.0.0.1:PORT`.
        base: String,
    },
    /// Through the command API's router in this process (no socket).
    Local {
        /// The router.
        router: Router,
        /// The bearer token sent with each command.
        token: String,
    },
}

impl Transport {
    /// POSTs JSON; the status and the body.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Vec<u8>)> {
        match self {
            Transport::Http { http, base } => {
                let r = http.post(format!("{base}{path}")).json(body).send().await?;
                let status = r.status().as_u16();
                Ok((status, r.bytes().await?.to_vec()))
            }
            Transport::Local { router, token } => {
                let request = Request::post(path)
                    .header("content-type", "application/json")
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::from(body.to_string()))?;
                let response = router.clone().oneshot(request).await?;
                let status = response.status().as_u16();
                let bytes = response.into_body().collect().await?.to_bytes();
                Ok((status, bytes.to_vec()))
            }
        }
    }
}

/// What happens after each successful command, besides counting.
pub trait AfterCommand: Send + Sync {
    /// Called with the position of a 2xx answer and the moment it arrived.
    fn committed(&self, position: String, at: Instant);
}

/// Nothing.
pub struct Nothing;

impl AfterCommand for Nothing {
    fn committed(&self, _position: String, _at: Instant) {}
}

/// One client: its people, its slots, its figures.
pub struct Client {
    transport: Transport,
    /// Figures of the commands sent inside the window.
    pub stats: Stats,
    /// The measured window (set it before `run`).
    pub window: Window,
    pacer: Option<tokio::time::Interval>,
    after: Arc<dyn AfterCommand>,
    interviewers: Vec<Uuid>,
    base: DateTime<Utc>,
    next_slot: i64,
    last_slot: Option<(i64, Vec<Uuid>)>,
    /// Every interview scheduled.
    pub interviews: Vec<Uuid>,
    /// Every person registered.
    pub people: Vec<Uuid>,
    /// The position of the last 2xx answer.
    pub last_position: Option<String>,
    sent: u64,
    max_commands: u64,
}

/// The start of the benchmark calendar: a Monday well in the future.
pub fn calendar_base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2031, 1, 6, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

impl Client {
    /// A client; `pacer` spaces its commands (lag), `max_commands` bounds it.
    pub fn new(
        transport: Transport,
        window: Window,
        pacer: Option<Duration>,
        after: Arc<dyn AfterCommand>,
        max_commands: u64,
    ) -> Client {
        Client {
            transport,
            stats: Stats::new(),
            window,
            pacer: pacer.map(|p| {
                let mut i = tokio::time::interval(p);
                i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                i
            }),
            after,
            interviewers: Vec::new(),
            base: calendar_base(),
            next_slot: 0,
            last_slot: None,
            interviews: Vec::new(),
            people: Vec::new(),
            last_position: None,
            sent: 0,
            max_commands,
        }
    }

    /// Whether the client should stop.
    pub fn done(&self) -> bool {
        self.window.over() || self.sent >= self.max_commands || self.next_slot + 2 >= SLOTS
    }

    /// Sends one command; `Some(body)` on 2xx.
    async fn post(&mut self, path: &str, body: Value) -> Option<Value> {
        if let Some(p) = self.pacer.as_mut() {
            p.tick().await;
        }
        self.sent += 1;
        let started = Instant::now();
        let measured = self.window.measures(started);
        match self.transport.post(path, &body).await {
            Ok((status, bytes)) => {
                let at = Instant::now();
                if measured {
                    self.stats.record(class_of(status), at - started);
                }
                if !(200..300).contains(&status) {
                    return None;
                }
                let value: Value = serde_json::from_slice(&bytes).ok()?;
                if let Some(p) = value.get("position").and_then(Value::as_str) {
                    self.last_position = Some(p.to_owned());
                    if measured {
                        self.after.committed(p.to_owned(), at);
                    }
                }
                Some(value)
            }
            Err(e) => {
                if measured {
                    self.stats.count("error");
                }
                tracing::debug!(error = %e, path, "bench command failed");
                None
            }
        }
    }

    /// Registers the client's interviewers and declares their availability.
    pub async fn setup(&mut self, client_no: usize) -> anyhow::Result<()> {
        for i in 0..POOL {
            let id = Uuid::new_v4();
            let body = json!({
                "id": id, "name": format!("Interviewer {client_no}-{i}"),
                "email": format!("interviewer.{client_no}.{i}.{}@example.com", id.simple()),
                "roles": ["interviewer"], "timezone": "Europe/Berlin",
            });
            self.post("/people", body)
                .await
                .context("registering an interviewer failed")?;
            self.interviewers.push(id);
            self.people.push(id);
        }
        // Half of them declare working time covering the whole benchmark calendar.
        let windows: Vec<Value> = (0..WINDOWS)
            .map(|w| {
                let start = self.base + chrono::Duration::days(14 * w);
                json!({"start": start, "end": start + chrono::Duration::days(14)})
            })
            .collect();
        for id in self.interviewers.clone().iter().take(POOL / 2) {
            self.post(
                &format!("/people/{id}/availability"),
                json!({ "add": windows }),
            )
            .await
            .context("declaring availability failed")?;
        }
        Ok(())
    }

    fn slot(&self, k: i64) -> DateTime<Utc> {
        self.base + chrono::Duration::hours(k)
    }

    /// One interview through its lifecycle: a new candidate, scheduling (every tenth first
    /// tries a taken slot and gets a 409), sometimes a reschedule, start, transcript,
    /// completion, feedback of each panel member, a decision.
    pub async fn interview(&mut self, n: u64) {
        let candidate = Uuid::new_v4();
        let registered = self
            .post(
                "/people",
                json!({
                    "id": candidate, "name": format!("Candidate {n}"),
                    "email": format!("candidate.{}@example.com", candidate.simple()),
                    "roles": ["candidate"], "timezone": "UTC",
                }),
            )
            .await;
        if registered.is_none() || self.done() {
            return;
        }
        self.people.push(candidate);
        let a = self.interviewers[(n as usize) % POOL];
        let b = self.interviewers[(n as usize + 1) % POOL];
        let panel = vec![a, b];
        let kinds = ["phone_screen", "technical", "behavioral", "system_design"];
        let kind = kinds[(n as usize) % kinds.len()];
        // A retry into a slot the previous interview holds: refused with 409.
        if n % 10 == 9
            && let Some((taken, taken_panel)) = self.last_slot.clone()
        {
            let _ = self
                .post(
                    "/interviews",
                    json!({
                        "candidateId": candidate, "interviewerIds": taken_panel,
                        "position": "Backend Engineer", "kind": kind,
                        "startsAt": self.slot(taken), "durationMinutes": 45,
                    }),
                )
                .await;
        }
        let id = Uuid::new_v4();
        let at = self.next_slot;
        self.next_slot += 2;
        let scheduled = self
            .post(
                "/interviews",
                json!({
                    "id": id, "candidateId": candidate, "interviewerIds": panel,
                    "position": "Backend Engineer", "kind": kind,
                    "startsAt": self.slot(at), "durationMinutes": 45, "location": "Room 4.2",
                }),
            )
            .await;
        if scheduled.is_none() {
            return;
        }
        self.interviews.push(id);
        self.last_slot = Some((at, panel.clone()));
        let path = |c: &str| format!("/interviews/{id}/{c}");
        if n.is_multiple_of(4) {
            if self.done() {
                return;
            }
            if self
                .post(
                    &path("reschedule"),
                    json!({"startsAt": self.slot(at + 1), "reason": "panel conflict"}),
                )
                .await
                .is_some()
            {
                self.last_slot = Some((at + 1, panel.clone()));
            }
        }
        let outcome = ["advance", "reject", "hire", "hold"][(n as usize) % 4];
        let steps = [
            ("start", json!({})),
            (
                "transcript",
                json!({"segments": [
                    {"speakerId": a, "startMs": 0, "endMs": 15000, "text": "Tell me about a system you designed end to end."},
                    {"speakerId": candidate, "startMs": 16000, "endMs": 60000, "text": "We sharded the ledger by tenant and kept a global index."},
                    {"speakerId": b, "startMs": 61000, "endMs": 70000, "text": "How did you handle consistency between the services?"},
                ]}),
            ),
            ("complete", json!({})),
            (
                "feedback",
                json!({"interviewerId": a, "rating": 3, "competencies": [{"name": "coding", "score": 4}, {"name": "communication", "score": 3}], "notes": "solid"}),
            ),
            (
                "feedback",
                json!({"interviewerId": b, "rating": 2, "competencies": [{"name": "system design", "score": 3}]}),
            ),
            (
                "decision",
                json!({"outcome": outcome, "decidedBy": a, "reason": "panel consensus"}),
            ),
        ];
        for (step, body) in steps {
            if self.done() || self.post(&path(step), body).await.is_none() {
                return;
            }
        }
    }

    /// Drives interviews until the window ends or a bound is reached.
    pub async fn run(&mut self) {
        let mut n = 0u64;
        while !self.done() {
            self.interview(n).await;
            n += 1;
        }
    }
}

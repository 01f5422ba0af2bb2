//! A counting identity provider for the fleet tests, the `fleet` benchmark and the
//! `fleet` example: a real HTTP token endpoint (axum, on a free loopback port) that issues
//! a new token per request (`tok-1`, `tok-2`...), counts requests by grant, rotates
//! refresh tokens (a used one is revoked), and an API that accepts only valid tokens.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

/// The identity provider and its API, running until dropped (the server task is aborted).
pub struct CountingIdp {
    base: String,
    state: Arc<IdpState>,
    server: tokio::task::JoinHandle<()>,
}

struct IdpState {
    lifetime_ms: AtomicU64,
    delay_ms: AtomicU64,
    next: AtomicU64,
    /// Requests by `grant_type`.
    counts: Mutex<HashMap<String, u64>>,
    /// Issued access tokens and their expiry (on this process's clock).
    tokens: Mutex<HashMap<String, Instant>>,
    /// The one refresh token that works now (rotation revokes the others).
    refresh_token: Mutex<Option<String>>,
}

impl CountingIdp {
    /// Tokens valid for `lifetime`; every answer delayed by `delay`.
    pub async fn start(lifetime: Duration, delay: Duration) -> Self {
        let state = Arc::new(IdpState {
            lifetime_ms: AtomicU64::new(millis(lifetime)),
            delay_ms: AtomicU64::new(millis(delay)),
            next: AtomicU64::new(1),
            counts: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            refresh_token: Mutex::new(None),
        });
        let app = Router::new()
            .route("/token", post(token))
            .route("/api", get(api))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base,
            state,
            server,
        }
    }

    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.base)
    }

    pub fn api(&self) -> String {
        format!("{}/api", self.base)
    }

    /// Token requests of every grant so far.
    pub fn requests(&self) -> u64 {
        self.state.counts.lock().unwrap().values().sum()
    }

    /// Token requests with `grant_type` = `grant` so far.
    pub fn requests_of(&self, grant: &str) -> u64 {
        self.state
            .counts
            .lock()
            .unwrap()
            .get(grant)
            .copied()
            .unwrap_or(0)
    }

    pub fn set_delay(&self, delay: Duration) {
        self.state.delay_ms.store(millis(delay), Ordering::Relaxed);
    }

    /// Makes the API reject `token` from now on (as if revoked).
    pub fn revoke(&self, token: &str) {
        self.state.tokens.lock().unwrap().remove(token);
    }

    /// Whether the API accepts `token` now.
    pub fn is_valid(&self, token: &str) -> bool {
        self.state.is_valid(token)
    }
}

impl Drop for CountingIdp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl IdpState {
    fn is_valid(&self, token: &str) -> bool {
        let tokens = self.tokens.lock().unwrap();
        tokens
            .get(token)
            .is_some_and(|expiry| Instant::now() < *expiry)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap()
}

async fn token(
    State(state): State<Arc<IdpState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    *state
        .counts
        .lock()
        .unwrap()
        .entry(grant.clone())
        .or_default() += 1;
    let delay = state.delay_ms.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let refresh = match grant.as_str() {
        "client_credentials" => None,
        "password" => Some(()),
        "refresh_token" => {
            let mut current = state.refresh_token.lock().unwrap();
            if current.as_deref() != form.get("refresh_token").map(String::as_str) {
                drop(current);
                let body = serde_json::json!({"error": "invalid_grant"});
                return (StatusCode::BAD_REQUEST, Json(body)).into_response();
            }
            current.take();
            Some(())
        }
        _ => {
            let body = serde_json::json!({"error": "unsupported_grant_type"});
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    let n = state.next.fetch_add(1, Ordering::Relaxed);
    let access = format!("tok-{n}");
    let lifetime = Duration::from_millis(state.lifetime_ms.load(Ordering::Relaxed));
    state
        .tokens
        .lock()
        .unwrap()
        .insert(access.clone(), Instant::now() + lifetime);
    let mut body = serde_json::json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs_f64(),
    });
    if refresh.is_some() {
        let rotated = format!("rt-{n}");
        *state.refresh_token.lock().unwrap() = Some(rotated.clone());
        body["refresh_token"] = rotated.into();
    }
    Json(body).into_response()
}

async fn api(State(state): State<Arc<IdpState>>, headers: HeaderMap) -> StatusCode {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token {
        Some(token) if state.is_valid(token) => StatusCode::OK,
        _ => StatusCode::UNAUTHORIZED,
    }
}

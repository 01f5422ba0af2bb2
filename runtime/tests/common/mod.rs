//! Test helpers shared by the runtime's integration tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::future::Future;
use std::io::Write;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use token_client_runtime::{AccessToken, TokenError, TokenSource};
use tokio::time::Instant;

/// What one fetch of a [`ScriptedSource`] does.
#[derive(Clone, Debug)]
pub enum Step {
    /// Answers `t<n>` (n = number of this fetch) with this lifetime.
    Token(Duration),
    /// Fails with this error.
    Fail(TokenError),
    /// Panics.
    Panic,
}

/// A token source that counts its fetches, takes `delay` of (paused) time, and follows a
/// script (then repeats its `default` step).
pub struct ScriptedSource {
    pub fetches: AtomicUsize,
    delay: Duration,
    script: Mutex<VecDeque<Step>>,
    default: Step,
}

impl ScriptedSource {
    pub fn new(lifetime: Duration, delay: Duration) -> Self {
        Self {
            fetches: AtomicUsize::new(0),
            delay,
            script: Mutex::new(VecDeque::new()),
            default: Step::Token(lifetime),
        }
    }

    pub fn then(self, step: Step) -> Self {
        self.script.lock().unwrap().push_back(step);
        self
    }

    pub fn count(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl TokenSource for ScriptedSource {
    async fn fetch(&self) -> Result<AccessToken, TokenError> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(self.delay).await;
        let step = self.script.lock().unwrap().pop_front();
        match step.unwrap_or_else(|| self.default.clone()) {
            Step::Token(lifetime) => {
                Ok(AccessToken::new(format!("t{n}"), Instant::now() + lifetime))
            }
            Step::Fail(error) => Err(error),
            Step::Panic => panic!("scripted panic in token source"),
        }
    }
}

/// Polls `future` once: `Some` if it completed without waiting.
pub fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// Lets spawned tasks run without advancing the clock.
pub async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// Everything the `tracing` subscriber of [`Captured::start`] writes, as text.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Captures this thread's log events at `level` and above until the guard is dropped
    /// (a current-thread runtime's tasks run on this thread, so theirs are captured too).
    pub fn start(level: tracing::Level) -> (Self, tracing::subscriber::DefaultGuard) {
        let captured = Self::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// How many times `needle` was written.
    pub fn count(&self, needle: &str) -> usize {
        self.text().matches(needle).count()
    }
}

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

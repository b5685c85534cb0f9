//! The one retry policy: what is retried, how long to wait, when to stop.
//!
//! Only what can succeed on a later attempt is retried: a lost race for the
//! customer (another writer committed first) and a transient store failure
//! (throttling, a timeout, a dropped connection, a 5xx). Everything else is
//! answered at once. Waits are fully jittered and capped, and the whole
//! request stays under a deadline well inside API Gateway's 29 s and the
//! functions' 20 s timeout.

use crate::error::ApiError;
use std::time::{Duration, Instant};
use tier_store::StoreError;

/// Attempts at most: a hot customer under N simultaneous writers needs up
/// to N rounds, so the bound is generous in attempts and short in each wait.
pub const MAX_ATTEMPTS: u32 = 64;
/// No request keeps retrying past this: inside the functions' 20 s timeout
/// (so the client hears 503, not a timeout) and API Gateway's 29 s.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// Why an attempt is tried again.
#[derive(Debug)]
pub enum Cause {
    /// Another writer changed the customer first: the next attempt reads
    /// its state and wins unless another race is lost; waits stay short.
    Contention,
    /// The store was throttled, slow or unreachable: waits grow longer.
    Transient(StoreError),
}

pub struct Retry {
    started: Instant,
    attempts: u32,
}

impl Retry {
    pub fn new() -> Self {
        Retry {
            started: Instant::now(),
            attempts: 0,
        }
    }

    /// Waits before the next attempt, or gives the answer when the attempts
    /// or the deadline are spent: 503 with Retry-After, since the client may
    /// well succeed a moment later.
    pub async fn wait(&mut self, cause: Cause) -> Result<(), ApiError> {
        self.attempts += 1;
        let cap_ms = match cause {
            Cause::Contention => (5u64 << self.attempts.min(5)).min(100),
            Cause::Transient(_) => (25u64 << self.attempts.min(6)).min(1000),
        };
        let wait = Duration::from_millis(fastrand::u64(0..=cap_ms));
        if self.attempts >= MAX_ATTEMPTS || self.started.elapsed() + wait > DEADLINE {
            return Err(match cause {
                Cause::Contention => ApiError::busy(),
                Cause::Transient(e) => e.into(),
            });
        }
        if let Cause::Transient(e) = &cause {
            tracing::warn!(attempt = self.attempts, error = %e, "transient store failure, retrying");
        }
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

impl Default for Retry {
    fn default() -> Self {
        Self::new()
    }
}

/// Calls the store again while it fails transiently, waiting as [`Retry`]
/// waits for `Cause::Transient`; any other failure, or the last transient
/// one once the attempts or the deadline are spent, is answered. For a
/// long job's own reads and writes (the simulation's Scan pages and
/// parts), where no customer is contended.
pub async fn store_call<T, F, Fut>(mut call: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut retry = Retry::new();
    loop {
        match call().await {
            Err(StoreError::Transient(text)) => {
                let cause = Cause::Transient(StoreError::Transient(text.clone()));
                if retry.wait(cause).await.is_err() {
                    return Err(StoreError::Transient(text));
                }
            }
            other => return other,
        }
    }
}

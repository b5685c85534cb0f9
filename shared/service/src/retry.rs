//! Bounded retries with jittered exponential backoff for optimistic writes.
//! A hot customer under N simultaneous writers needs up to N rounds, so the
//! bound is generous in attempts and short in each wait (full jitter, capped
//! at 100 ms): 64 attempts stay within a few seconds, far inside API
//! Gateway's 29 s.

use std::time::Duration;

pub const MAX_ATTEMPTS: u32 = 64;

pub async fn backoff(attempt: u32) {
    let cap_ms = (5u64 << attempt.min(5)).min(100);
    let wait = fastrand::u64(0..=cap_ms);
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

//! Bounded retries with jittered exponential backoff for optimistic writes.

use rand::Rng;
use std::time::Duration;

pub const MAX_ATTEMPTS: u32 = 12;

pub async fn backoff(attempt: u32) {
    let cap_ms = (2u64 << attempt.min(7)).min(200);
    let wait = rand::thread_rng().gen_range(1..=cap_ms);
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

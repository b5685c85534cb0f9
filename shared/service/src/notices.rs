//! Tier-change events out: the engine's notices become items of the same
//! transaction as the state that holds them (so an event exists exactly when
//! its change was written), and the local feed reads them back in the order
//! they were written. On AWS, DynamoDB Streams and an EventBridge Pipe carry
//! the same items to the stack's bus (infra/template.yaml).

use crate::account::criterion_out;
use crate::customers::{parse_limit, timestamp};
use crate::error::ApiError;
use crate::json;
use crate::Service;
use chrono::{Duration, Utc};
use serde::Serialize;
use std::collections::HashMap;
use tier_engine::{Notice, NoticeKind};
use tier_store::{feed_cursor_at, FeedNotice, NoticeItem};

/// The fields every event carries, in the bus's order. Every one is present
/// (empty where it does not apply): the Pipe's input template names them.
pub const EVENT_FIELDS: &[&str] = &[
    "eventId",
    "type",
    "programId",
    "customerId",
    "seq",
    "from",
    "to",
    "at",
    "cause",
    "on",
    "criteria",
];

/// A commit's notices as items to write with it.
pub(crate) fn notice_items(
    program: &str,
    customer: &str,
    notices: Vec<Notice>,
) -> Result<Vec<NoticeItem>, ApiError> {
    notices
        .into_iter()
        .map(|n| notice_item(program, customer, n))
        .collect()
}

fn notice_item(program: &str, customer: &str, notice: Notice) -> Result<NoticeItem, ApiError> {
    let at = timestamp(notice.at());
    let (kind, from, to, cause, on, criteria) = match notice.kind {
        NoticeKind::Changed { change, criteria } => {
            let kind = if change.from == change.to {
                "TierRenewed"
            } else {
                "TierChanged"
            };
            let criteria = json::to_string(&criteria)?;
            (
                kind,
                change.from,
                change.to,
                change.cause,
                String::new(),
                criteria,
            )
        }
        NoticeKind::AtRisk {
            tier,
            on,
            criteria,
            grace,
            ..
        } => {
            let cause = if grace { "grace" } else { "warning" };
            let criteria: Vec<_> = criteria.into_iter().map(criterion_out).collect();
            let criteria = json::to_string(&criteria)?;
            let to = String::new();
            (
                "TierAtRisk",
                tier,
                to,
                cause.to_owned(),
                timestamp(on),
                criteria,
            )
        }
    };
    let seq = notice.seq;
    Ok(NoticeItem {
        seq,
        fields: vec![
            ("eventId", event_id(program, customer, seq)),
            ("type", kind.to_owned()),
            ("programId", program.to_owned()),
            ("customerId", customer.to_owned()),
            ("seq", seq.to_string()),
            ("from", from),
            ("to", to),
            ("at", at),
            ("cause", cause),
            ("on", on),
            ("criteria", criteria),
        ],
    })
}

/// The same for every delivery of one notice, and for no other notice:
/// consumers dedupe on it.
fn event_id(program: &str, customer: &str, seq: u64) -> String {
    json::digest(&(program, customer, seq))[..32].to_owned()
}

/// Notices written within this long before a read may still be joined by
/// ones stamped earlier whose transaction was in flight (a commit's stamp
/// is taken before it is sent, and the store gives up on a call after 8 s).
const SETTLE_SECONDS: i64 = 10;

pub const DEFAULT_PAGE: usize = 100;
pub const MAX_PAGE: usize = 1000;
/// Cursors are the store's own keys: an instant, a sequence and a partition
/// key (ids of at most 256 characters).
const MAX_CURSOR_CHARS: usize = 700;

#[derive(Debug, Serialize)]
pub struct EventsPage {
    pub events: Vec<HashMap<String, String>>,
    /// Pass as `after` for the next page (absent: nothing was ever
    /// published). Events written in the last few seconds come again on the
    /// next page until they settle: dedupe on `eventId`, as for the bus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl Service {
    /// `GET /programs/{programId}/events?after=<cursor>&limit=<n>`.
    pub async fn events(
        &self,
        program: &str,
        after: Option<&str>,
        limit: Option<&str>,
    ) -> Result<EventsPage, ApiError> {
        self.program(program).await?;
        if let Some(cursor) = after {
            if cursor.is_empty()
                || cursor.chars().count() > MAX_CURSOR_CHARS
                || cursor.chars().any(char::is_control)
            {
                return Err(ApiError::bad_request(
                    "`after` must be the `next` of an earlier page",
                ));
            }
        }
        let limit = parse_limit(limit, DEFAULT_PAGE, MAX_PAGE)?;
        let found = self.store.notices_after(program, after, limit).await?;
        let next = next_cursor(
            &found,
            after,
            limit,
            feed_cursor_at(Utc::now() - Duration::seconds(SETTLE_SECONDS)),
        );
        let events = found
            .into_iter()
            .map(|n| {
                let mut fields = n.fields;
                fields.retain(|name, _| EVENT_FIELDS.contains(&name.as_str()));
                fields
            })
            .collect();
        Ok(EventsPage { events, next })
    }
}

/// Where the next page starts: after the last event, except that a page
/// that is not full starts again where events may still be joined by late
/// ones (a full page always moves on, so a burst cannot hold a reader).
fn next_cursor(
    found: &[FeedNotice],
    after: Option<&str>,
    limit: usize,
    settled: String,
) -> Option<String> {
    let Some(last) = found.last() else {
        return after.map(str::to_owned);
    };
    if found.len() >= limit {
        return Some(last.cursor.clone());
    }
    Some(last.cursor.clone().min(settled))
}

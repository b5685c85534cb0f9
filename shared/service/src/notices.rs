//! Tier-change events out: the engine's notices become items of the same
//! transaction as the state that holds them (so an event exists exactly when
//! its change was written), and the local feed reads them back in the order
//! they were written. On AWS, DynamoDB Streams and an EventBridge Pipe carry
//! the same items to the stack's bus (infra/template.yaml).

use crate::account::criterion_out;
use crate::customers::parse_limit;
use crate::error::ApiError;
use crate::json;
use crate::Service;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use std::collections::HashMap;
use tier_engine::{Notice, NoticeKind};
use tier_store::{feed_cursor_at, feed_cursor_instant, FeedNotice, NoticeItem};

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

/// An event's instants keep their fractions of a second, as the history
/// and the status do, so `at` names the change's own instant.
fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

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
    let at = instant(notice.at());
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
                instant(on),
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

#[derive(Debug, Serialize)]
pub struct EventsPage {
    pub events: Vec<HashMap<String, String>>,
    /// Pass as `after` for the next page (absent: nothing was ever
    /// published). Events written in the last 10 seconds all come on every
    /// page that reaches them, until they settle: dedupe on `eventId`, as
    /// for the bus.
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
            if !is_feed_cursor(cursor, Utc::now()) {
                return Err(ApiError::bad_request(
                    "`after` must be the `next` of an earlier page",
                ));
            }
        }
        let limit = parse_limit(limit, DEFAULT_PAGE, MAX_PAGE)?;
        let found = self.store.notices_after(program, after, MAX_PAGE).await?;
        let settled = feed_cursor_at(Utc::now() - Duration::seconds(SETTLE_SECONDS));
        let found = page_of(found, limit, &settled);
        let next = next_cursor(&found, after, settled);
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

/// How far ahead of this process's clock a cursor another one handed out
/// may be (each stamps events with its own clock).
const CLOCK_SKEW_SECONDS: i64 = 300;

/// Whether `cursor` is one a page hands out: the feed's shape
/// ([`feed_cursor_instant`]) and not later than now. Anything else would
/// read as a position and serve empty pages with itself as `next` for
/// good.
fn is_feed_cursor(cursor: &str, now: chrono::DateTime<Utc>) -> bool {
    feed_cursor_instant(cursor).is_some_and(|at| at <= now + Duration::seconds(CLOCK_SKEW_SECONDS))
}

/// Up to `limit` events, and past it every event not settled yet (up to
/// [`MAX_PAGE`]): a reader gets the whole window that may still change on
/// every page that reaches it, however small its pages.
fn page_of(found: Vec<FeedNotice>, limit: usize, settled: &str) -> Vec<FeedNotice> {
    let mut page = Vec::with_capacity(found.len().min(MAX_PAGE));
    for notice in found {
        if page.len() >= limit && notice.cursor.as_str() <= settled {
            break;
        }
        page.push(notice);
    }
    page
}

/// Where the next page starts: after the last event, or at the settle
/// point when the page reached past it (events written since may still be
/// joined by ones stamped earlier, so that window is served again).
fn next_cursor(found: &[FeedNotice], after: Option<&str>, settled: String) -> Option<String> {
    match found.last() {
        None => after.map(str::to_owned),
        Some(last) => Some(last.cursor.clone().min(settled)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cursors_a_page_hands_out_are_read() {
        let now: DateTime<Utc> = "2026-12-01T08:00:00Z".parse().unwrap();
        let settle = feed_cursor_at(now - Duration::seconds(SETTLE_SECONDS));
        let event = format!("{settle}#000000000042#0123456789abcdef");
        for good in [
            settle.as_str(),
            event.as_str(),
            "1970-01-01T00:00:00.000000Z",
        ] {
            assert!(is_feed_cursor(good, now), "{good}");
        }
        let ahead = feed_cursor_at(now + Duration::seconds(CLOCK_SKEW_SECONDS - 1));
        assert!(is_feed_cursor(&ahead, now), "another clock a little ahead");
        for bad in [
            String::new(),
            "zzz".into(),
            "2027".into(),
            "AAAA".into(),
            "99999999999999999999999999".into(),
            feed_cursor_at(now + Duration::seconds(CLOCK_SKEW_SECONDS + 1)),
            "2026-12-01T08:00:00Z".into(),
            "2026-12-01T08:00:00.000000".into(),
            "2026-13-01T08:00:00.000000Z".into(),
            format!("{settle}#"),
            format!("{settle}#42#0123456789abcdef"),
            format!("{settle}#000000000042#0123456789ABCDEF"),
            format!("{settle}#000000000042#0123456789abcdeg"),
            format!("{settle}#000000000042#0123456789abcdef#"),
            format!("{event}x"),
            format!("{settle}\u{1F600}"),
        ] {
            assert!(!is_feed_cursor(&bad, now), "{bad:?}");
        }
    }
}

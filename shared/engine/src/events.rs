//! The events the engine decides on, and the checks every one must pass
//! before it may change anything.

use crate::decimal::{exact, exact_opt, Money, Points};
use crate::error::EngineError;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

pub const MAX_LINE_ITEMS: usize = 1000;
/// Largest amount, price or point figure accepted (10^15): far beyond any
/// real order, and far enough below `Decimal`'s range that no sum or product
/// of the engine can overflow.
pub const MAX_FIGURE: i64 = 1_000_000_000_000_000;
/// Largest line-item quantity accepted.
pub const MAX_QUANTITY: i64 = 1_000_000;
pub const MAX_ID_LEN: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OrderStatus {
    Completed,
    Pending,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Order {
    pub order_id: String,
    pub customer_id: String,
    pub placed_at: DateTime<Utc>,
    pub status: OrderStatus,
    #[serde(with = "exact")]
    pub amount: Money,
    #[serde(default, with = "exact_opt", skip_serializing_if = "Option::is_none")]
    pub gross_amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<LineItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LineItem {
    pub sku: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(with = "exact")]
    pub price: Money,
    #[serde(with = "exact")]
    pub quantity: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Return {
    pub return_id: String,
    pub order_id: String,
    pub customer_id: String,
    pub returned_at: DateTime<Utc>,
    /// What is returned; absent means everything that remains of the order.
    #[serde(default, with = "exact_opt", skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Redemption {
    pub redemption_id: String,
    #[serde(with = "exact")]
    pub points: Points,
    pub at: DateTime<Utc>,
}

/// Longest free text accepted (an admin action's reason).
pub const MAX_TEXT_LEN: usize = 1000;

/// The instants events may carry: 1970-01-01 up to (excluding) 2200-01-01.
/// Day numbers, expiry dates and index keys stay well-formed inside it, and
/// no real order is placed outside it.
pub fn check_time(field: &str, at: DateTime<Utc>) -> Result<(), EngineError> {
    use chrono::Datelike;
    if !(1970..2200).contains(&at.year()) {
        return Err(EngineError::invalid(
            field,
            format!("must be from 1970-01-01 up to 2200-01-01, got {at}"),
        ));
    }
    Ok(())
}

/// How far past the receiver's clock an event may be dated unless the
/// deployment says otherwise: a till or a server whose clock runs a few
/// minutes fast is common, a sale dated tomorrow is not (the same margin
/// the events feed allows its cursors).
pub const DEFAULT_EVENT_LEAD_SECONDS: u64 = 300;

/// An event dated after `now + lead` has not happened yet. Accepting it
/// would move the customer's clock ahead: the validity periods and points
/// expiry owed up to its instant would be judged and published now, and
/// every real event after it would arrive late.
pub fn check_not_ahead(
    field: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    lead: chrono::Duration,
) -> Result<(), EngineError> {
    let latest = now
        .checked_add_signed(lead)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if at > latest {
        return Err(EngineError::DatedAhead {
            field: field.to_owned(),
            at,
            latest,
        });
    }
    Ok(())
}

/// An id from a client: 1 to 128 characters, no control characters.
pub fn check_id(field: &str, id: &str) -> Result<(), EngineError> {
    // A character is at least one byte: within the limit in bytes, as ids
    // almost always are, it needs no count of characters.
    let too_long = id.len() > MAX_ID_LEN && id.chars().count() > MAX_ID_LEN;
    if id.is_empty() || too_long || id.chars().any(char::is_control) {
        return Err(EngineError::invalid(
            field,
            format!("must be 1 to {MAX_ID_LEN} characters without control characters"),
        ));
    }
    Ok(())
}

/// Free text: at most [`MAX_TEXT_LEN`] characters.
pub fn check_text(field: &str, text: &str) -> Result<(), EngineError> {
    if text.chars().count() > MAX_TEXT_LEN {
        return Err(EngineError::invalid(
            field,
            format!("must be at most {MAX_TEXT_LEN} characters"),
        ));
    }
    Ok(())
}

fn check_positive(field: &str, value: Decimal) -> Result<(), EngineError> {
    if value <= Decimal::ZERO {
        return Err(EngineError::invalid(
            field,
            format!("must be positive, got {value}"),
        ));
    }
    check_at_most(field, value, MAX_FIGURE)
}

fn check_not_negative(field: &str, value: Decimal) -> Result<(), EngineError> {
    if value < Decimal::ZERO {
        return Err(EngineError::invalid(
            field,
            format!("must not be negative, got {value}"),
        ));
    }
    check_at_most(field, value, MAX_FIGURE)
}

fn check_at_most(field: &str, value: Decimal, max: i64) -> Result<(), EngineError> {
    // A value is at most its mantissa (or negative), so a mantissa within
    // the limit settles it without a `Decimal` comparison, which rescales
    // (every order checks several figures).
    if value.mantissa() <= i128::from(max) {
        return Ok(());
    }
    if value > Decimal::from(max) {
        return Err(EngineError::OutOfRange {
            field: field.to_owned(),
            message: format!("must be at most {max}, got {value}"),
        });
    }
    Ok(())
}

/// `error`, of a check made with an empty field name, about `field`.
fn at_field(error: EngineError, field: String) -> EngineError {
    match error {
        EngineError::InvalidInput { message, .. } => EngineError::InvalidInput { field, message },
        EngineError::OutOfRange { message, .. } => EngineError::OutOfRange { field, message },
        other => other,
    }
}

impl Order {
    /// An amount of zero (a free or fully discounted order) counts as a
    /// transaction and a visit and earns nothing.
    pub fn check(&self) -> Result<(), EngineError> {
        check_id("orderId", &self.order_id)?;
        check_id("customerId", &self.customer_id)?;
        check_time("placedAt", self.placed_at)?;
        check_not_negative("amount", self.amount)?;
        if let Some(gross) = self.gross_amount {
            check_not_negative("grossAmount", gross)?;
        }
        if let Some(c) = &self.currency {
            check_id("currency", c)?;
        }
        if self.line_items.len() > MAX_LINE_ITEMS {
            return Err(EngineError::invalid(
                "lineItems",
                format!(
                    "at most {MAX_LINE_ITEMS} line items, got {}",
                    self.line_items.len()
                ),
            ));
        }
        for (i, item) in self.line_items.iter().enumerate() {
            // The field's path is written only for an error: formatting it
            // for every item of every order was most of an order's checks.
            let at = |field: &'static str| move |e| at_field(e, format!("lineItems/{i}/{field}"));
            check_id("", &item.sku).map_err(at("sku"))?;
            if let Some(c) = &item.category {
                check_id("", c).map_err(at("category"))?;
            }
            check_not_negative("", item.price).map_err(at("price"))?;
            check_positive("", item.quantity).map_err(at("quantity"))?;
            check_at_most("", item.quantity, MAX_QUANTITY).map_err(at("quantity"))?;
        }
        // Each product fits (10^15 x 10^6); their sum is what trackers add
        // up, so it is held to the same limit as any other figure.
        check_at_most("lineItems", self.line_total(None).0, MAX_FIGURE)?;
        Ok(())
    }

    /// Sum of price x quantity over the items of `category` (all items when
    /// `None`), and whether the order has any such item.
    pub fn line_total(&self, category: Option<&str>) -> (Decimal, bool) {
        let mut total = Decimal::ZERO;
        let mut found = false;
        for item in &self.line_items {
            if category.is_none() || item.category.as_deref() == category {
                total += item.price * item.quantity;
                found = true;
            }
        }
        (total, found || category.is_none())
    }
}

impl Return {
    pub fn check(&self) -> Result<(), EngineError> {
        check_id("returnId", &self.return_id)?;
        check_id("orderId", &self.order_id)?;
        check_id("customerId", &self.customer_id)?;
        check_time("returnedAt", self.returned_at)?;
        if let Some(a) = self.amount {
            check_positive("amount", a)?;
        }
        Ok(())
    }
}

impl Redemption {
    pub fn check(&self) -> Result<(), EngineError> {
        check_id("redemptionId", &self.redemption_id)?;
        check_time("at", self.at)?;
        if self.points.normalize().scale() > crate::decimal::POINTS_SCALE {
            return Err(EngineError::invalid(
                "points",
                format!(
                    "points carry at most {} decimals",
                    crate::decimal::POINTS_SCALE
                ),
            ));
        }
        check_positive("points", self.points)
    }
}

/// What an applied order contributed, kept with the order so that a return
/// can take back exactly its share and a new tracker can count it later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRecord {
    pub order_id: String,
    pub placed_at: DateTime<Utc>,
    pub amount: Money,
    pub gross_amount: Money,
    /// Price x quantity over all line items.
    pub line_items_total: Money,
    /// Price x quantity per category, for category-filtered trackers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<(String, Money)>,
    /// Placed at or after the program's start date.
    pub counts_for_purchases: bool,
    pub points_awarded: Points,
    pub returned_amount: Money,
    /// Each return's instant and amount, in the order they came: a late
    /// event that judges a past period end again reads what every order had
    /// left then. A record written before these were kept has none, and its
    /// `returned_amount` counts as returned before any end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub returns: Vec<ReturnMark>,
    pub points_reversed: Points,
    pub tier_before: String,
    pub tier_after: String,
    /// The config version the order was decided under: a return judges
    /// the tier it earned under the same rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_version: Option<u64>,
    /// Decided after a redemption of its very instant (the customer's
    /// latest then): a replay of current points counts that redemption
    /// before it, where one of its instant otherwise comes after it
    /// (`redeemed.rs`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after_redemption: bool,
    /// How many orders the customer had counted when it was decided, kept
    /// for an order placed at or before the customer's latest event (orders
    /// of its instant may have come before it): orders of one instant were
    /// decided in that order, each counting those before it, and an
    /// explanation counts them so. None for an order placed after every
    /// event, the first of its instant (and in a record written before the
    /// thirty-third session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival: Option<u64>,
}

/// How many of an order's returns keep their instant.
pub const MARKED_RETURNS: usize = 32;

/// One return of an order: when it was made and how much it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnMark {
    pub at: DateTime<Utc>,
    pub amount: Money,
    /// How many orders the customer had counted when it was made: an
    /// order of its instant whose `arrival` is below it (or that has none)
    /// came before it, any other after it. None in a mark written before
    /// the thirty-eighth session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival: Option<u64>,
    /// Under `withinBalance`, the points it could not take from current
    /// points (the balance was short). A walk over the orders takes every
    /// point a return took back, so it tells current points as in time
    /// only where none fell short. None under `negativeBalance`, which
    /// takes them all, for a return told after later events (it met
    /// another balance than in time), and in a mark written before the
    /// fiftieth session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shortfall: Option<Points>,
}

impl OrderRecord {
    /// Whether it was decided before `other`: placed earlier, or at its
    /// instant and counted before it. Of one instant, a record without an
    /// arrival came first (written as the first of its instant, or before
    /// arrivals were kept, and so before any record that has one); of two
    /// without, neither is known to.
    pub fn decided_before(&self, other: &OrderRecord) -> bool {
        self.order_id != other.order_id
            && (self.placed_at < other.placed_at
                || self.placed_at == other.placed_at
                    && match (self.arrival, other.arrival) {
                        (Some(mine), Some(theirs)) => mine < theirs,
                        (None, Some(_)) => true,
                        (_, None) => false,
                    })
    }

    pub fn remaining(&self) -> Money {
        self.amount - self.returned_amount
    }

    /// The order it was decided from, as far as any rule reads an order:
    /// the same amounts, and line items with the same total per category
    /// and overall (one item per category, one for the rest). A replay of
    /// the customer's events applies it again (`replay.rs`, tier-sim).
    pub fn order_as_decided(&self, customer_id: &str, status: OrderStatus) -> Order {
        let mut line_items: Vec<LineItem> = self
            .categories
            .iter()
            .map(|(category, total)| LineItem {
                sku: category.clone(),
                category: Some(category.clone()),
                price: *total,
                quantity: Decimal::ONE,
            })
            .collect();
        let categorised: Decimal = self.categories.iter().map(|(_, total)| *total).sum();
        let rest = self.line_items_total - categorised;
        if !rest.is_zero() {
            line_items.push(LineItem {
                sku: "-".into(),
                category: None,
                price: rest,
                quantity: Decimal::ONE,
            });
        }
        Order {
            order_id: self.order_id.clone(),
            customer_id: customer_id.to_owned(),
            placed_at: self.placed_at,
            status,
            amount: self.amount,
            gross_amount: Some(self.gross_amount),
            currency: None,
            line_items,
        }
    }

    /// Keeps when a return was made. Only the latest [`MARKED_RETURNS`]
    /// are kept, so that a client sending thousands of tiny returns cannot
    /// grow the order's item without bound; an older one counts from then
    /// on as returned before any end (as records written before marks did).
    pub(crate) fn mark_return(
        &mut self,
        at: DateTime<Utc>,
        amount: Money,
        arrival: u64,
        shortfall: Option<Points>,
    ) {
        if self.returns.len() >= MARKED_RETURNS {
            self.returns.remove(0);
        }
        self.returns.push(ReturnMark {
            at,
            amount,
            arrival: Some(arrival),
            shortfall,
        });
    }

    /// What was returned of the order that no mark keeps: returned before
    /// marks were kept, or in a mark lost past the latest
    /// [`MARKED_RETURNS`].
    pub(crate) fn unmarked(&self) -> Money {
        let marked: Money = self.returns.iter().map(|r| r.amount).sum();
        self.returned_amount - marked
    }

    /// What had been returned of the order before `instant` (a return at
    /// the instant itself had not happened yet there).
    pub fn returned_before(&self, instant: DateTime<Utc>) -> Money {
        self.returns
            .iter()
            .filter(|r| r.at < instant)
            .fold(self.unmarked(), |sum, r| sum + r.amount)
    }

    /// The record as it stood at `instant`: returns made since (at it or
    /// after) not yet made, and the points they took back not yet taken.
    pub(crate) fn as_it_stood(&self, instant: DateTime<Utc>) -> Cow<'_, OrderRecord> {
        let returned = self.returned_before(instant);
        if returned >= self.returned_amount {
            return Cow::Borrowed(self);
        }
        let mut then = self.clone();
        // What the returns made by then took, as each return computes it
        // (the share of the points awarded, rounded half to even): the
        // final points shared out would round otherwise.
        then.points_reversed = crate::apply::taken(self.points_awarded, returned, self.amount);
        then.returned_amount = returned;
        then.returns.retain(|r| r.at < instant);
        Cow::Owned(then)
    }

    /// Whether a return took all of it (never true of a free order, which
    /// nothing can be returned from).
    pub fn fully_returned(&self) -> bool {
        self.returned_amount > Decimal::ZERO && self.returned_amount >= self.amount
    }

    pub fn category_total(&self, category: &str) -> Option<Money> {
        self.categories
            .iter()
            .find(|(c, _)| c == category)
            .map(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[test]
    fn an_event_may_be_dated_up_to_the_lead_past_the_clock() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let lead = Duration::seconds(300);
        assert!(check_not_ahead("placedAt", now - Duration::days(3000), now, lead).is_ok());
        assert!(check_not_ahead("placedAt", now + lead, now, lead).is_ok());
        let refused = check_not_ahead(
            "placedAt",
            now + lead + Duration::milliseconds(1),
            now,
            lead,
        );
        assert!(
            matches!(&refused, Err(EngineError::DatedAhead { field, latest, .. })
                if field == "placedAt" && *latest == now + lead),
            "{refused:?}"
        );
        // No lead at all, and one past every instant chrono holds.
        assert!(check_not_ahead("at", now + Duration::seconds(1), now, Duration::zero()).is_err());
        let far = Utc.with_ymd_and_hms(2199, 12, 31, 23, 59, 59).unwrap();
        assert!(check_not_ahead("at", far, now, Duration::MAX).is_ok());
    }

    fn record(id: &str, hour: u32, arrival: Option<u64>) -> OrderRecord {
        OrderRecord {
            order_id: id.into(),
            placed_at: Utc.with_ymd_and_hms(2026, 3, 1, hour, 0, 0).unwrap(),
            amount: Money::ONE,
            gross_amount: Money::ONE,
            line_items_total: Money::ZERO,
            categories: vec![],
            counts_for_purchases: true,
            points_awarded: Money::ONE,
            returned_amount: Money::ZERO,
            returns: vec![],
            points_reversed: Money::ZERO,
            tier_before: "Member".into(),
            tier_after: "Member".into(),
            config_version: None,
            after_redemption: false,
            arrival,
        }
    }

    /// Earlier placed first whatever the arrivals; of one instant, one
    /// without an arrival first, then by arrival; two without, neither;
    /// never an order before itself.
    #[test]
    fn which_order_was_decided_before_the_other() {
        // (first, second, first before second, second before first)
        let cases = [
            (record("a", 1, Some(9)), record("b", 2, None), true, false),
            (record("a", 1, None), record("b", 1, Some(1)), true, false),
            (
                record("a", 1, Some(1)),
                record("b", 1, Some(2)),
                true,
                false,
            ),
            (
                record("a", 1, Some(2)),
                record("b", 1, Some(2)),
                false,
                false,
            ),
            (record("a", 1, None), record("b", 1, None), false, false),
            (record("a", 1, None), record("a", 1, Some(1)), false, false),
        ];
        for (first, second, forward, backward) in cases {
            assert_eq!(
                first.decided_before(&second),
                forward,
                "{first:?} {second:?}"
            );
            assert_eq!(
                second.decided_before(&first),
                backward,
                "{second:?} {first:?}"
            );
        }
    }
}

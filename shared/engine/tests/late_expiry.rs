//! Returns and redemptions made before points expired that arrive after the
//! expiry (`expired_lots` in the state): each customer is run twice, every
//! event in time in one, and in the other the late event only after the
//! job expired the points, and both must hold the same points.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::json;
use tier_engine::*;

mod common;
use common::{at, d, give_back_among, order};

/// 1 point a dollar, points expire 30 days after the day they were earned.
fn expiring(policy: &str) -> Program {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "pointsExpiry": {"days": 30},
        "returnPolicy": {"spentPoints": policy},
        "tiers": [{"name": "Member", "earnRate": "1"}]
    });
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

#[derive(Clone)]
struct Cust<'a> {
    p: &'a Program,
    s: CustomerState,
    records: Vec<OrderRecord>,
    redeemed: Vec<Redeemed>,
}

impl<'a> Cust<'a> {
    fn new(p: &'a Program) -> Self {
        Cust {
            p,
            s: CustomerState::new(p, at("2026-01-01T00:00:00Z")),
            records: Vec::new(),
            redeemed: Vec::new(),
        }
    }

    fn order(&mut self, id: &str, when: &str, amount: &str) {
        let applied = self
            .p
            .apply_order(&mut self.s, &order(id, at(when), amount))
            .unwrap();
        self.records.push(applied.record);
    }

    fn give_back(&mut self, order_id: &str, when: &str) -> AppliedReturn {
        let ret = Return {
            return_id: format!("r-{order_id}"),
            order_id: order_id.into(),
            customer_id: "c1".into(),
            returned_at: at(when),
            amount: None,
        };
        give_back_among(self.p, &mut self.s, &mut self.records, &ret).unwrap()
    }

    fn redeem(&mut self, id: &str, when: &str, points: &str) -> Result<(), EngineError> {
        let r = Redemption {
            redemption_id: id.into(),
            points: d(points),
            at: at(when),
        };
        self.p.redeem(&mut self.s, &r)?;
        self.redeemed.push(Redeemed {
            at: r.at,
            points: r.points,
        });
        Ok(())
    }

    /// [`Cust::give_back`] with the customer's redemptions read, as the
    /// service reads them when a decision asks (`wants_redemptions`).
    fn give_back_reading_redemptions(&mut self, order_id: &str, when: &str) -> AppliedReturn {
        self.s.redemptions = Some(Redemptions::new(self.redeemed.clone()));
        let back = self.give_back(order_id, when);
        self.s.redemptions = None;
        back
    }

    fn job(&mut self, when: &str) {
        self.p.expire(&mut self.s, at(when));
    }

    fn points(&self) -> (Points, Points) {
        (self.s.current_points, self.s.lifetime_points)
    }
}

/// An event of a customer's history (instants are January 2026 days).
#[derive(Clone, Copy)]
enum Ev {
    Order(&'static str, &'static str, &'static str),
    Return(&'static str, &'static str),
    Redeem(&'static str, &'static str, &'static str),
}

impl Cust<'_> {
    fn apply(&mut self, ev: Ev) {
        match ev {
            Ev::Order(id, when, amount) => self.order(id, when, amount),
            Ev::Return(id, when) => {
                self.give_back(id, when);
            }
            Ev::Redeem(id, when, points) => self.redeem(id, when, points).unwrap(),
        }
    }
}

/// The customer of `events` in time, and the one to whom the events marked
/// late come only after the job expired January's first points (3
/// February); both are brought to 5 February.
fn twins<'a>(p: &'a Program, events: &[(Ev, bool)]) -> (Cust<'a>, Cust<'a>) {
    twins_after(p, events, "2026-02-03T00:00:00Z", "2026-02-05T00:00:00Z")
}

/// [`twins`] with the late events coming after the job at `job`, and both
/// brought to `end`.
fn twins_after<'a>(
    p: &'a Program,
    events: &[(Ev, bool)],
    job: &str,
    end: &str,
) -> (Cust<'a>, Cust<'a>) {
    let mut in_time = Cust::new(p);
    let mut late = Cust::new(p);
    for (ev, is_late) in events {
        in_time.apply(*ev);
        if !is_late {
            late.apply(*ev);
        }
    }
    late.job(job);
    for (ev, is_late) in events {
        if *is_late {
            late.apply(*ev);
        }
    }
    in_time.job(end);
    late.job(end);
    (in_time, late)
}

fn expired_left(c: &Cust<'_>) -> Points {
    c.s.expired_lots.iter().map(|l| l.points).sum()
}

/// o1's 100 points expire on 31 January; its return was made on the 10th.
#[test]
fn a_late_return_does_not_take_points_that_expired_after_it_was_made() {
    for policy in ["negativeBalance", "withinBalance"] {
        let p = expiring(policy);
        let (in_time, late) = twins(
            &p,
            &[
                (Ev::Order("o1", "2026-01-01T10:00:00Z", "100"), false),
                (Ev::Return("o1", "2026-01-10T10:00:00Z"), true),
                (Ev::Order("o2", "2026-01-20T10:00:00Z", "50"), false),
            ],
        );
        assert_eq!(in_time.points(), (d("50"), d("50")), "{policy}");
        assert_eq!(late.points(), in_time.points(), "{policy}");
        let record = &late.records[0];
        assert_eq!(record.points_reversed, d("100"));
        // The lot's expired record was used up: nothing is covered twice.
        assert_eq!(expired_left(&late), d("0"));
    }
}

/// Part of o1's lot was spent before it expired: the return takes the
/// rest from the expiry and the spent part from current points.
/// (`withinBalance` judges that rest against the balance when the return
/// arrives, as for every return: the balance at its instant is not kept.)
#[test]
fn a_late_return_of_partly_spent_points_takes_only_what_expiry_did_not() {
    let p = expiring("negativeBalance");
    let (in_time, late) = twins(
        &p,
        &[
            (Ev::Order("o1", "2026-01-01T10:00:00Z", "100"), false),
            (Ev::Redeem("x1", "2026-01-05T10:00:00Z", "30"), false),
            (Ev::Return("o1", "2026-01-10T10:00:00Z"), true),
            (Ev::Order("o2", "2026-01-20T10:00:00Z", "50"), false),
        ],
    );
    // In time: 70 - 100 = -30 on 10 January, then +50.
    assert_eq!(in_time.points(), (d("20"), d("50")));
    assert_eq!(late.points(), in_time.points());
}

#[test]
fn a_late_redemption_spends_points_that_expired_after_it_was_made_first() {
    let p = expiring("negativeBalance");
    // Only 50 by the time it comes: the 80 would be refused if judged on
    // that balance.
    let (in_time, mut late) = twins(
        &p,
        &[
            (Ev::Order("o1", "2026-01-01T10:00:00Z", "100"), false),
            (Ev::Redeem("x1", "2026-01-15T10:00:00Z", "80"), true),
            (Ev::Order("o2", "2026-01-20T10:00:00Z", "50"), false),
        ],
    );
    assert_eq!(in_time.points(), (d("50"), d("150")));
    assert_eq!(late.points(), in_time.points());
    // 20 of the expired 100 are left to cover a later late event.
    assert_eq!(expired_left(&late), d("20"));
    // A second late redemption uses those first, then today's points.
    late.redeem("x2", "2026-01-16T10:00:00Z", "30").unwrap();
    assert_eq!(late.s.current_points, d("40"));
    assert_eq!(expired_left(&late), d("0"));
}

#[test]
fn events_made_after_the_expiry_or_in_time_take_from_current_points() {
    let p = expiring("negativeBalance");
    let mut c = Cust::new(&p);
    c.order("o1", "2026-01-01T10:00:00Z", "100");
    c.order("o2", "2026-01-20T10:00:00Z", "50");
    c.job("2026-02-03T00:00:00Z");
    // Made after o1's points expired: a return takes none of them back,
    // a redemption spends today's points.
    let back = c.give_back("o1", "2026-02-01T10:00:00Z");
    assert_eq!(back.points_reversed, d("100"));
    assert_eq!(c.points(), (d("50"), d("50")));
    c.redeem("x1", "2026-02-04T10:00:00Z", "20").unwrap();
    assert_eq!(c.s.current_points, d("30"));
    // The expired record is still whole: nothing made before it took any.
    assert_eq!(expired_left(&c), d("100"));
    assert_eq!(
        c.redeem("x2", "2026-02-04T11:00:00Z", "31"),
        Err(EngineError::InsufficientPoints {
            requested: d("31"),
            available: d("30"),
        })
    );
}

#[test]
fn what_expired_is_forgotten_after_the_days_kept() {
    let p = expiring("negativeBalance");
    let kept = i64::from(state::EXPIRED_KEPT_DAYS);
    let expired_on: DateTime<Utc> = at("2026-01-31T00:00:00Z");
    let mut c = Cust::new(&p);
    c.order("o1", "2026-01-01T10:00:00Z", "100");
    c.job(&(expired_on + chrono::Duration::days(kept)).to_rfc3339());
    assert_eq!(c.s.expired_lots.len(), 1);
    c.job(&(expired_on + chrono::Duration::days(kept + 1)).to_rfc3339());
    assert!(c.s.expired_lots.is_empty());
    // Past the bound, the state alone no longer tells expired points from
    // spent ones: without the redemptions a late return takes the points
    // from current points.
    let mut unread = c.clone();
    unread.give_back("o1", "2026-01-10T10:00:00Z");
    assert_eq!(unread.points(), (d("-100"), d("0")));
    // With them read, none made, the lot expired whole and the return took
    // its points from it in time: nothing is owed, as in time.
    c.give_back_reading_redemptions("o1", "2026-01-10T10:00:00Z");
    assert_eq!(c.points(), (d("0"), d("0")));
}

/// A late order told once its lot had expired, and its return, made while
/// the lot was still there, told after it: the lot never counted in
/// current points, and in time the return took from that very lot, which
/// then expired that much less. Before, the return took its points from
/// the customer's newer points (long_late_histories, seed 43, draw 37115:
/// a `currentPoints` renewal failed a period early).
#[test]
fn the_return_of_a_late_order_whose_lot_expired_before_it_came_takes_no_newer_points() {
    for policy in ["negativeBalance", "withinBalance"] {
        let p = expiring(policy);
        let mut in_time = Cust::new(&p);
        let mut late = Cust::new(&p);
        in_time.order("oL", "2026-01-05T10:00:00Z", "80");
        in_time.give_back_reading_redemptions("oL", "2026-01-20T10:00:00Z");
        for c in [&mut in_time, &mut late] {
            c.order("o2", "2026-03-10T10:00:00Z", "50");
            c.job("2026-03-20T00:00:00Z");
        }
        late.order("oL", "2026-01-05T10:00:00Z", "80");
        // The job, as time runs, expires the late lot before the return.
        late.job("2026-03-21T00:00:00Z");
        late.give_back_reading_redemptions("oL", "2026-01-20T10:00:00Z");
        for c in [&mut in_time, &mut late] {
            c.job("2026-03-25T00:00:00Z");
        }
        assert_eq!(in_time.points(), (d("50"), d("50")), "{policy}");
        assert_eq!(late.points(), in_time.points(), "{policy}");
        assert_eq!(late.s.lots, in_time.s.lots, "{policy}: o2's lot is whole");
    }
}

/// A redemption made before the returned order's lot expired may have
/// spent it, and then in time the return took from newer lots: the lot's
/// having expired tells nothing, so, past the days kept, such a return
/// still takes from current points. It may owe more than in time (the
/// documented bound), never less.
#[test]
fn a_redemption_before_the_lot_expired_leaves_a_late_return_owing() {
    let p = expiring("negativeBalance");
    let mut in_time = Cust::new(&p);
    let mut late = Cust::new(&p);
    for c in [&mut in_time, &mut late] {
        c.order("o1", "2026-01-01T10:00:00Z", "100");
        c.redeem("x", "2026-01-05T10:00:00Z", "40").unwrap();
    }
    in_time.give_back_reading_redemptions("o1", "2026-01-10T10:00:00Z");
    for c in [&mut in_time, &mut late] {
        c.order("o2", "2026-03-10T10:00:00Z", "50");
        c.job("2026-03-20T00:00:00Z");
    }
    late.give_back_reading_redemptions("o1", "2026-01-10T10:00:00Z");
    assert_eq!(in_time.points(), (d("10"), d("50")));
    assert_eq!(late.points(), (d("-50"), d("50")));
}

#[test]
fn expired_lots_survive_a_json_round_trip_and_old_states_read_empty() {
    let p = expiring("negativeBalance");
    let mut c = Cust::new(&p);
    c.order("o1", "2026-01-01T10:00:00Z", "100");
    c.order("o2", "2026-01-02T10:00:00Z", "7.5");
    c.job("2026-02-03T00:00:00Z");
    assert_eq!(c.s.expired_lots.len(), 2);
    let json = serde_json::to_value(&c.s).unwrap();
    let back: CustomerState = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, c.s);
    let mut old = json;
    old.as_object_mut().unwrap().remove("expiredLots");
    let old: CustomerState = serde_json::from_value(old).unwrap();
    assert!(old.expired_lots.is_empty());
}

/// Late orders landing on many old days cannot grow the state: only days
/// whose lot expired within the days kept are remembered, one entry each.
#[test]
fn late_orders_on_many_old_days_keep_at_most_the_days_kept() {
    let p = expiring("negativeBalance");
    let mut c = Cust::new(&p);
    let now: DateTime<Utc> = at("2027-06-01T00:00:00Z");
    c.order("first", "2026-01-01T10:00:00Z", "1");
    c.job(&now.to_rfc3339());
    for back in 1..=400 {
        let placed = now - chrono::Duration::days(back);
        let amount = format!("{}.{:02}", back, back % 100);
        c.order(&format!("o{back}"), &placed.to_rfc3339(), &amount);
        for twice in ["late-a", "late-b"] {
            // A second order on the same day merges into its entry.
            if back % 7 == 0 {
                c.order(&format!("{twice}{back}"), &placed.to_rfc3339(), "1");
            }
        }
        c.job(&now.to_rfc3339());
    }
    let kept = usize::try_from(state::EXPIRED_KEPT_DAYS).unwrap();
    let entries = c.s.expired_lots.len();
    assert!(entries <= kept + 1, "{entries} entries");
    assert!(
        entries >= kept - 1,
        "{entries} entries: the recent ones are kept"
    );
    let days: Vec<_> = c.s.expired_lots.iter().map(|l| l.day).collect();
    assert!(days.windows(2).all(|w| w[0] < w[1]), "sorted, one a day");
}

/// a's lot was spent before its return was made, so in time the return
/// took b's points (the newest lot), and b's lot expired that much less.
/// Arriving after b's expiry, the return takes that part from what expired
/// of b, not from current points again.
#[test]
fn a_late_return_beyond_its_own_lot_takes_from_newer_lots_that_expired_since() {
    let p = expiring("negativeBalance");
    let (in_time, late) = twins_after(
        &p,
        &[
            (Ev::Order("a", "2026-01-01T10:00:00Z", "100"), false),
            (Ev::Order("b", "2026-01-10T10:00:00Z", "100"), false),
            (Ev::Redeem("x", "2026-01-15T10:00:00Z", "100"), false),
            (Ev::Return("a", "2026-01-20T10:00:00Z"), true),
        ],
        "2026-02-15T00:00:00Z",
        "2026-02-16T00:00:00Z",
    );
    assert_eq!(in_time.points(), (d("0"), d("100")));
    assert_eq!(late.points(), in_time.points());
}

/// Made on 5 January, when the customer held 100 points: 150 is refused in
/// time, and late too; b's lot, earned on the 10th, did not exist then.
#[test]
fn a_late_redemption_never_spends_lots_earned_after_it() {
    let p = expiring("negativeBalance");
    let mut in_time = Cust::new(&p);
    in_time.order("a", "2026-01-01T10:00:00Z", "100");
    let refused = in_time.redeem("x", "2026-01-05T10:00:00Z", "150");
    assert!(refused.is_err());
    let mut late = Cust::new(&p);
    late.order("a", "2026-01-01T10:00:00Z", "100");
    late.order("b", "2026-01-10T10:00:00Z", "100");
    late.job("2026-02-15T00:00:00Z");
    let before = late.s.clone();
    assert_eq!(
        late.redeem("x", "2026-01-05T10:00:00Z", "150"),
        Err(EngineError::InsufficientPoints {
            requested: d("150"),
            available: d("100"),
        })
    );
    assert_eq!(late.s, before, "a refusal changes nothing");
    // 100 made then is what a's lot held: accepted, current points stay.
    late.redeem("y", "2026-01-05T10:00:00Z", "100").unwrap();
    assert_eq!(late.points(), (d("0"), d("200")));
}

/// A longer `pointsExpiry` in a later config does not bring expired points
/// back: what expired keeps the day it expired on.
#[test]
fn a_longer_expiry_in_a_later_config_does_not_revive_expired_points() {
    let short = expiring("negativeBalance");
    let long = Program::validate(
        serde_json::from_value(json!({
            "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
            "pointsExpiry": {"days": 365},
            "tiers": [{"name": "Member", "earnRate": "1"}]
        }))
        .unwrap(),
    )
    .unwrap();
    let mut c = Cust::new(&short);
    c.order("a", "2026-01-01T10:00:00Z", "100");
    c.job("2026-02-05T00:00:00Z");
    assert_eq!(c.s.current_points, d("0"));
    let mut c = Cust { p: &long, ..c };
    assert!(c.redeem("x", "2026-02-10T10:00:00Z", "100").is_err());
    // Made before the expiry, it still spends them.
    c.redeem("y", "2026-01-20T10:00:00Z", "100").unwrap();
    assert_eq!(c.s.current_points, d("0"));
}

/// Late orders on old days, each with a late return made when its points
/// expire: what is remembered is bounded by the customer's latest instant,
/// not by each event's own.
#[test]
fn late_events_at_old_instants_remember_nothing_older_than_the_days_kept() {
    let p = expiring("negativeBalance");
    let mut c = Cust::new(&p);
    let now: DateTime<Utc> = at("2027-06-01T00:00:00Z");
    c.order(
        "first",
        &(now - chrono::Duration::days(1)).to_rfc3339(),
        "1",
    );
    c.job(&now.to_rfc3339());
    for k in 0..300 {
        let placed = now - chrono::Duration::days(200 + k);
        let id = format!("o{k}");
        c.order(&id, &placed.to_rfc3339(), "1.23456789");
        c.give_back(&id, &(placed + chrono::Duration::days(30)).to_rfc3339());
    }
    let kept = usize::try_from(state::EXPIRED_KEPT_DAYS).unwrap();
    assert!(
        c.s.expired_lots.len() <= kept + 1,
        "{}",
        c.s.expired_lots.len()
    );
}

/// One step of a random history: an order, a return of an earlier order
/// (whole, or a part), or a redemption.
#[derive(Debug, Clone)]
enum Step {
    Order {
        day: i64,
        dollars: i64,
    },
    Return {
        of: usize,
        after: i64,
        part: Option<i64>,
    },
    Redeem {
        day: i64,
        points: i64,
    },
}

/// A history of timed events, and whether each was taken.
struct Timed<'a> {
    c: Cust<'a>,
    taken: Vec<bool>,
    /// Current points after each event.
    after: Vec<Points>,
}

fn events_of(steps: &[Step]) -> Vec<(DateTime<Utc>, Step)> {
    let base: DateTime<Utc> = at("2026-01-01T10:00:00Z");
    let mut orders: Vec<i64> = Vec::new();
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let minutes = chrono::Duration::minutes(i as i64);
        let when = match step {
            Step::Order { day, .. } => {
                orders.push(*day);
                base + chrono::Duration::days(*day) + minutes
            }
            Step::Return { of, after, .. } => {
                let Some(day) = (!orders.is_empty()).then(|| orders[of % orders.len()]) else {
                    continue;
                };
                base + chrono::Duration::days(day + after)
                    + chrono::Duration::minutes(100)
                    + minutes
            }
            Step::Redeem { day, .. } => base + chrono::Duration::days(*day) + minutes,
        };
        out.push((when, step.clone()));
    }
    out.sort_by_key(|(when, _)| *when);
    out
}

fn apply_step(t: &mut Timed<'_>, i: usize, when: DateTime<Utc>, step: &Step, order_ids: &[String]) {
    let stamp = when.to_rfc3339();
    let taken = match step {
        Step::Order { dollars, .. } => {
            t.c.order(&format!("e{i}"), &stamp, &dollars.to_string());
            true
        }
        Step::Return { of, part, .. } => {
            let Some(id) = (!order_ids.is_empty()).then(|| &order_ids[of % order_ids.len()]) else {
                t.after.push(t.c.s.current_points);
                return t.taken.push(false);
            };
            let Some(k) = t.c.records.iter().position(|r| &r.order_id == id) else {
                t.after.push(t.c.s.current_points);
                return t.taken.push(false);
            };
            let mut record = t.c.records.remove(k);
            let ret = Return {
                return_id: format!("r{i}"),
                order_id: id.clone(),
                customer_id: "c1".into(),
                returned_at: when,
                amount: part.map(rust_decimal::Decimal::from),
            };
            let history = ReturnHistory {
                orders: &t.c.records,
                rules: &CurrentRulesOnly,
            };
            let ok =
                t.c.p
                    .apply_return_judged(&mut t.c.s, &mut record, &ret, &history)
                    .is_ok();
            t.c.records.insert(k, record);
            ok
        }
        Step::Redeem { points, .. } => {
            t.c.redeem(&format!("x{i}"), &stamp, &points.to_string())
                .is_ok()
        }
    };
    t.taken.push(taken);
    t.after.push(t.c.s.current_points);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 400, max_global_rejects: 100_000, .. ProptestConfig::default()
    })]
    /// Orders, returns and redemptions over 60 days with 30-day expiry; one
    /// return or redemption arrives after the job on day 60 instead of in
    /// time. When no other return or redemption was made after it (those
    /// would have spent other lots in time, docs/late-events.md) and it is
    /// taken or refused alike, the late customer holds the same points.
    /// Both return policies; `withinBalance` when nothing came after it; a
    /// customer whose balance never went below zero in time.
    #[test]
    fn a_late_return_or_redemption_holds_the_points_it_would_in_time(
        steps in proptest::collection::vec(prop_oneof![
            3 => (0i64..40, 1i64..10).prop_map(|(day, d)| Step::Order { day, dollars: 10 * d }),
            1 => (0usize..8, 0i64..20, proptest::option::of(1i64..6))
                .prop_map(|(of, after, part)| Step::Return { of, after, part: part.map(|p| p * 5) }),
            1 => (0i64..40, 1i64..10).prop_map(|(day, p)| Step::Redeem { day, points: 10 * p }),
        ], 3..10),
        late in 0usize..10,
        policy in prop_oneof![Just("negativeBalance"), Just("withinBalance")],
    ) {
        let p = expiring(policy);
        let events = events_of(&steps);
        let spending: Vec<usize> = (0..events.len())
            .filter(|i| !matches!(events[*i].1, Step::Order { .. }))
            .collect();
        prop_assume!(!spending.is_empty());
        let late = spending[late % spending.len()];
        prop_assume!(spending.iter().all(|i| *i <= late));
        // `withinBalance` judges a late return against the balance when it
        // arrives (README): points earned after it was made count there.
        prop_assume!(policy == "negativeBalance" || events[late + 1..].is_empty());
        let order_ids: Vec<String> = events
            .iter()
            .enumerate()
            .filter(|(_, (_, s))| matches!(s, Step::Order { .. }))
            .map(|(i, _)| format!("e{i}"))
            .collect();
        // Day 60: every expiry (days 30 to 69) is within the days kept.
        let end = "2026-03-02T10:00:00Z";
        let mut in_time = Timed { c: Cust::new(&p), taken: Vec::new(), after: Vec::new() };
        for (i, (when, step)) in events.iter().enumerate() {
            apply_step(&mut in_time, i, *when, step, &order_ids);
        }
        in_time.c.job(end);
        let mut delayed = Timed { c: Cust::new(&p), taken: Vec::new(), after: Vec::new() };
        for (i, (when, step)) in events.iter().enumerate() {
            if i != late {
                apply_step(&mut delayed, i, *when, step, &order_ids);
            }
        }
        delayed.c.job(end);
        apply_step(&mut delayed, late, events[late].0, &events[late].1, &order_ids);
        delayed.c.job(end);
        prop_assume!(in_time.taken[late] == *delayed.taken.last().unwrap());
        // A balance below zero (a return of spent points) lets expiry take
        // less than a lot held; how much depends on the balance at each
        // expiry, which is not kept (docs/late-events.md).
        prop_assume!(in_time.after.iter().all(|p| *p >= rust_decimal::Decimal::ZERO));
        prop_assert_eq!(delayed.c.points(), in_time.c.points());
    }
}

/// A damaged `expiredLots` (days out of order, twice, points not above
/// zero) reads as the list the engine would have written, never refused.
#[test]
fn a_damaged_expired_list_reads_as_the_nearest_sorted_one() {
    let p = expiring("negativeBalance");
    let mut json =
        serde_json::to_value(CustomerState::new(&p, at("2026-01-01T00:00:00Z"))).unwrap();
    json["expiredLots"] = json!([
        [20500, 30, "5"],
        [-3, 30, "7"],
        [0, 30, "1"],
        [1, 30, "-2"],
        [4, 30, "0"]
    ]);
    let s: CustomerState = serde_json::from_value(json).unwrap();
    let read: Vec<(i32, i32, Points)> = s
        .expired_lots
        .iter()
        .map(|l| (l.day, l.expired_on, l.points))
        .collect();
    assert_eq!(read, vec![(20497, 20527, d("8")), (20500, 20530, d("5"))]);
}

/// Found by review: A was earned under a config whose points lasted a
/// year; a config of 90 days came before its lot expired, and a
/// redemption before that expiry spent A's lot (oldest first) after the
/// return had emptied it in time, so in time the redemption spent N. The
/// return of A, arriving after the job, is of an order decided under
/// another config: today's period says nothing of when its lot expired,
/// and the return takes from current points as before, as in time here.
#[test]
fn a_late_return_of_an_order_decided_under_another_expiry_takes_as_before() {
    let versioned = |days: u32, version: u64| {
        let config = json!({
            "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
            "pointsExpiry": {"days": days},
            "returnPolicy": {"spentPoints": "negativeBalance"},
            "tiers": [{"name": "Member", "earnRate": "1"}]
        });
        Program::validate(serde_json::from_value(config).unwrap())
            .unwrap()
            .with_version(version)
    };
    let (year, ninety) = (versioned(365, 1), versioned(90, 2));
    let returned = Return {
        return_id: "r-A".into(),
        order_id: "A".into(),
        customer_id: "c1".into(),
        returned_at: at("2026-01-31T10:00:00Z"),
        amount: None,
    };
    let redemption = Redemption {
        redemption_id: "x".into(),
        points: d("100"),
        at: at("2026-06-10T10:00:00Z"),
    };
    let mut points = Vec::new();
    for late in [false, true] {
        let mut s = CustomerState::new(&year, at("2026-01-01T00:00:00Z"));
        let mut records = vec![
            year.apply_order(&mut s, &order("A", at("2026-01-01T10:00:00Z"), "100"))
                .unwrap()
                .record,
        ];
        if !late {
            give_back_among(&year, &mut s, &mut records, &returned).unwrap();
        }
        let n = order("N", at("2026-05-31T10:00:00Z"), "500");
        records.push(year.apply_order(&mut s, &n).unwrap().record);
        year.redeem(&mut s, &redemption).unwrap();
        ninety.expire(&mut s, at("2026-07-20T00:00:00Z"));
        if late {
            s.redemptions = Some(Redemptions::new(vec![Redeemed {
                at: redemption.at,
                points: redemption.points,
            }]));
            give_back_among(&ninety, &mut s, &mut records, &returned).unwrap();
            s.redemptions = None;
        }
        ninety.expire(&mut s, at("2026-07-30T00:00:00Z"));
        points.push(s.current_points);
    }
    assert_eq!(points, vec![d("400"), d("400")]);
}

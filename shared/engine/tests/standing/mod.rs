//! The course a customer's history tells, read as the engine reads it
//! (`CustomerState::standing_changes`), for tests that hold a late
//! customer's course against the in-time one's.

use chrono::{DateTime, Utc};
use tier_engine::{Program, TierChange};

/// From, to, and when.
pub type Move = (String, String, DateTime<Utc>);

/// The course a history tells, read as the engine reads it: an entry
/// dated before the one listed before it replaces what came after its
/// instant, and the changes of one instant are one move (none when they
/// end on the tier they started from).
pub fn course(history: &[TierChange]) -> Vec<Move> {
    let mut standing: Vec<&TierChange> = Vec::new();
    for c in history {
        while standing.last().is_some_and(|kept| kept.at > c.at) {
            standing.pop();
        }
        standing.push(c);
    }
    let mut moves: Vec<Move> = Vec::new();
    for c in standing {
        match moves.last_mut() {
            Some(last) if last.2 == c.at => last.1.clone_from(&c.to),
            _ => moves.push((c.from.clone(), c.to.clone(), c.at)),
        }
    }
    moves.retain(|(from, to, _)| from != to);
    moves
}

/// A customer a test feeds orders (id, placed at, amount) one by one.
pub trait Fed {
    fn fresh(p: &Program) -> Self;
    fn feed(&mut self, p: &Program, order: (&str, &str, &str));
}

/// The in-time customer and the late one, after `late` came last.
pub fn twins<C: Fed>(p: &Program, base: &[(&str, &str, &str)], late: (&str, &str, &str)) -> [C; 2] {
    let mut in_time = C::fresh(p);
    let mut all = base.to_vec();
    all.push(late);
    all.sort_by_key(|o| o.1);
    for o in all {
        in_time.feed(p, o);
    }
    let mut late_one = C::fresh(p);
    for o in base {
        late_one.feed(p, *o);
    }
    late_one.feed(p, late);
    [in_time, late_one]
}

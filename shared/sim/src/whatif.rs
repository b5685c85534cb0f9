//! One customer's history replayed under both configs into a report: the
//! step every way in (the CLI over an export or an orders file, the API's
//! simulation job over the table) takes per customer.

use crate::history::CustomerHistory;
use crate::replay::{replay, CustomerRun};
use crate::report::{Mover, Report};
use chrono::{DateTime, Utc};
use tier_engine::Program;

/// Sees what one customer came to under both configs.
pub type Observe<'a> = &'a dyn Fn(&str, &CustomerRun, &CustomerRun);

/// Both programs and the replayed window of one run.
#[derive(Clone, Copy)]
pub struct Run<'a> {
    pub current: &'a Program,
    pub draft: &'a Program,
    /// Instants at which customers per tier are also counted (ascending).
    pub as_of: &'a [DateTime<Utc>],
    /// Only events at or after `from` and before `to` are replayed.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Run<'_> {
    /// Replays one customer (events outside the window dropped; nothing
    /// left: not counted) into `report`; returns the customer as a mover
    /// when the draft puts them on another tier. `observe` sees both runs.
    pub fn customer(
        &self,
        mut history: CustomerHistory,
        report: &mut Report,
        observe: Option<Observe<'_>>,
    ) -> Option<Mover> {
        history.window(self.from, self.to);
        if history.events.is_empty() {
            return None;
        }
        let current = replay(self.current, &history, self.as_of);
        let draft = replay(self.draft, &history, self.as_of);
        if let Some(observe) = observe {
            observe(&history.customer_id, &current, &draft);
        }
        report.add(
            &history.customer_id,
            history.events.len(),
            (self.current, &current),
            (self.draft, &draft),
        )
    }
}

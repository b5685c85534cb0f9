//! The loyalty-tier engine: pure decisions, no I/O.
//!
//! A [`ProgramConfig`] is validated into a [`Program`]; a program applies
//! orders, returns and redemptions to a [`CustomerState`], decides upgrades
//! (lazy, eager, dynamic), and reports status and progress.

pub mod apply;
mod as_in_time;
pub mod config;
mod course_set_right;
pub mod decimal;
mod down_since;
pub mod error;
pub mod evaluate;
pub mod events;
pub mod expired;
pub mod expiry;
pub mod explain;
pub mod expression;
mod fixed;
mod held_then;
mod late_ends;
mod late_return_course;
mod late_upgrade;
pub mod lifecycle;
mod net_walk;
pub mod notice;
mod older_ends;
pub mod period;
mod plan;
pub mod program;
pub mod progress;
pub mod publish;
pub mod record_bytes;
pub mod redeemed;
pub mod reevaluate;
pub mod rejudge;
mod replay;
pub mod returns;
pub mod reversal;
mod screen;
pub mod series;
pub mod state;
pub mod upgrade;
pub mod validity;

pub use apply::AppliedOrder;
pub use config::*;
pub use decimal::{Money, Points};
pub use error::EngineError;
pub use events::{
    LineItem, Order, OrderRecord, OrderStatus, Redemption, Return, ReturnMark, MARKED_RETURNS,
};
pub use expiry::Expired;
pub use explain::{CriterionTruth, ExplainError, Explanation, Needed, OrderExplanation};
pub use lifecycle::{transition, Transition};
pub use notice::{
    Notice, NoticeKind, MAX_NOTICES_OWED_BEFORE_A_DECISION, MAX_NOTICES_PER_DECISION,
};
pub use program::{Problem, Program, TierIndex, MAX_KEPT_DAYS};
pub use progress::{CriterionProgress, Status, TierProgress};
pub use redeemed::{Redeemed, Redemptions};
pub use returns::{AppliedReturn, Downgrade};
pub use reversal::{CurrentRulesOnly, ReturnHistory, RuleBook};
pub use state::{CustomerState, TierChange};
pub use upgrade::{Decision, Segment, Upgrade};
pub use validity::AtRisk;

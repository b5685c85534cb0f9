//! An order's lifecycle: what an event for an order id already seen means.
//! Pending orders may complete or be cancelled, completed orders may be
//! cancelled (a whole return), cancelled ones never change again; the same
//! status with the same payload is a replay, anything else a conflict.

use crate::events::OrderStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The same event again: answer what was answered the first time.
    Duplicate,
    /// A different payload under the id, or a move the lifecycle forbids.
    Conflict,
    /// A pending order completes: it counts now.
    Complete,
    /// A pending order is cancelled: nothing was counted, nothing to undo.
    CancelPending,
    /// A completed order is cancelled: what remains of it is returned.
    CancelCompleted,
}

/// `previous` is the stored status (None when unreadable), `same_payload`
/// whether the event matches the stored one apart from its status.
pub fn transition(
    previous: Option<OrderStatus>,
    same_payload: bool,
    next: OrderStatus,
) -> Transition {
    use OrderStatus::*;
    if !same_payload {
        return Transition::Conflict;
    }
    match (previous, next) {
        (Some(old), new) if old == new => Transition::Duplicate,
        (Some(Pending), Completed) => Transition::Complete,
        (Some(Pending), Cancelled) => Transition::CancelPending,
        (Some(Completed), Cancelled) => Transition::CancelCompleted,
        _ => Transition::Conflict,
    }
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Completed => "completed",
            OrderStatus::Pending => "pending",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            OrderStatus::Completed,
            OrderStatus::Pending,
            OrderStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn the_lifecycle_moves_forward_only() {
        assert_eq!(
            transition(Some(Pending), true, Completed),
            Transition::Complete
        );
        assert_eq!(
            transition(Some(Pending), true, Cancelled),
            Transition::CancelPending
        );
        assert_eq!(
            transition(Some(Completed), true, Cancelled),
            Transition::CancelCompleted
        );
        assert_eq!(
            transition(Some(Completed), true, Completed),
            Transition::Duplicate
        );
        assert_eq!(
            transition(Some(Cancelled), true, Completed),
            Transition::Conflict
        );
        assert_eq!(
            transition(Some(Completed), true, Pending),
            Transition::Conflict
        );
        assert_eq!(
            transition(Some(Completed), false, Completed),
            Transition::Conflict
        );
        assert_eq!(transition(None, true, Completed), Transition::Conflict);
        for s in [Completed, Pending, Cancelled] {
            assert_eq!(OrderStatus::from_name(s.as_str()), Some(s));
        }
    }
}

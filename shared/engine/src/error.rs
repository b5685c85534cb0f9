use crate::decimal::{Money, Points};
use thiserror::Error;

/// Why the engine refused an event. Nothing was changed when it refuses.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EngineError {
    #[error("{field}: {message}")]
    InvalidInput { field: String, message: String },
    /// A figure, or a total it would produce, beyond the documented limits.
    #[error("{field}: {message}")]
    OutOfRange { field: String, message: String },
    #[error("the order is in {got}, the program counts {expected}")]
    CurrencyMismatch { expected: String, got: String },
    #[error("only completed orders count")]
    NotCompleted,
    #[error("the return of {requested} is more than the {remaining} that remains of the order")]
    ReturnExceedsRemaining { requested: Money, remaining: Money },
    #[error("the redemption of {requested} points is more than the {available} current points")]
    InsufficientPoints {
        requested: Points,
        available: Points,
    },
    #[error("the program has no tier `{0}`")]
    UnknownTier(String),
    /// An event dated past the receiver's clock plus the lead it allows.
    #[error(
        "{field}: {} has not come yet (the latest instant accepted now is {})",
        .at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        .latest.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    )]
    DatedAhead {
        field: String,
        at: chrono::DateTime<chrono::Utc>,
        latest: chrono::DateTime<chrono::Utc>,
    },
}

impl EngineError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        EngineError::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }
}

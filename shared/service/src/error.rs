//! Every error a client can see, mapped to its HTTP status and code in this
//! one place: `{"error": {"code", "message", "details"}}`.

use serde::Serialize;
use serde_json::Value;
use tier_engine::{EngineError, Problem};
use tier_store::StoreError;

/// The most problems of a configuration one reply lists.
const MAX_PROBLEMS_TOLD: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<Value>,
    /// Seconds, for 503s.
    pub retry_after: Option<u32>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[Value]>::is_empty")]
    details: &'a [Value],
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: Vec<Value>) -> Self {
        self.details = details;
        self
    }

    /// A failure of ours that a retry will not fix (logged where it arose).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(404, code, message)
    }

    pub fn idempotency_conflict(what: &str, id: &str) -> Self {
        Self::new(
            409,
            "idempotency_conflict",
            format!("{what} `{id}` was already received with a different payload"),
        )
    }

    pub fn busy() -> Self {
        ApiError {
            retry_after: Some(1),
            ..Self::new(
                503,
                "contention",
                "conflicting writes to this customer persisted; retry shortly",
            )
        }
    }

    pub fn invalid_config(problems: Vec<Problem>) -> Self {
        // A hostile body can hold a problem in every entry of a long list;
        // the first ones tell the client what to mend, the count the rest.
        let details = problems
            .iter()
            .take(MAX_PROBLEMS_TOLD)
            .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
            .collect();
        Self::new(
            422,
            "invalid_config",
            format!("the configuration has {} problem(s)", problems.len()),
        )
        .with_details(details)
    }

    pub fn body(&self) -> String {
        serde_json::to_string(&Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                details: &self.details,
            },
        })
        .unwrap_or_default()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let message = e.to_string();
        match e {
            EngineError::InvalidInput { field, .. } => {
                ApiError::new(400, "invalid_request", message)
                    .with_details(vec![serde_json::json!({ "field": field })])
            }
            EngineError::OutOfRange { field, .. } => {
                ApiError::new(422, "amount_out_of_range", message)
                    .with_details(vec![serde_json::json!({ "field": field })])
            }
            EngineError::CurrencyMismatch { .. } => {
                ApiError::new(422, "currency_mismatch", message)
            }
            EngineError::NotCompleted => ApiError::new(422, "order_not_completed", message),
            EngineError::ReturnExceedsRemaining { .. } => {
                ApiError::new(422, "return_exceeds_order", message)
            }
            EngineError::InsufficientPoints { .. } => {
                ApiError::new(422, "insufficient_points", message)
            }
            EngineError::UnknownTier(_) => ApiError::new(422, "unknown_tier", message),
            EngineError::DatedAhead { field, .. } => ApiError::new(422, "event_in_future", message)
                .with_details(vec![serde_json::json!({ "field": field })]),
        }
    }
}

impl From<StoreError> for ApiError {
    /// Logged here, once, with its cause: every store failure a client sees
    /// passes through this mapping.
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Transient(_) => {
                tracing::warn!(error = %e, "store unavailable after retries");
                ApiError {
                    retry_after: Some(1),
                    ..ApiError::new(
                        503,
                        "store_unavailable",
                        "the store could not be reached; retry shortly",
                    )
                }
            }
            StoreError::TooLarge { .. } => ApiError::new(422, "item_too_large", e.to_string()),
            StoreError::Config(_) => {
                tracing::error!(error = %e, "store misconfigured");
                ApiError::new(500, "configuration_error", e.to_string())
            }
            StoreError::Request(_) | StoreError::Corrupt(_) => {
                tracing::error!(error = %e, "store failure");
                ApiError::internal("the request failed on our side; it has been logged")
            }
        }
    }
}

//! What-if replay: a program's history run customer by customer through the
//! engine under the current config and under a draft, exactly as the service
//! runs it (see [`replay`]), summed into a [`Report`] that merges across any
//! split of the customers.
//!
//! Pure: no AWS and no file system. The readers take lines or readers they
//! are handed ([`export`] for DynamoDB JSON lines of our table, [`orders`]
//! for a plain orders file); the CLI (`tools/tier-sim`) owns files,
//! partitions and threads.

pub mod config;
pub mod export;
pub mod history;
pub mod orders;
pub mod replay;
pub mod report;
pub mod whatif;

pub use history::{Action, CustomerHistory, Event};
pub use replay::{replay, CustomerRun};
pub use report::{Mover, Report, ReportOptions};

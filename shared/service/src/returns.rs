//! Return reversal: the return item (must not exist), the order item (its
//! record, at the version read) and the state, in one transaction.

use crate::error::ApiError;
use crate::json::{self, decode, digest, replay};
use crate::programs::LoadedProgram;
use crate::transact::{Dated, Snapshot, Step, UseCase};
use crate::wire::*;
use crate::Service;
use chrono::{DateTime, Utc};
use tier_engine::{AppliedReturn, EngineError, Program, Return, ReturnHistory};
use tier_store::{keys, EventItem, EventWrite};

pub(crate) fn downgrades_out(program: &Program, back: &AppliedReturn) -> Vec<DowngradeOut> {
    back.downgrades
        .iter()
        .map(|d| DowngradeOut {
            from: program.tier_name(d.from).to_owned(),
            to: program.tier_name(d.to).to_owned(),
            at: d.at,
        })
        .collect()
}

struct ReverseReturn<'a> {
    program_id: &'a str,
    ret: &'a Return,
    hash: String,
    /// Also read the return's own item: the order says nothing is left to
    /// return, which a replay of this return explains.
    check_replay: bool,
}

impl ReverseReturn<'_> {
    fn order_sk(&self) -> String {
        keys::order_sk(&self.ret.order_id)
    }

    fn return_sk(&self) -> String {
        keys::return_sk(&self.ret.return_id)
    }

    /// The reply to a replay of this return, if the return item is there.
    fn replayed(&self, item: Option<&EventItem>) -> Result<Option<ReturnResponse>, ApiError> {
        item.map(|e| replay(e, &self.hash, "return", &self.ret.return_id))
            .transpose()
    }
}

impl UseCase for ReverseReturn<'_> {
    type Reply = ReturnResponse;

    fn customer(&self) -> &str {
        &self.ret.customer_id
    }

    fn at(&self) -> DateTime<Utc> {
        self.ret.returned_at
    }

    fn dated(&self) -> Option<Dated> {
        Some(Dated {
            field: "returnedAt",
            at: self.ret.returned_at,
            sk: keys::return_sk(&self.ret.return_id),
        })
    }

    fn reads(&self) -> Vec<String> {
        let mut reads = vec![self.order_sk()];
        if self.check_replay {
            reads.push(self.return_sk());
        }
        reads
    }

    fn needs_orders(&self) -> bool {
        true
    }

    fn decide(
        &mut self,
        loaded: &LoadedProgram,
        snapshot: Snapshot,
    ) -> Result<Step<ReturnResponse>, ApiError> {
        let ret = self.ret;
        let customer = ret.customer_id.as_str();
        if !snapshot.exists {
            return Err(ApiError::not_found(
                "customer_not_found",
                format!("no customer `{customer}` in program `{}`", self.program_id),
            ));
        }
        let mut items = snapshot.items.into_iter();
        let Some(order_item) = items.next().flatten() else {
            return Err(ApiError::not_found(
                "order_not_found",
                format!("no order `{}` for customer `{customer}`", ret.order_id),
            ));
        };
        let return_item = items.next().flatten();
        let record = order_item.record.clone();
        let program = &loaded.program;
        let mut state = snapshot.state;
        let history = ReturnHistory {
            orders: &snapshot.orders,
            rules: &snapshot.rules,
        };
        let outcome = record.map(|mut record| {
            program
                .apply_return_judged(&mut state, &mut record, ret, &history)
                .map(|back| (back, record))
        });
        let (back, record) = match outcome {
            Some(Ok(done)) => done,
            // Nothing (left) to return: a replay of this return says why.
            None | Some(Err(EngineError::ReturnExceedsRemaining { .. })) if !self.check_replay => {
                self.check_replay = true;
                return Ok(Step::ReadMore);
            }
            None => {
                if let Some(reply) = self.replayed(return_item.as_ref())? {
                    return Ok(Step::Answer(reply));
                }
                return Err(ApiError::new(
                    422,
                    "order_not_completed",
                    format!(
                        "order `{}` is {} and has nothing to return",
                        ret.order_id,
                        order_item.status.as_deref().unwrap_or("unknown")
                    ),
                ));
            }
            Some(Err(e)) => {
                if let Some(reply) = self.replayed(return_item.as_ref())? {
                    return Ok(Step::Answer(reply));
                }
                return Err(e.into());
            }
        };
        let response = ReturnResponse {
            program_id: self.program_id.to_owned(),
            customer_id: customer.to_owned(),
            order_id: ret.order_id.clone(),
            return_id: ret.return_id.clone(),
            duplicate: false,
            amount_returned: back.returned.into(),
            points_reversed: back.points_reversed.into(),
            points_shortfall: back.points_shortfall.into(),
            tier_before: program.tier_name(back.tier_before).to_owned(),
            tier_after: program.tier_name(back.tier_after).to_owned(),
            downgrades: downgrades_out(program, &back),
        };
        let return_item = EventItem {
            unreadable_record: None,
            sk: self.return_sk(),
            payload_hash: self.hash.clone(),
            status: None,
            result: json::to_string(&response)?,
            record: None,
            placed_at: None,
            at: Some(crate::customers::instant(ret.returned_at)),
            item_version: 1,
        };
        let updated_order = EventItem {
            record: Some(record),
            item_version: order_item.item_version + 1,
            ..order_item.clone()
        };
        Ok(Step::Commit {
            state: Some(Box::new(state)),
            events: vec![
                EventWrite::Create(return_item),
                EventWrite::Replace {
                    item: updated_order,
                    expected: order_item.item_version,
                },
            ],
            reply: response,
        })
    }

    fn event_exists(
        &mut self,
        index: usize,
        existing: Option<EventItem>,
    ) -> Result<Option<ReturnResponse>, ApiError> {
        // Index 0 is this return's item: a replay (or a conflict). Otherwise
        // the order item changed under us: decide again.
        if index == 0 {
            return self.replayed(existing.as_ref());
        }
        Ok(None)
    }
}

impl Service {
    pub async fn reverse_return(
        &self,
        program_id: &str,
        body: &[u8],
    ) -> Result<ReturnResponse, ApiError> {
        let ret: Return = decode(body, "return")?;
        ret.check()?;
        let mut use_case = ReverseReturn {
            program_id,
            ret: &ret,
            hash: digest(&ret),
            check_replay: false,
        };
        self.run(program_id, &mut use_case).await
    }
}

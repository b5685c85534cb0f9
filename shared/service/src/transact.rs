//! The one load-decide-commit loop every use case that changes a customer
//! runs (orders, returns, redemptions, the admin tier action, the expiry
//! job). A use case only decides, on data this loop read; the loop owns the
//! reads, the conditional commit, and what happens when the commit fails, so
//! the retry and error policy lives in one place ([`crate::retry`]).

use crate::error::ApiError;
use crate::programs::LoadedProgram;
use crate::retry::{Cause, Retry};
use crate::wire::Dec;
use crate::Service;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use tier_engine::{
    CustomerState, OrderRecord, Program, Redeemed, Redemptions, RuleBook,
    MAX_NOTICES_OWED_BEFORE_A_DECISION,
};
use tier_store::{CommitError, CustomerCommit, EventItem, EventWrite, StoreError, StoredCustomer};

/// What one attempt read: the customer (prepared for the use case's
/// instant, or new) and the event items the use case asked for.
pub(crate) struct Snapshot {
    /// Whether the customer was stored.
    pub exists: bool,
    pub state: CustomerState,
    /// Event items named by [`UseCase::reads`], in that order.
    pub items: Vec<Option<EventItem>>,
    /// Every completed order's record, when [`UseCase::needs_orders`].
    pub orders: Vec<OrderRecord>,
    /// The config versions those orders were decided under.
    pub rules: Versions,
}

/// Past program versions, by config version.
#[derive(Default)]
pub(crate) struct Versions(HashMap<u64, Arc<Program>>);

impl RuleBook for Versions {
    fn version(&self, version: u64) -> Option<&Program> {
        self.0.get(&version).map(|p| p.as_ref())
    }
}

/// What a use case decided on a snapshot.
pub(crate) enum Step<T> {
    /// Nothing to write: answer now (a replay, a no-op).
    Answer(T),
    /// Write this, all or nothing, and answer once it is written.
    Commit {
        /// The customer's new state (None: only event items change).
        state: Option<Box<CustomerState>>,
        events: Vec<EventWrite>,
        reply: T,
    },
    /// Read again with what [`UseCase::reads`] names now, at once.
    ReadMore,
}

/// A client's event and the instant it carries.
pub(crate) struct Dated {
    pub field: &'static str,
    pub at: DateTime<Utc>,
    /// The sort key of the event's item.
    pub sk: String,
}

pub(crate) trait UseCase {
    type Reply;

    fn customer(&self) -> &str;

    /// The instant the customer's state is prepared for.
    fn at(&self) -> DateTime<Utc>;

    /// How the client dated the event, which may lie no further past the
    /// clock than the lead allows (None: the service dates it itself).
    fn dated(&self) -> Option<Dated> {
        None
    }

    /// Event items (by sort key) to read beside the state.
    fn reads(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether the decision needs every order of the customer (a return
    /// judges every upgrade again).
    fn needs_orders(&self) -> bool {
        false
    }

    fn decide(
        &mut self,
        loaded: &LoadedProgram,
        snapshot: Snapshot,
    ) -> Result<Step<Self::Reply>, ApiError>;

    /// The commit's event `index` already existed or changed meanwhile;
    /// `existing` is what is stored now. An answer ends the loop (a replay);
    /// `None` decides again on fresh data.
    fn event_exists(
        &mut self,
        _index: usize,
        _existing: Option<EventItem>,
    ) -> Result<Option<Self::Reply>, ApiError> {
        Ok(None)
    }
}

enum Attempt<T> {
    Done(T),
    /// A commit's worth of what fell due was written first: attempt again.
    CaughtUp,
    Contended,
    ConfigChanged,
    ReadMore,
}

enum Failure {
    Store(StoreError),
    Api(ApiError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

/// Reads that a `ReadMore` may add in one attempt before it is a bug.
const MAX_READ_ROUNDS: u32 = 4;

/// Catch-up commits one event may take: a monthly validity with five
/// warning days over the 230 years events may span publishes about 17,000
/// notices, 378 commits of 45.
const MAX_CATCH_UPS: u32 = 1_000;

impl Service {
    /// Runs `use_case` for its customer of `program_id` until it is answered.
    pub(crate) async fn run<U: UseCase>(
        &self,
        program_id: &str,
        use_case: &mut U,
    ) -> Result<U::Reply, ApiError> {
        let mut loaded = self.program(program_id).await?;
        self.check_not_ahead(program_id, use_case).await?;
        let mut retry = Retry::new();
        let mut known: Option<Option<StoredCustomer>> = None;
        let mut read_rounds = 0;
        let mut catch_ups = 0;
        loop {
            let attempt = self
                .attempt(program_id, &loaded, use_case, &mut known)
                .await;
            match attempt {
                Ok(Attempt::Done(reply)) => return Ok(reply),
                Ok(Attempt::CaughtUp) if catch_ups < MAX_CATCH_UPS => catch_ups += 1,
                Ok(Attempt::CaughtUp) => {
                    return Err(ApiError::internal("a customer kept owing notices"))
                }
                Ok(Attempt::Contended) => retry.wait(Cause::Contention).await?,
                Ok(Attempt::ConfigChanged) => {
                    loaded = self.reload_program(program_id).await?;
                    retry.wait(Cause::Contention).await?
                }
                Ok(Attempt::ReadMore) if read_rounds < MAX_READ_ROUNDS => read_rounds += 1,
                Ok(Attempt::ReadMore) => {
                    return Err(ApiError::internal("a use case kept asking for more reads"))
                }
                Err(Failure::Store(e)) if e.is_transient() => {
                    known = None;
                    retry.wait(Cause::Transient(e)).await?
                }
                Err(Failure::Store(e)) => return Err(e.into()),
                Err(Failure::Api(e)) => return Err(e),
            }
        }
    }

    /// An event dated past the clock plus the lead is refused before
    /// anything is decided, unless its item is stored already: then it is
    /// the replay, the conflict or the next step of one accepted before
    /// (under a longer lead, or by a container whose clock ran ahead), and
    /// is answered as such.
    async fn check_not_ahead<U: UseCase>(
        &self,
        program_id: &str,
        use_case: &U,
    ) -> Result<(), ApiError> {
        let Some(dated) = use_case.dated() else {
            return Ok(());
        };
        let Err(refusal) = self.check_dated(dated.field, dated.at) else {
            return Ok(());
        };
        let customer = use_case.customer();
        match crate::retry::store_call(|| self.store.load_event(program_id, customer, &dated.sk))
            .await?
        {
            Some(_) => Ok(()),
            None => Err(refusal),
        }
    }

    async fn attempt<U: UseCase>(
        &self,
        program_id: &str,
        loaded: &Arc<LoadedProgram>,
        use_case: &mut U,
        known: &mut Option<Option<StoredCustomer>>,
    ) -> Result<Attempt<U::Reply>, Failure> {
        let customer = use_case.customer().to_owned();
        let reads = use_case.reads();
        let stored = match known.take() {
            Some(s) => s,
            None => self.store.load_customer(program_id, &customer).await?,
        };
        let mut items = Vec::with_capacity(reads.len());
        for sk in &reads {
            items.push(self.store.load_event(program_id, &customer, sk).await?);
        }
        let (orders, rules) = if use_case.needs_orders() {
            let named = stored.as_ref().map(|s| versions_named(&s.state));
            self.order_history(program_id, &customer, loaded, &named.unwrap_or_default())
                .await?
        } else {
            (Vec::new(), Versions::default())
        };
        // A spender's current points as of an instant, where the orders
        // and redemptions tell them (`redeemed.rs`): one more query.
        let redemptions = match stored.as_ref() {
            Some(s) if use_case.needs_orders() && loaded.program.wants_redemptions(&s.state) => {
                self.redemptions(program_id, &customer).await?
            }
            _ => None,
        };
        let exists = stored.is_some();
        let prepared = self
            .prepare(loaded, program_id, &customer, stored, use_case.at())
            .await?;
        // This customer was already decided under a newer config than this
        // container's: read the config again rather than go back.
        if prepared
            .state
            .config_version
            .is_some_and(|seen| seen > loaded.version)
        {
            return Ok(Attempt::ConfigChanged);
        }
        let mut state = prepared.state;
        state.redemptions = redemptions;
        let read = Read {
            version: prepared.version,
            indexed_expiry: prepared.indexed_expiry,
        };
        let program = &loaded.program;
        let due = |s: &CustomerState| {
            program
                .next_expiry(s)
                .is_some_and(|day| day <= use_case.at().date_naive())
        };
        let snapshot = Snapshot {
            exists,
            state,
            items,
            orders,
            rules,
        };
        let step = if exists && program.lapses() && due(&snapshot.state) {
            // Validity ends and warnings owed since the customer was last
            // written, a commit's worth of notices at a time: every notice is
            // published, however long the customer was idle. Worked out on a
            // copy: when one commit holds them all, the use case judges them
            // itself (the job counts what it changed).
            let mut ahead = snapshot.state.clone();
            let (_, caught_up) = program.expire_publishing_at_most(
                &mut ahead,
                use_case.at(),
                MAX_NOTICES_OWED_BEFORE_A_DECISION,
            );
            if caught_up {
                use_case.decide(loaded, snapshot)?
            } else {
                // Decided first, before each catch-up commit (which is
                // conditional on the customer it was decided on): a
                // request that is refused, answered from a replay or
                // writes no state (a pending order) moves the customer's
                // clock no further, also when a concurrent request changed
                // the customer between two catch-up commits. One that
                // writes the state is decided again once caught up.
                match use_case.decide(loaded, snapshot)? {
                    Step::Commit {
                        state: Some(_),
                        events,
                        ..
                    } => {
                        // Orders find their item already there only when
                        // they commit; here that is too late.
                        let found = self
                            .created_already(program_id, &customer, use_case, &events)
                            .await?;
                        if let Some(attempt) = found {
                            return Ok(attempt);
                        }
                        return self
                            .catch_up(program_id, &customer, loaded, &read, ahead, known)
                            .await;
                    }
                    step => step,
                }
            }
        } else {
            use_case.decide(loaded, snapshot)?
        };
        let (mut state, events, reply) = match step {
            Step::Answer(reply) => return Ok(Attempt::Done(reply)),
            Step::ReadMore => return Ok(Attempt::ReadMore),
            Step::Commit {
                state,
                events,
                reply,
            } => (state, events, reply),
        };
        let sort_keys: Vec<String> = events.iter().map(|e| event_sk(e).to_owned()).collect();
        let written = self
            .write(
                program_id,
                &customer,
                loaded,
                &read,
                state.as_deref_mut(),
                events,
            )
            .await?;
        match written {
            Ok(()) => Ok(Attempt::Done(reply)),
            Err(CommitError::EventExists { index, existing }) => {
                let existing = match existing {
                    Some(item) => Some(item),
                    None => match sort_keys.get(index) {
                        Some(sk) => self.store.load_event(program_id, &customer, sk).await?,
                        None => None,
                    },
                };
                // Otherwise another writer got to the item first: a race
                // lost like any other, decided again after a short wait.
                match use_case.event_exists(index, existing)? {
                    Some(reply) => Ok(Attempt::Done(reply)),
                    None => Ok(Attempt::Contended),
                }
            }
            Err(CommitError::Conflict { current }) => {
                *known = current.map(Some);
                Ok(Attempt::Contended)
            }
            Err(CommitError::Store(e)) => Err(e.into()),
        }
    }
    /// Whether an event item the use case would create is stored already
    /// (a replay or a conflict): the use case's answer on it, or a decision
    /// again on what it knows now.
    async fn created_already<U: UseCase>(
        &self,
        program_id: &str,
        customer: &str,
        use_case: &mut U,
        events: &[EventWrite],
    ) -> Result<Option<Attempt<U::Reply>>, Failure> {
        for (index, event) in events.iter().enumerate() {
            let EventWrite::Create(item) = event else {
                continue;
            };
            let Some(existing) = self
                .store
                .load_event(program_id, customer, &item.sk)
                .await?
            else {
                continue;
            };
            return Ok(Some(
                match use_case.event_exists(index, Some(existing))? {
                    Some(reply) => Attempt::Done(reply),
                    None => Attempt::ReadMore,
                },
            ));
        }
        Ok(None)
    }

    /// Writes a commit's worth of what fell due (`ahead`) before the use
    /// case is decided on the rest.
    async fn catch_up<T>(
        &self,
        program_id: &str,
        customer: &str,
        loaded: &LoadedProgram,
        read: &Read,
        mut ahead: CustomerState,
        known: &mut Option<Option<StoredCustomer>>,
    ) -> Result<Attempt<T>, Failure> {
        let written = self
            .write(
                program_id,
                customer,
                loaded,
                read,
                Some(&mut ahead),
                Vec::new(),
            )
            .await?;
        match written {
            Ok(()) => Ok(Attempt::CaughtUp),
            Err(CommitError::Conflict { current }) => {
                *known = current.map(Some);
                Ok(Attempt::Contended)
            }
            Err(CommitError::EventExists { .. }) => Ok(Attempt::Contended),
            Err(CommitError::Store(e)) => Err(e.into()),
        }
    }
}

/// The version of the customer an attempt read, and the expiry day it was
/// indexed under: a commit is conditional on the first.
struct Read {
    version: Option<u64>,
    indexed_expiry: Option<NaiveDate>,
}

impl Service {
    /// Writes the customer's new state (with the notices it owes) and the
    /// event items, all or nothing, if the customer is still as `read`.
    async fn write(
        &self,
        program_id: &str,
        customer: &str,
        loaded: &LoadedProgram,
        read: &Read,
        mut state: Option<&mut CustomerState>,
        events: Vec<EventWrite>,
    ) -> Result<Result<(), CommitError>, ApiError> {
        let mut notices = Vec::new();
        if let Some(s) = state.as_deref_mut() {
            s.config_version = Some(loaded.version);
            notices = crate::notices::notice_items(program_id, customer, s.outbox.take())?;
        }
        let program = &loaded.program;
        let state = state.as_deref();
        let next_expiry: Option<NaiveDate> = state.and_then(|s| program.next_expiry(s));
        let commit = CustomerCommit {
            program: program_id,
            customer,
            expected_version: read.version,
            indexed_expiry: read.indexed_expiry,
            state: state.map(|s| (s, next_expiry)),
            events,
            notices,
        };
        Ok(self.store.commit(commit).await)
    }

    /// Every completed order's record, and the past config versions they
    /// were decided under.
    /// Every redemption of the customer; None when an item does not read.
    pub(crate) async fn redemptions(
        &self,
        program_id: &str,
        customer: &str,
    ) -> Result<Option<Redemptions>, StoreError> {
        let items = match self.store.redemptions(program_id, customer).await {
            Ok(items) => items,
            // The replay goes without them, as before they were read: one
            // damaged item must not stop the customer's returns.
            Err(StoreError::Corrupt(e)) => {
                tracing::warn!(error = %e, "a redemption item does not decode; current points are not replayed");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let mut redeemed = Vec::with_capacity(items.len());
        for item in &items {
            match redeemed_of(item) {
                Some(r) => redeemed.push(r),
                None => {
                    tracing::warn!(sk = %item.sk, "a redemption item does not read; current points are not replayed");
                    return Ok(None);
                }
            }
        }
        Ok(Some(Redemptions::new(redeemed)))
    }

    pub(crate) async fn order_history(
        &self,
        program_id: &str,
        customer: &str,
        loaded: &LoadedProgram,
        also: &[u64],
    ) -> Result<(Vec<OrderRecord>, Versions), StoreError> {
        let items = self.store.orders_since(program_id, customer, "0").await?;
        let orders: Vec<OrderRecord> = items.iter().filter_map(|i| i.record.clone()).collect();
        let mut rules = Versions::default();
        let named = orders.iter().filter_map(|o| o.config_version);
        let between = loaded
            .program
            .versions_expiry_asks(named.clone().chain(also.iter().copied()));
        for version in named.chain(also.iter().copied()).chain(between) {
            if version == loaded.version || rules.0.contains_key(&version) {
                continue;
            }
            if let Some(program) = self.program_version(program_id, version).await? {
                rules.0.insert(version, program);
            }
        }
        Ok((orders, rules))
    }
}

/// Every config version the customer's history names: upgrades by
/// re-evaluation are judged again under their own version, as orders are,
/// and a replay of expiry asks every version from the first named on
/// whether points expired then as now (`Program::versions_expiry_asks`).
/// Versions are cached once read.
pub(crate) fn versions_named(state: &CustomerState) -> Vec<u64> {
    let mut named: Vec<u64> = state
        .history
        .iter()
        .filter_map(|c| c.config_version)
        .collect();
    named.sort_unstable();
    named.dedup();
    named
}

/// A redemption item's instant and points; None when either does not read
/// (the replays then go without the redemptions, as before they were read).
fn redeemed_of(item: &EventItem) -> Option<Redeemed> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Spent {
        points_redeemed: Dec,
    }
    let at = item.at.as_deref()?.parse().ok()?;
    let spent: Spent = serde_json::from_str(&item.result).ok()?;
    Some(Redeemed {
        at,
        points: spent.points_redeemed.0,
    })
}

fn event_sk(event: &EventWrite) -> &str {
    match event {
        EventWrite::Create(item) | EventWrite::Replace { item, .. } => &item.sk,
    }
}

//! Program-wide jobs (re-evaluation after a config change): the job's own
//! item under the program's partition, and the program's customers read by
//! a parallel Scan whose cursors are plain strings, so a job resumes where
//! it stopped.

use super::{classify, cursor_of, get_n, get_s, key, key_of, keys, n, s};
use super::{DynamoStore, Item, PageCursor, StoreError};
use aws_sdk_dynamodb::types::ReturnConsumedCapacity;

pub fn job_sk(id: &str) -> String {
    format!("JOB#{id}")
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobRecord {
    pub id: String,
    pub kind: String,
    /// running, done, failed or superseded.
    pub status: String,
    /// The job's own parameters (JSON: the config version and instant).
    pub request: String,
    /// Who runs it now; a runner writes only while it owns the job.
    pub owner: String,
    /// When the owner last said it was alive (milliseconds since the epoch).
    pub heartbeat_ms: u64,
    /// Where each Scan segment stands (JSON), so a job resumes there.
    pub cursors: String,
    /// The job's figures so far (JSON).
    pub progress: String,
    pub created_at: String,
    pub finished_at: Option<String>,
}

fn job_of(item: &Item) -> Result<JobRecord, StoreError> {
    let sk = get_s(item, "sk").unwrap_or_default();
    Ok(JobRecord {
        id: sk.strip_prefix("JOB#").unwrap_or_default().to_owned(),
        kind: get_s(item, "kind").unwrap_or_default(),
        status: get_s(item, "status")
            .ok_or_else(|| StoreError::Corrupt("job without status".into()))?,
        request: get_s(item, "request").unwrap_or_default(),
        owner: get_s(item, "owner").unwrap_or_default(),
        heartbeat_ms: get_n(item, "heartbeat")?,
        cursors: get_s(item, "cursors").unwrap_or_default(),
        progress: get_s(item, "progress").unwrap_or_default(),
        created_at: get_s(item, "createdAt").unwrap_or_default(),
        finished_at: get_s(item, "finishedAt"),
    })
}

impl DynamoStore {
    /// Stores a new job; false if one with its id exists.
    pub async fn create_job(&self, program: &str, job: &JobRecord) -> Result<bool, StoreError> {
        let mut item = key(keys::program_pk(program), job_sk(&job.id));
        // Named in the clear for the stream's consumer (the state machine
        // that runs the job on AWS).
        item.insert("programId".into(), s(program));
        item.insert("jobId".into(), s(&job.id));
        item.insert("kind".into(), s(&job.kind));
        item.insert("status".into(), s(&job.status));
        item.insert("request".into(), s(&job.request));
        item.insert("owner".into(), s(&job.owner));
        item.insert("heartbeat".into(), n(job.heartbeat_ms));
        item.insert("cursors".into(), s(&job.cursors));
        item.insert("progress".into(), s(&job.progress));
        item.insert("createdAt".into(), s(&job.created_at));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)");
        self.conditional_put(put).await
    }

    pub async fn load_job(&self, program: &str, id: &str) -> Result<Option<JobRecord>, StoreError> {
        let item = self.get(keys::program_pk(program), &job_sk(id)).await?;
        item.map(|i| job_of(&i)).transpose()
    }

    /// Writes the job's progress, status and heartbeat while `owner` owns
    /// it and it runs; false if another runner took it over (it then goes
    /// on alone) or finished it.
    pub async fn save_job(
        &self,
        program: &str,
        job: &JobRecord,
        owner: &str,
    ) -> Result<bool, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::program_pk(program)))
            .key("sk", s(job_sk(&job.id)))
            // A finished job stays finished: a slower runner of the same
            // job (a step sent while it runs) must not set it running again.
            .condition_expression("#owner = :me AND #status = :running")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":running", s("running"))
            .expression_attribute_values(":status", s(&job.status))
            .expression_attribute_values(":heartbeat", n(job.heartbeat_ms))
            .expression_attribute_values(":cursors", s(&job.cursors))
            .expression_attribute_values(":progress", s(&job.progress));
        let mut set = "SET #status = :status, heartbeat = :heartbeat, cursors = :cursors, \
                       progress = :progress"
            .to_owned();
        if let Some(finished) = &job.finished_at {
            set.push_str(", finishedAt = :finished");
            update = update.expression_attribute_values(":finished", s(finished));
        }
        self.conditional_update(update.update_expression(set)).await
    }

    /// Takes over a job whose owner stopped (its heartbeat is still
    /// `heartbeat_ms`); false if somebody else did first or it moved on.
    pub async fn claim_job(
        &self,
        program: &str,
        id: &str,
        heartbeat_ms: u64,
        owner: &str,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let claim = crate::scan::Claim {
            heartbeat_ms,
            owner,
            now_ms,
        };
        self.claim(program, job_sk(id), &["running"], claim).await
    }

    /// One page of segment `segment` of `segments` of a parallel Scan for
    /// the ids of `program`'s customers (their state items only, keys only).
    pub async fn scan_program_customers(
        &self,
        program: &str,
        segment: u32,
        segments: u32,
        start: Option<PageCursor>,
    ) -> Result<(Vec<String>, Option<PageCursor>), StoreError> {
        let prefix = crate::scan::customer_prefix(program);
        let start = start.map(key_of);
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .segment(segment as i32)
            .total_segments(segments as i32)
            .filter_expression("begins_with(pk, :prefix) AND sk = :state")
            .projection_expression("pk")
            // A page of at most 1,000 items read: the job saves its cursor
            // and heartbeat after each, well inside its 30 s.
            .limit(1000)
            .expression_attribute_values(":prefix", s(&prefix))
            .expression_attribute_values(":state", s(keys::STATE))
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify(e, &self.table))?;
        self.metrics
            .count(false, out.consumed_capacity().into_iter());
        let customers = out
            .items()
            .iter()
            .filter_map(|i| get_s(i, "pk"))
            .filter_map(|pk| pk.strip_prefix(&prefix).map(str::to_owned))
            .collect();
        let next = out.last_evaluated_key.map(cursor_of).transpose()?;
        Ok((customers, next))
    }
}

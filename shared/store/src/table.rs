//! Creating the table where the local API and the tests run (on AWS the SAM
//! template owns it, with the same keys and index).

use crate::{keys, request_error, DynamoStore, StoreError, NOTICE_TTL_ATTRIBUTE};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use std::time::Duration;

fn attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(request_error)
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(request_error)
}

impl DynamoStore {
    /// Creates the table and its sparse expiry index unless they exist,
    /// waits until the table is active, and enables TTL on the notices'
    /// `expiresAt` as the template does on AWS.
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        let exists = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await;
        if exists.is_err() {
            let index = GlobalSecondaryIndex::builder()
                .index_name(keys::EXPIRY_INDEX)
                .key_schema(key("expiryShard", KeyType::Hash)?)
                .key_schema(key("expiresOn", KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .non_key_attributes("programId")
                        .non_key_attributes("customerId")
                        .build(),
                )
                .build()
                .map_err(request_error)?;
            let created = self
                .client
                .create_table()
                .table_name(&self.table)
                .billing_mode(BillingMode::PayPerRequest)
                .attribute_definitions(attribute("pk")?)
                .attribute_definitions(attribute("sk")?)
                .attribute_definitions(attribute("expiryShard")?)
                .attribute_definitions(attribute("expiresOn")?)
                .key_schema(key("pk", KeyType::Hash)?)
                .key_schema(key("sk", KeyType::Range)?)
                .global_secondary_indexes(index)
                .send()
                .await;
            if let Err(e) = created {
                // Two processes may race to create it; the loser sees it exist.
                let text = request_error(e).to_string();
                if !text.contains("ResourceInUse") && !text.contains("already exists") {
                    return Err(StoreError::Request(text));
                }
            }
        }
        for _ in 0..100 {
            let described = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(request_error)?;
            if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return self.enable_notice_ttl().await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(StoreError::Request(format!(
            "table {} did not become active",
            self.table
        )))
    }

    /// TTL on the notices' `expiresAt`, also on a table created before
    /// notices had one. Both local engines accept it (DynamoDB Local and
    /// dynoxide answer UpdateTimeToLive and DescribeTimeToLive, and report
    /// it enabled at once). DynamoDB Local then deletes expired items now
    /// and then; dynoxide's server runs no sweep, so its expired notices
    /// stay, hidden by the feed's own check. An engine that refuses TTL, or
    /// a table whose TTL is already on another attribute, is left as it is
    /// with a warning: the feed never depends on the deletion.
    async fn enable_notice_ttl(&self) -> Result<(), StoreError> {
        let described = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await;
        let status = match described {
            Ok(out) => out.time_to_live_description,
            Err(e) => {
                tracing::warn!(table = %self.table, error = %request_error(e), "no TTL on this engine");
                return Ok(());
            }
        };
        if let Some(ttl) = &status {
            if matches!(
                ttl.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            ) {
                if ttl.attribute_name() != Some(NOTICE_TTL_ATTRIBUTE) {
                    tracing::warn!(
                        table = %self.table,
                        attribute = ttl.attribute_name().unwrap_or_default(),
                        "TTL is on another attribute: notices are not deleted here"
                    );
                }
                return Ok(());
            }
        }
        let spec = TimeToLiveSpecification::builder()
            .attribute_name(NOTICE_TTL_ATTRIBUTE)
            .enabled(true)
            .build()
            .map_err(request_error)?;
        let updated = self
            .client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(spec)
            .send()
            .await;
        if let Err(e) = updated {
            let text = request_error(e).to_string();
            // Two processes may race to enable it; the loser is told so.
            if !text.contains("already enabled") {
                tracing::warn!(table = %self.table, error = %text, "no TTL on this engine");
            }
        }
        Ok(())
    }
}

//! Creating the table where the local API and the tests run (on AWS the SAM
//! template owns it, with the same keys and index).

use crate::{keys, request_error, DynamoStore, StoreError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus,
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
    /// Creates the table and its sparse expiry index unless they exist, and
    /// waits until the table is active.
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
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(StoreError::Request(format!(
            "table {} did not become active",
            self.table
        )))
    }
}

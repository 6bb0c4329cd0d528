//! The single table's definition, in one place: infra/local creates it from here, and a test
//! keeps template.yaml equal to it.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
/// The agenda index (sparse): open tasks with a due date under `TASKS#{userId}`; events,
/// unanswered mentions and files changed by others under `AGENDA#{userId}`; sorted by time.
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
/// Epoch seconds after which DynamoDB may delete an item (audit entries, OAuth states, old runs).
pub const TTL_ATTRIBUTE: &str = "expiresAt";

/// The key attributes, as (name, type) pairs: all strings.
pub const ATTRIBUTES: [&str; 6] = [PK, SK, GSI1PK, GSI1SK, GSI2PK, GSI2SK];

/// The global secondary indexes as (name, hash key, range key); all project every attribute.
pub const INDEXES: [(&str, &str, &str); 2] = [(GSI1, GSI1PK, GSI1SK), (GSI2, GSI2PK, GSI2SK)];

/// Creates the table with its GSI and TTL (local emulator and tests; AWS uses template.yaml).
pub async fn create_table(client: &Client, name: &str) -> Result<(), aws_sdk_dynamodb::Error> {
    let key = |attr: &str, kind: KeyType| {
        KeySchemaElement::builder().attribute_name(attr).key_type(kind).build().expect("key schema element")
    };
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PK, KeyType::Hash))
        .key_schema(key(SK, KeyType::Range));
    for (index, hash, range) in INDEXES {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index)
                .key_schema(key(hash, KeyType::Hash))
                .key_schema(key(range, KeyType::Range))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .expect("gsi"),
        );
    }
    for attr in ATTRIBUTES {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        );
    }
    request.send().await?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().attribute_name(TTL_ATTRIBUTE).enabled(true).build().expect("ttl"),
        )
        .send()
        .await?;
    Ok(())
}

/// Creates the table unless it exists already.
pub async fn ensure_table(client: &Client, name: &str) -> Result<(), aws_sdk_dynamodb::Error> {
    match client.describe_table().table_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
            create_table(client, name).await
        }
        Err(e) => Err(e.into()),
    }
}

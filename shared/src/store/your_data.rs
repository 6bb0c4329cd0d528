//! Everything of one user in the table, read for an export and removed for "delete me".

use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};

use super::attrs::{Item, get_s, s};
use super::{Store, StoreError, keys, table};
use crate::domain::UserId;

impl Store {
    /// Every item of the user's partition (consistent, paged until done).
    pub async fn user_items(&self, user: &UserId) -> Result<Vec<Item>, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(keys::user(user)))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        items.into_iter().map(|i| i.map_err(StoreError::aws)).collect()
    }

    /// Removes every item of the user's partition, and the sign-in states its open-sign-in
    /// entries point to (the only items of the user kept outside it). Returns how many.
    pub async fn delete_user_items(&self, user: &UserId) -> Result<usize, StoreError> {
        let items = self.user_items(user).await?;
        let mut deletes = Vec::with_capacity(items.len());
        for item in &items {
            let sk = get_s(item, table::SK)?;
            deletes.push(delete(keys::user(user), sk.to_owned()));
            if let Some(state) = sk.strip_prefix("STATE#").and_then(|rest| rest.rsplit_once('#')).map(|(_, st)| st) {
                deletes.push(delete(format!("OAUTH#{state}"), "OAUTH".to_owned()));
            }
        }
        let count = deletes.len();
        self.batch_write(deletes).await?;
        Ok(count)
    }
}

fn delete(pk: String, sk: String) -> WriteRequest {
    let request = DeleteRequest::builder().key(table::PK, s(pk)).key(table::SK, s(sk)).build().expect("delete request");
    WriteRequest::builder().delete_request(request).build()
}

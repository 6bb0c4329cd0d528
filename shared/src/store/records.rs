//! Synced records: `REC#{connectionId}#{kind}#{externalId}`, upserted in batches.
//!
//! Each page is classified against what is stored (BatchGetItem of the keys, comparing a
//! content hash), then only new and changed records are written with BatchWriteItem in
//! requests of 25, retrying unprocessed items with backoff. Replaying a page is harmless.
//!
//! A record written as created or changed keeps which run did so (`changedInSync`, `change`).
//! When the same run reads it again (a page delivered again after a failure), it is reported
//! as that change again, not as unchanged: the run's trigger events are then emitted again,
//! with the same keys, instead of being lost with the first attempt.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest};
use sha2::{Digest, Sha256};

use super::attrs::{Item, get_s, opt_s, s, ts};
use super::{Store, StoreError, keys, table};
use crate::domain::{ConnectionId, Counts, IntegrationId, SyncId, UserId};
use crate::items::{AgendaList, agenda_slot};
use crate::sync::{Record, RecordKey, RecordKind};

/// DynamoDB's limits per request.
pub const BATCH_WRITE_MAX: usize = 25;
const BATCH_GET_MAX: usize = 100;
const MAX_BATCH_ATTEMPTS: u32 = 8;

pub(crate) fn record_sk(connection: &ConnectionId, kind: RecordKind, external_id: &str) -> String {
    format!("REC#{connection}#{}#{external_id}", kind.as_str())
}

/// The agenda index's partition of one of a user's lists.
fn agenda_pk(user: &UserId, list: AgendaList) -> String {
    match list {
        AgendaList::Tasks => format!("TASKS#{user}"),
        AgendaList::Agenda => format!("AGENDA#{user}"),
    }
}

/// How a page's write found a record that it created or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [Self::Created, Self::Updated].into_iter().find(|c| c.as_str() == raw)
    }
}

/// A record that a page's write created or changed, with the content hash it now has (which,
/// with the run, names that version of it).
#[derive(Debug, Clone, PartialEq)]
pub struct Changed<'a> {
    pub change: Change,
    pub record: &'a Record,
    pub content_hash: String,
}

/// What writing a page did: its counts, and which records it created or changed.
#[derive(Debug, Default, PartialEq)]
pub struct Written<'a> {
    pub counts: Counts,
    pub changed: Vec<Changed<'a>>,
}

/// What is stored of a record to classify it again: its content hash, and the run that last
/// created or changed it, with the change.
struct StoredVersion {
    hash: String,
    changed_by: Option<(String, Change)>,
}

/// A record as stored: whose connection and integration it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub connection_id: ConnectionId,
    pub integration_id: IntegrationId,
    pub record: Record,
}

/// A record's version: a digest of its content, which changes with any field.
pub fn content_hash(record: &Record) -> String {
    let json = serde_json::to_vec(record).expect("records serialise");
    Sha256::digest(&json).iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn to_item(
    user: &UserId,
    connection: &ConnectionId,
    integration: &IntegrationId,
    sync: &SyncId,
    record: &Record,
    hash: &str,
    change: Option<Change>,
) -> Item {
    let sk = record_sk(connection, record.kind, &record.external_id);
    let mut item = Item::from([
        (table::PK.into(), s(keys::user(user))),
        ("entity".into(), s("record")),
        ("connectionId".into(), s(connection.as_str())),
        ("integrationId".into(), s(integration.as_str())),
        ("kind".into(), s(record.kind.as_str())),
        ("externalId".into(), s(&record.external_id)),
        ("title".into(), s(&record.title)),
        ("contentHash".into(), s(hash)),
        ("lastSeenSync".into(), s(sync.as_str())),
        ("syncedAt".into(), ts(super::attrs::now())),
    ]);
    for (name, value) in
        [("url", &record.url), ("container", &record.container), ("status", &record.status), ("dueAt", &record.due_at)]
    {
        if let Some(v) = value {
            item.insert(name.into(), s(v));
        }
    }
    if let Some(at) = record.updated_at {
        item.insert("updatedAt".into(), ts(at));
    }
    if let Some(change) = change {
        item.insert("changedInSync".into(), s(sync.as_str()));
        item.insert("change".into(), s(change.as_str()));
    }
    if !record.data.is_empty() {
        item.insert("data".into(), s(serde_json::Value::Object(record.data.clone()).to_string()));
    }
    // The agenda index holds what a week view needs, and nothing else (a sparse GSI).
    if let Some((list, at)) = agenda_slot(record) {
        item.insert(table::GSI2PK.into(), s(agenda_pk(user, list)));
        item.insert(table::GSI2SK.into(), s(format!("{at}#{}", &sk[4..])));
    }
    item.insert(table::SK.into(), s(sk));
    item
}

fn stored_from_item(item: &Item) -> Result<StoredRecord, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("record: {what}"));
    Ok(StoredRecord {
        connection_id: ConnectionId::parse(get_s(item, "connectionId")?).map_err(|_| corrupt("connectionId"))?,
        integration_id: IntegrationId::parse(get_s(item, "integrationId")?).map_err(|_| corrupt("integrationId"))?,
        record: from_item(item)?,
    })
}

fn from_item(item: &Item) -> Result<Record, StoreError> {
    Ok(Record {
        kind: RecordKind::parse(get_s(item, "kind")?).ok_or_else(|| StoreError::Corrupt("record kind".into()))?,
        external_id: get_s(item, "externalId")?.to_owned(),
        title: get_s(item, "title")?.to_owned(),
        url: opt_s(item, "url").map(str::to_owned),
        container: opt_s(item, "container").map(str::to_owned),
        status: opt_s(item, "status").map(str::to_owned),
        due_at: opt_s(item, "dueAt").map(str::to_owned),
        updated_at: super::attrs::opt_ts(item, "updatedAt"),
        data: opt_s(item, "data").and_then(|raw| serde_json::from_str(raw).ok()).unwrap_or_default(),
    })
}

fn key(user: &UserId, sk: String) -> HashMap<String, AttributeValue> {
    HashMap::from([(table::PK.into(), s(keys::user(user))), (table::SK.into(), s(sk))])
}

async fn backoff(attempt: u32) {
    let millis = 25u64 << attempt.min(6);
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

impl Store {
    /// Upserts one page of records and says what each was: created, updated or unchanged, and
    /// which were created or updated. A record this run created or changed before (an earlier
    /// delivery of the page) is reported as that change again. With `refresh_unchanged` (full
    /// syncs) unchanged records are written too, to mark them seen by this run, so the end-of-run
    /// sweep keeps them.
    pub async fn upsert_records<'a>(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        integration: &IntegrationId,
        sync: &SyncId,
        records: &'a [Record],
        refresh_unchanged: bool,
    ) -> Result<Written<'a>, StoreError> {
        // The last occurrence of a key in a page wins (a batch may not name a key twice).
        let mut unique: Vec<(String, &Record)> = Vec::with_capacity(records.len());
        let mut index: HashMap<String, usize> = HashMap::new();
        for record in records {
            let sk = record_sk(connection, record.kind, &record.external_id);
            match index.get(&sk) {
                Some(&i) => unique[i].1 = record,
                None => {
                    index.insert(sk.clone(), unique.len());
                    unique.push((sk, record));
                }
            }
        }
        let stored = self.stored_versions(user, unique.iter().map(|(sk, _)| sk.clone()).collect()).await?;
        let mut written = Written::default();
        let mut writes = Vec::new();
        for (sk, record) in unique {
            let hash = content_hash(record);
            let change = match stored.get(&sk) {
                None => Some(Change::Created),
                Some(old) if old.hash != hash => Some(Change::Updated),
                // This run's own change, read again.
                Some(StoredVersion { changed_by: Some((by, change)), .. }) if by == sync.as_str() => Some(*change),
                Some(_) => None,
            };
            match change {
                Some(Change::Created) => written.counts.created += 1,
                Some(Change::Updated) => written.counts.updated += 1,
                None => written.counts.unchanged += 1,
            }
            if change.is_some() || refresh_unchanged {
                let item = to_item(user, connection, integration, sync, record, &hash, change);
                writes.push(
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(item)).build().expect("put request"))
                        .build(),
                );
            }
            if let Some(change) = change {
                written.changed.push(Changed { change, record, content_hash: hash });
            }
        }
        self.batch_write(writes).await?;
        Ok(written)
    }

    /// Deletes the records a provider reported as deleted; counts those that existed.
    pub async fn delete_records(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        deleted: &[RecordKey],
    ) -> Result<u64, StoreError> {
        let mut sks: Vec<String> = deleted.iter().map(|k| record_sk(connection, k.kind, &k.external_id)).collect();
        sks.sort();
        sks.dedup();
        let stored = self.stored_versions(user, sks).await?;
        let writes = stored.keys().map(|sk| delete_request(user, sk.clone())).collect();
        self.batch_write(writes).await?;
        Ok(stored.len() as u64)
    }

    /// After a full sync: removes the connection's records that this run did not see (read
    /// consistently, so a record this run has just marked seen is never taken for stale).
    pub async fn sweep_unseen_records(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        sync: &SyncId,
    ) -> Result<u64, StoreError> {
        let stale: Vec<String> = self
            .items_with_prefix(user, &format!("REC#{connection}#"), Some("SK, lastSeenSync"), Read::Consistent)
            .await?
            .into_iter()
            .filter(|item| opt_s(item, "lastSeenSync") != Some(sync.as_str()))
            .filter_map(|item| opt_s(&item, table::SK).map(str::to_owned))
            .collect();
        let count = stale.len() as u64;
        self.batch_write(stale.into_iter().map(|sk| delete_request(user, sk)).collect()).await?;
        Ok(count)
    }

    /// Deletes these records, whatever they were: a page written for a connection that was
    /// removed while it was being written.
    pub async fn remove_records(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        records: &[Record],
    ) -> Result<(), StoreError> {
        let mut sks: Vec<String> = records.iter().map(|r| record_sk(connection, r.kind, &r.external_id)).collect();
        sks.sort();
        sks.dedup();
        self.batch_write(sks.into_iter().map(|sk| delete_request(user, sk)).collect()).await
    }

    /// A connection's records (for checks and exports).
    pub async fn list_records(&self, user: &UserId, connection: &ConnectionId) -> Result<Vec<Record>, StoreError> {
        let items = self.items_with_prefix(user, &format!("REC#{connection}#"), None, Read::Eventual).await?;
        items.iter().map(from_item).collect()
    }

    /// The user's records whose key starts with `REC#{within}` (`""`: all of them; a connection
    /// id and `#`: one connection's; and a kind: one kind of it), paged until done.
    pub async fn user_records(&self, user: &UserId, within: &str) -> Result<Vec<StoredRecord>, StoreError> {
        let items = self.items_with_prefix(user, &format!("REC#{within}"), None, Read::Eventual).await?;
        items.iter().map(stored_from_item).collect()
    }

    /// One record, or `NotFound`.
    pub async fn get_record(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        kind: RecordKind,
        external_id: &str,
    ) -> Result<StoredRecord, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(user, record_sk(connection, kind, external_id))))
            .send()
            .await
            .map_err(StoreError::aws)?;
        out.item().map(stored_from_item).unwrap_or(Err(StoreError::NotFound))
    }

    /// The records of one of the user's agenda lists whose time key lies between `from` and
    /// `to` (RFC 3339 UTC prefixes, inclusive): a Query of the agenda index. Also says how
    /// many requests it took and how many items DynamoDB read.
    pub async fn agenda_records(
        &self,
        user: &UserId,
        list: AgendaList,
        from: &str,
        to: &str,
    ) -> Result<(Vec<StoredRecord>, ReadCost), StoreError> {
        let mut records = Vec::new();
        let mut cost = ReadCost::default();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(table::GSI2)
                .key_condition_expression("GSI2PK = :pk AND GSI2SK BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(agenda_pk(user, list)))
                .expression_attribute_values(":from", s(from))
                .expression_attribute_values(":to", s(format!("{to}~")))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(StoreError::aws)?;
            cost.requests += 1;
            cost.items_read += out.items().len();
            for item in out.items() {
                records.push(stored_from_item(item)?);
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok((records, cost))
    }

    /// Removes everything a connection synced, and its run history (on disconnect). The keys
    /// are read consistently: a page a worker wrote just before the connection was marked
    /// `disconnecting` is seen and removed here (one written after it is removed by the worker).
    pub async fn delete_connection_data(&self, user: &UserId, connection: &ConnectionId) -> Result<(), StoreError> {
        for prefix in [format!("REC#{connection}#"), format!("SYNC#{connection}#")] {
            let items = self.items_with_prefix(user, &prefix, Some("SK"), Read::Consistent).await?;
            let deletes = items
                .iter()
                .map(|i| Ok(delete_request(user, get_s(i, table::SK)?.to_owned())))
                .collect::<Result<_, StoreError>>()?;
            self.batch_write(deletes).await?;
        }
        Ok(())
    }

    /// Every item of the user's partition whose sort key starts with `prefix`, paged until done.
    pub(super) async fn items_with_prefix(
        &self,
        user: &UserId,
        prefix: &str,
        projection: Option<&str>,
        read: Read,
    ) -> Result<Vec<Item>, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(keys::user(user)))
            .expression_attribute_values(":prefix", s(prefix))
            .set_projection_expression(projection.map(str::to_owned))
            .consistent_read(read == Read::Consistent)
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        items.into_iter().map(|i| i.map_err(StoreError::aws)).collect()
    }

    /// The stored version of each of these records that exists.
    async fn stored_versions(
        &self,
        user: &UserId,
        sks: Vec<String>,
    ) -> Result<HashMap<String, StoredVersion>, StoreError> {
        let mut found = HashMap::new();
        for chunk in sks.chunks(BATCH_GET_MAX) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().map(|sk| key(user, sk.clone())).collect()))
                    .projection_expression("SK, contentHash, changedInSync, #change")
                    .expression_attribute_names("#change", "change")
                    .build()
                    .expect("keys"),
            );
            let mut attempt = 0;
            while let Some(request) = pending.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(StoreError::aws)?;
                for item in out.responses().and_then(|r| r.get(&self.table)).into_iter().flatten() {
                    if let (Some(sk), Some(hash)) = (opt_s(item, table::SK), opt_s(item, "contentHash")) {
                        let changed_by = opt_s(item, "changedInSync")
                            .zip(opt_s(item, "change").and_then(Change::parse))
                            .map(|(by, change)| (by.to_owned(), change));
                        found.insert(sk.to_owned(), StoredVersion { hash: hash.to_owned(), changed_by });
                    }
                }
                pending =
                    out.unprocessed_keys().and_then(|u| u.get(&self.table)).filter(|k| !k.keys().is_empty()).cloned();
                if pending.is_some() {
                    attempt += 1;
                    if attempt >= MAX_BATCH_ATTEMPTS {
                        return Err(StoreError::Corrupt("BatchGetItem kept leaving keys unprocessed".into()));
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(found)
    }

    /// BatchWriteItem in requests of 25, retrying unprocessed items with backoff.
    pub(crate) async fn batch_write(&self, writes: Vec<WriteRequest>) -> Result<(), StoreError> {
        for chunk in writes.chunks(BATCH_WRITE_MAX) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0;
            while !pending.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(StoreError::aws)?;
                pending = out.unprocessed_items().and_then(|u| u.get(&self.table)).cloned().unwrap_or_default();
                if !pending.is_empty() {
                    attempt += 1;
                    if attempt >= MAX_BATCH_ATTEMPTS {
                        return Err(StoreError::Aws(
                            format!("{} items stayed unprocessed after {attempt} attempts", pending.len()).into(),
                        ));
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(())
    }
}

/// How a Query reads: eventually consistent (half the cost) or consistent (sees every write
/// that completed before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Read {
    Eventual,
    Consistent,
}

/// What a read cost: DynamoDB requests made and items read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadCost {
    pub requests: usize,
    pub items_read: usize,
}

impl std::ops::AddAssign for ReadCost {
    fn add_assign(&mut self, other: Self) {
        self.requests += other.requests;
        self.items_read += other.items_read;
    }
}

fn delete_request(user: &UserId, sk: String) -> WriteRequest {
    WriteRequest::builder()
        .delete_request(DeleteRequest::builder().set_key(Some(key(user, sk))).build().expect("delete request"))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(id: &str, status: &str) -> Record {
        Record {
            kind: RecordKind::Task,
            external_id: id.into(),
            title: format!("Card {id}"),
            url: None,
            container: None,
            status: Some(status.into()),
            due_at: None,
            updated_at: None,
            data: Default::default(),
        }
    }

    #[tokio::test]
    async fn a_write_names_the_records_it_created_or_changed_and_a_runs_own_change_read_again() {
        let env = crate::testing::TestEnv::new().await;
        let store = &env.state.store;
        let (user, connection) = (UserId::parse("ada").unwrap(), ConnectionId::generate());
        let trello = IntegrationId::parse("trello").unwrap();
        let (first, second) = (SyncId::generate(), SyncId::generate());
        let changes = |written: &Written| -> Vec<(Change, String)> {
            written.changed.iter().map(|c| (c.change, c.record.external_id.clone())).collect()
        };

        let page = [card("c1", "open"), card("c2", "open")];
        let written = store.upsert_records(&user, &connection, &trello, &first, &page, false).await.unwrap();
        assert_eq!(changes(&written), [(Change::Created, "c1".into()), (Change::Created, "c2".into())]);
        assert_eq!(written.changed[0].content_hash, content_hash(&page[0]));

        // The same run reads the page again (a redelivery): the same changes, the same versions.
        let again = store.upsert_records(&user, &connection, &trello, &first, &page, false).await.unwrap();
        assert_eq!(again, written);
        assert_eq!(again.counts, Counts { created: 2, ..Default::default() });

        // Another run: c1 changed, c2 did not.
        let page = [card("c1", "done"), card("c2", "open")];
        let written = store.upsert_records(&user, &connection, &trello, &second, &page, true).await.unwrap();
        assert_eq!(changes(&written), [(Change::Updated, "c1".into())]);
        assert_eq!(written.counts, Counts { updated: 1, unchanged: 1, ..Default::default() });
        let again = store.upsert_records(&user, &connection, &trello, &second, &page, true).await.unwrap();
        assert_eq!(again, written, "read again by the run that changed it, c1 is still its update");
        env.cleanup().await;
    }

    #[test]
    fn the_hash_changes_with_the_content_and_only_with_it() {
        let record = Record {
            kind: RecordKind::Task,
            external_id: "c1".into(),
            title: "Write the plan".into(),
            url: None,
            container: None,
            status: Some("open".into()),
            due_at: None,
            updated_at: None,
            data: Default::default(),
        };
        let mut done = record.clone();
        done.status = Some("done".into());
        assert_eq!(content_hash(&record), content_hash(&record.clone()));
        assert_ne!(content_hash(&record), content_hash(&done));
    }
}

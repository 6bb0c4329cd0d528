//! A sync run: one pass over a connection's provider data, from queued to its one outcome.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ConnectionId, IntegrationId, SyncId, UserId};
use crate::sync::SyncMode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Queued => "queued",
            SyncStatus::Running => "running",
            SyncStatus::Succeeded => "succeeded",
            SyncStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Queued, Self::Running, Self::Succeeded, Self::Failed].into_iter().find(|s| s.as_str() == raw)
    }

    pub fn is_finished(self) -> bool {
        matches!(self, SyncStatus::Succeeded | SyncStatus::Failed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Manual,
    Schedule,
    /// A provider's notification of a change (functions/webhooks).
    Webhook,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::Webhook => "webhook",
        }
    }
}

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    #[default]
    Queued,
    /// Paging through the provider.
    Fetching,
    /// Removing what a full listing no longer has.
    Finishing,
    Done,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Queued => "queued",
            Phase::Fetching => "fetching",
            Phase::Finishing => "finishing",
            Phase::Done => "done",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Queued, Self::Fetching, Self::Finishing, Self::Done].into_iter().find(|p| p.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub phase: Phase,
    pub pages: u64,
    pub items: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.deleted += other.deleted;
    }

    /// Items the run processed: what it brought in or removed.
    pub fn items(&self) -> u64 {
        self.created + self.updated + self.unchanged + self.deleted
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRun {
    #[serde(skip_serializing)]
    pub user_id: UserId,
    pub sync_id: SyncId,
    pub connection_id: ConnectionId,
    pub integration_id: IntegrationId,
    pub status: SyncStatus,
    pub trigger: Trigger,
    pub mode: SyncMode,
    pub queued_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    pub progress: Progress,
    pub counts: Counts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    pub minutes_saved: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub attempts: u32,
    /// Where the next page starts (internal: connector-specific).
    #[serde(skip_serializing)]
    pub cursor: Option<serde_json::Value>,
}

impl SyncRun {
    pub fn queued(
        user_id: UserId,
        connection_id: ConnectionId,
        integration_id: IntegrationId,
        trigger: Trigger,
        mode: SyncMode,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            user_id,
            sync_id: SyncId::generate(),
            connection_id,
            integration_id,
            status: SyncStatus::Queued,
            trigger,
            mode,
            queued_at: now,
            started_at: None,
            finished_at: None,
            progress: Progress { phase: Phase::Queued, pages: 0, items: 0 },
            counts: Counts::default(),
            duration_ms: None,
            minutes_saved: 0.0,
            error: None,
            attempts: 0,
            cursor: None,
        }
    }

    pub fn job(&self) -> SyncJob {
        SyncJob {
            sync_id: self.sync_id.clone(),
            user_id: self.user_id.clone(),
            connection_id: self.connection_id.clone(),
        }
    }
}

/// The SQS message of a queued run: just enough to find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncJob {
    pub sync_id: SyncId,
    pub user_id: UserId,
    pub connection_id: ConnectionId,
}

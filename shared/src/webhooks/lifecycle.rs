//! Subscriptions that keep themselves: made on connect where the provider notifies, renewed by
//! the scheduler before they expire (or made again after `subscriptionRemoved` or an expiry),
//! stopped on disconnect. A connection whose subscription could not be made or renewed shows
//! `realtime: polling` (its syncs still find its changes) until a renewal succeeds; one that could
//! not be made at connect is recorded with no provider id, for the scheduler to make.

use chrono::{DateTime, Duration, Utc};

use crate::config::AppState;
use crate::domain::{Connection, ConnectionId, Realtime, UserId};
use crate::http::ErrorChain;
use crate::oauth::fresh_credentials;
use crate::providers::{Provider, Registry, Subscribed, SubscriptionCall};
use crate::store::{DUE_SHARDS, StoreError, Subscription};
use crate::vault::Credentials;

use super::{callback_path, verify};

/// A subscription is renewed this long before it expires.
pub const RENEW_BEFORE: Duration = Duration::minutes(15);
/// A renewal that failed is tried again after this long.
pub const RETRY_AFTER: Duration = Duration::minutes(10);
/// Most due subscriptions renewed per shard per pass.
const PER_SHARD: i32 = 100;

/// What one renewal pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalReport {
    pub renewed: usize,
    /// Made again (it could not be renewed, or the provider had removed it).
    pub recreated: usize,
    /// Neither: the connection falls back to polling, and it is tried again later.
    pub failed: usize,
    pub errors: usize,
}

#[derive(Debug, thiserror::Error)]
enum LifecycleError {
    #[error("WEBHOOK_BASE_URL is not set: providers have nowhere to send notifications")]
    NoCallback,
    #[error("the connection's credentials could not be read")]
    Credentials(#[source] crate::oauth::TokenError),
    #[error("the provider refused or failed")]
    Provider(#[source] crate::providers::ProviderError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Context {
    provider: &'static dyn Provider,
    base: String,
    callback: String,
    credentials: Credentials,
}

async fn context(state: &AppState, connection: &Connection) -> Result<Context, LifecycleError> {
    let base_url = state.webhooks.base_url.as_deref().ok_or(LifecycleError::NoCallback)?;
    let integration = connection.integration_id.as_str();
    let provider = Registry::get().find(integration).ok_or(LifecycleError::NoCallback)?;
    let base = state.catalog.find(integration).map(|i| state.endpoints.api_base(i)).unwrap_or_default();
    let credentials = fresh_credentials(state, connection, None).await.map_err(LifecycleError::Credentials)?;
    Ok(Context { provider, base, callback: format!("{base_url}{}", callback_path(integration)), credentials })
}

fn call<'a>(
    state: &'a AppState,
    c: &'a Context,
    connection: &'a Connection,
    key: &'a str,
    secret: &'a str,
    now: DateTime<Utc>,
) -> SubscriptionCall<'a> {
    SubscriptionCall {
        http: &state.http,
        base: &c.base,
        credentials: &c.credentials,
        account: &connection.account,
        callback_url: &c.callback,
        key,
        secret,
        now,
    }
}

fn stored(connection: &Connection, made: Subscribed, secret: &str) -> Subscription {
    Subscription {
        integration_id: connection.integration_id.clone(),
        key: made.key,
        user_id: connection.user_id.clone(),
        connection_id: connection.connection_id.clone(),
        secret_hash: made.uses_secret.then(|| verify::secret_hash(secret)),
        remote_id: made.remote_id,
        expires_on: made.expires_on,
        renew_at: made.expires_on.map(|at| at - RENEW_BEFORE),
        remake: false,
    }
}

/// Makes a new subscription for the connection and records it (the connection is `live`).
async fn make(
    state: &AppState,
    c: &Context,
    connection: &Connection,
    now: DateTime<Utc>,
) -> Result<bool, LifecycleError> {
    let key = ulid::Ulid::new().to_string().to_lowercase();
    let secret = verify::new_secret();
    let made = c
        .provider
        .subscribe(&call(state, c, connection, &key, &secret, now))
        .await
        .map_err(LifecycleError::Provider)?;
    let Some(made) = made else { return Ok(false) };
    state.store.add_subscription(&stored(connection, made, &secret), Realtime::Live).await?;
    Ok(true)
}

/// A subscription that could not be made, recorded so the scheduler's pass makes it after
/// [`RETRY_AFTER`] (and every [`RETRY_AFTER`] until it is made): it has no provider id, so there
/// is nothing to renew or stop, and no notification can name its key.
async fn make_later(state: &AppState, connection: &Connection, now: DateTime<Utc>) -> Result<(), StoreError> {
    let sub = Subscription {
        integration_id: connection.integration_id.clone(),
        key: ulid::Ulid::new().to_string().to_lowercase(),
        user_id: connection.user_id.clone(),
        connection_id: connection.connection_id.clone(),
        secret_hash: None,
        remote_id: None,
        expires_on: None,
        renew_at: Some(now + RETRY_AFTER),
        remake: true,
    };
    state.store.add_subscription(&sub, Realtime::Polling).await
}

/// The connection shows `polling` and, if it auto-syncs, is synced within the fallback interval
/// (`POLLING_FALLBACK_MINUTES`) and at it until it is `live` again.
pub async fn fall_back(
    state: &AppState,
    user: &UserId,
    connection: &ConnectionId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let soon = now + Duration::minutes(i64::from(state.sync.polling_fallback_minutes));
    state.store.fall_back_to_polling(user, connection, soon).await
}

/// Syncs of a `live` connection that found changes while no notification came, in a row, after
/// which its subscription is taken to be lost: it falls back to polling and is made again.
pub const UNHEARD_CHANGES_LIMIT: u64 = 3;

/// After a sync not started by a notification found changes: counted, and at
/// [`UNHEARD_CHANGES_LIMIT`] the connection falls back to polling and its subscriptions are due
/// at once, to be made again (not renewed) by the scheduler's next pass. `true` then.
pub async fn changes_found_unheard(
    state: &AppState,
    user: &UserId,
    connection: &ConnectionId,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    match state.store.count_unheard_changes(user, connection).await? {
        Some(count) if count >= UNHEARD_CHANGES_LIMIT => {}
        _ => return Ok(false),
    }
    tracing::warn!(%connection, "syncs keep finding changes no notification told of; the subscription is made again");
    fall_back(state, user, connection, now).await?;
    for mut sub in state.store.connection_subscriptions(user, connection).await? {
        sub.remake = true;
        sub.renew_at = Some(now);
        state.store.put_subscription(&sub).await?;
    }
    Ok(true)
}

/// Subscribes a new connection to its changes where its provider notifies. Best effort: a
/// connection that could not subscribe shows `polling`.
pub async fn subscribe(state: &AppState, connection: &Connection, now: DateTime<Utc>) -> Realtime {
    if connection.realtime == Realtime::Off {
        return Realtime::Off;
    }
    let outcome = match context(state, connection).await {
        Ok(c) => make(state, &c, connection, now).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(true) => Realtime::Live,
        Ok(false) => connection.realtime,
        Err(e) => {
            tracing::warn!(connection = %connection.connection_id, error = %ErrorChain(&e), "could not subscribe; the connection is polled");
            if let Err(e) = fall_back(state, &connection.user_id, &connection.connection_id, now).await {
                tracing::error!(error = %ErrorChain(&e), "could not record the fallback to polling");
            }
            // Without a callback there is nothing to retry; otherwise the scheduler tries again.
            if !matches!(e, LifecycleError::NoCallback)
                && let Err(e) = make_later(state, connection, now).await
            {
                tracing::error!(error = %ErrorChain(&e), "could not record the subscription to make later");
            }
            Realtime::Polling
        }
    }
}

/// Stops every subscription of a connection being disconnected (best effort at the provider;
/// their items go in any case).
pub async fn unsubscribe_all(state: &AppState, connection: &Connection, now: DateTime<Utc>) -> Result<(), StoreError> {
    let subs = state.store.connection_subscriptions(&connection.user_id, &connection.connection_id).await?;
    if subs.is_empty() {
        return Ok(());
    }
    let context = context(state, connection).await;
    for sub in subs {
        if let (Ok(c), Some(remote)) = (&context, &sub.remote_id) {
            let call = call(state, c, connection, &sub.key, "", now);
            if let Err(e) = c.provider.unsubscribe(&call, remote).await {
                tracing::warn!(connection = %connection.connection_id, error = %ErrorChain(&e), "could not stop a subscription; it ends when it expires");
            }
        }
        state.store.delete_subscription(&sub).await?;
    }
    Ok(())
}

/// One pass over the subscriptions whose renewal is due (the scheduler's).
pub async fn renew_due(state: &AppState, now: DateTime<Utc>) -> RenewalReport {
    let mut report = RenewalReport::default();
    for shard in 0..DUE_SHARDS {
        let due = match state.store.due_subscriptions(shard, now, PER_SHARD).await {
            Ok(due) => due,
            Err(e) => {
                report.errors += 1;
                tracing::error!(error = %ErrorChain(&e), "could not read the due subscriptions of shard {shard}");
                continue;
            }
        };
        for sub in due {
            if let Err(e) = renew_one(state, sub, now, &mut report).await {
                report.errors += 1;
                tracing::error!(error = %ErrorChain(&e), "could not renew a subscription");
            }
        }
    }
    report
}

async fn renew_one(
    state: &AppState,
    sub: Subscription,
    now: DateTime<Utc>,
    report: &mut RenewalReport,
) -> Result<(), StoreError> {
    let connection = match state.store.get_connection(&sub.user_id, &sub.connection_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return state.store.delete_subscription(&sub).await,
        Err(e) => return Err(e),
    };
    let attempt = async {
        let c = context(state, &connection).await?;
        if let Some(remote) = sub.remote_id.as_ref().filter(|_| !sub.remake) {
            match c.provider.renew(&call(state, &c, &connection, &sub.key, "", now), remote).await {
                Ok(renewed) => {
                    let mut next = sub.clone();
                    next.expires_on = renewed.expires_on;
                    next.renew_at = renewed.expires_on.map(|at| at - RENEW_BEFORE);
                    state.store.put_subscription(&next).await?;
                    state.store.set_realtime(&sub.user_id, &sub.connection_id, Realtime::Live).await?;
                    return Ok(false);
                }
                Err(e) => {
                    tracing::info!(error = %ErrorChain(&e), "a subscription could not be renewed; making a new one")
                }
            }
        }
        if !make(state, &c, &connection, now).await? {
            return Err(LifecycleError::NoCallback);
        }
        // The old one may still be open at the provider (a Google channel is replaced, not
        // extended): stopped, best effort, so it sends nothing more.
        if let Some(remote) = &sub.remote_id
            && let Err(e) = c.provider.unsubscribe(&call(state, &c, &connection, &sub.key, "", now), remote).await
        {
            tracing::info!(error = %ErrorChain(&e), "the replaced subscription could not be stopped; it ends when it expires");
        }
        state.store.delete_subscription(&sub).await?;
        Ok(true)
    };
    match attempt.await {
        Ok(false) => report.renewed += 1,
        Ok(true) => report.recreated += 1,
        Err(LifecycleError::Store(e)) => return Err(e),
        Err(e) => {
            report.failed += 1;
            tracing::warn!(connection = %sub.connection_id, error = %ErrorChain(&e), "subscription lost; the connection is polled");
            fall_back(state, &sub.user_id, &sub.connection_id, now).await?;
            let mut later = sub.clone();
            later.renew_at = Some(now + RETRY_AFTER);
            state.store.put_subscription(&later).await?;
        }
    }
    Ok(())
}

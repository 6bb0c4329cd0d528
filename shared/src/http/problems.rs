//! Domain errors as problem+json: the one place where the use cases' errors meet HTTP.

use super::{Problem, ProblemType};
use crate::activity::ActivityError;
use crate::automations::service::{AutomationError, ScopeMissing};
use crate::connections::{ConnectError, ConnectionError};
use crate::hooks::service::HookError;
use crate::items::ItemsError;
use crate::providers::{ProviderError, VerifyError};
use crate::store::StoreError;
use crate::sync::{HistoryError, TriggerError};
use crate::your_data::DeleteMeError;

impl From<ConnectError> for Problem {
    fn from(e: ConnectError) -> Self {
        let detail = e.to_string();
        match e {
            ConnectError::UnknownIntegration(id) => {
                Problem::new(ProblemType::UnknownIntegration, detail).with("integrationId", id)
            }
            ConnectError::ComingSoon(_) => Problem::new(ProblemType::ComingSoon, detail),
            ConnectError::PremiumRequired(_) => Problem::new(ProblemType::PremiumRequired, detail),
            ConnectError::LimitReached { limit, .. } => {
                Problem::new(ProblemType::PlanLimitReached, detail).with("limit", limit)
            }
            // No time frees a place (a disconnect does, at once): try again in an hour.
            ConnectError::TooManyConnections { limit } => {
                Problem::new(ProblemType::TooManyConnections, detail).with("limit", limit).retry_after(3600)
            }
            ConnectError::TooManySignIns { retry_after_secs } => {
                Problem::new(ProblemType::TooManySignIns, detail).retry_after(retry_after_secs)
            }
            ConnectError::OauthNotAvailable(_) => Problem::new(ProblemType::OauthNotConfigured, detail),
            ConnectError::UnknownConnection => Problem::not_found(detail),
            ConnectError::Disconnecting => Problem::new(ProblemType::Disconnecting, detail),
            ConnectError::Store(StoreError::Conflict) => Problem::new(ProblemType::ConcurrentChange, detail),
            ConnectError::ApiKeyNotSupported(_) => Problem::new(ProblemType::ApiKeyNotSupported, detail),
            ConnectError::InvalidFields(errors) => {
                Problem::new(ProblemType::InvalidCredentials, detail).with("errors", errors)
            }
            ConnectError::InvalidSettings(_) => Problem::new(ProblemType::InvalidSettings, detail),
            ConnectError::NothingToSync(_) => Problem::new(ProblemType::NothingToSync, detail),
            ConnectError::Rejected { .. } => Problem::new(ProblemType::CredentialRejected, detail),
            ConnectError::AlreadyConnected { existing, .. } => {
                let p = Problem::new(ProblemType::AlreadyConnected, detail);
                match existing {
                    Some(id) => p.with("connectionId", id),
                    None => p,
                }
            }
            ConnectError::ProviderUnavailable(VerifyError::Unavailable(ProviderError::RateLimited(wait))) => {
                let secs = wait.as_secs().max(1);
                Problem::new(
                    ProblemType::ProviderRateLimited,
                    format!(
                        "The provider asked us to wait {secs} seconds before checking the credential. Nothing was \
                         stored; please try again then."
                    ),
                )
                .retry_after(secs)
            }
            ConnectError::ProviderUnavailable(VerifyError::Unavailable(cause)) => Problem::new(
                ProblemType::ProviderUnavailable,
                format!(
                    "We could not check the credential: {} Nothing was stored; please try again.",
                    cause.user_message("the provider")
                ),
            ),
            ConnectError::ProviderUnavailable(cause) => Problem::new(
                ProblemType::ProviderUnavailable,
                format!("We could not check the credential: {cause}. Nothing was stored; please try again."),
            ),
            ConnectError::Store(cause) => Problem::unavailable(&cause),
            ConnectError::Vault(cause) => Problem::unavailable(&cause),
        }
    }
}

impl From<ConnectionError> for Problem {
    fn from(e: ConnectionError) -> Self {
        let detail = e.to_string();
        match e {
            ConnectionError::NotFound => Problem::not_found(detail),
            ConnectionError::Conflict => Problem::new(ProblemType::ConcurrentChange, detail),
            ConnectionError::Disconnecting => Problem::new(ProblemType::Disconnecting, detail),
            ConnectionError::Invalid(e) => e.into(),
            ConnectionError::Store(cause) => Problem::unavailable(&cause),
            ConnectionError::Vault(cause) => Problem::unavailable(&cause),
        }
    }
}

impl From<DeleteMeError> for Problem {
    fn from(e: DeleteMeError) -> Self {
        match e {
            DeleteMeError::Connection(e) => e.into(),
            DeleteMeError::Store(cause) => Problem::unavailable(&cause),
            DeleteMeError::Vault(cause) => Problem::unavailable(&cause),
        }
    }
}

impl From<TriggerError> for Problem {
    fn from(e: TriggerError) -> Self {
        let detail = e.to_string();
        match e {
            TriggerError::NotFound => Problem::not_found(detail),
            TriggerError::InFlight(id) => {
                let p = Problem::new(ProblemType::SyncInProgress, detail);
                match id {
                    Some(id) => p.with("syncId", id),
                    None => p,
                }
            }
            TriggerError::NotActive(_) => Problem::new(ProblemType::ConnectionNotActive, detail),
            TriggerError::RateLimited(secs) => Problem::new(ProblemType::SyncRateLimited, detail).retry_after(secs),
            TriggerError::FullSyncLimit(secs) => {
                Problem::new(ProblemType::FullSyncLimitReached, detail).retry_after(secs)
            }
            TriggerError::NothingToSync(_) => Problem::new(ProblemType::NothingToSync, detail),
            TriggerError::Store(cause) => Problem::unavailable(&cause),
            other @ (TriggerError::NoQueue | TriggerError::Queue(_)) => Problem::unavailable(&other),
        }
    }
}

impl From<HistoryError> for Problem {
    fn from(e: HistoryError) -> Self {
        let detail = e.to_string();
        match e {
            HistoryError::ConnectionNotFound | HistoryError::SyncNotFound => Problem::not_found(detail),
            HistoryError::InvalidLimit | HistoryError::InvalidCursor => Problem::bad_request(detail),
            HistoryError::Store(cause) => Problem::unavailable(&cause),
        }
    }
}

impl From<ActivityError> for Problem {
    fn from(e: ActivityError) -> Self {
        let detail = e.to_string();
        match e {
            ActivityError::Invalid(_) | ActivityError::InvalidCursor => Problem::bad_request(detail),
            ActivityError::Store(cause) => Problem::unavailable(&cause),
        }
    }
}

impl From<ItemsError> for Problem {
    fn from(e: ItemsError) -> Self {
        let detail = e.to_string();
        match e {
            ItemsError::Invalid(_) | ItemsError::InvalidCursor => Problem::bad_request(detail),
            ItemsError::NotFound => Problem::not_found(detail),
            ItemsError::Store(cause) => Problem::unavailable(&cause),
        }
    }
}

impl From<AutomationError> for Problem {
    fn from(e: AutomationError) -> Self {
        let detail = e.to_string();
        match e {
            AutomationError::Invalid(invalid) => {
                Problem::new(ProblemType::InvalidAutomation, detail).with("at", invalid.at)
            }
            AutomationError::Plan(_) => Problem::new(ProblemType::AutomationPlanLimit, detail),
            AutomationError::NotFound => Problem::not_found("There is no such automation."),
            AutomationError::Conflict => Problem::new(ProblemType::ConcurrentChange, detail),
            AutomationError::ScopeMissing(missing) => {
                let ScopeMissing { connection_id, scope, consent, reconsent_url, cookie } = *missing;
                Problem::new(
                    ProblemType::ScopeMissing,
                    format!(
                        "{consent}: the connection needs this permission before the automation can be switched on."
                    ),
                )
                .with("connectionId", connection_id)
                .with("scope", scope)
                .with("consent", consent)
                .with("reconsentUrl", reconsent_url)
                .with_cookie(cookie)
            }
            AutomationError::Consent(ConnectError::TooManySignIns { retry_after_secs }) => {
                Problem::new(ProblemType::TooManySignIns, detail).retry_after(retry_after_secs)
            }
            // The connection changed meanwhile, or this deployment lost its OAuth client.
            AutomationError::Consent(cause) => Problem::unavailable(&cause),
            AutomationError::Vault(cause) => Problem::unavailable(&cause),
            other @ (AutomationError::NoQueue | AutomationError::Queue(_)) => Problem::unavailable(&other),
            AutomationError::Store(cause) => Problem::unavailable(&cause),
        }
    }
}

impl From<HookError> for Problem {
    fn from(e: HookError) -> Self {
        let detail = e.to_string();
        match e {
            HookError::Premium => Problem::new(ProblemType::PremiumRequired, detail),
            HookError::Target(_) | HookError::NoEvents => Problem::new(ProblemType::InvalidHook, detail),
            HookError::Limit => Problem::new(ProblemType::HookLimitReached, detail),
            HookError::NotFound | HookError::DeliveryNotFound => Problem::not_found(detail),
            other @ (HookError::NoQueue | HookError::Queue(_) | HookError::Vault(_)) => Problem::unavailable(&other),
            HookError::Store(cause) => Problem::unavailable(&cause),
        }
    }
}

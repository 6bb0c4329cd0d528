//! The one list of providers, checked against `catalog.json` when the catalog is first read
//! (at every process start) and by the tests below.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use super::provider::Provider;
use super::{asana, google, microsoft, notion, slack, trello, zapier};
use crate::catalog::{Catalog, Integration};

/// Every provider of the service, in catalog order. Adding one: its folder, its catalog entry,
/// one line here.
static PROVIDERS: [&dyn Provider; 8] = [
    &slack::Slack,
    &microsoft::MicrosoftTeams,
    &trello::Trello,
    &asana::Asana,
    &google::GoogleCalendar,
    &google::GoogleDrive,
    &notion::Notion,
    &zapier::Zapier,
];

pub struct Registry {
    providers: &'static [&'static dyn Provider],
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("catalog entry `{0}` has no provider in the registry")]
    NoProvider(String),
    #[error("provider `{0}` has no catalog entry")]
    NoCatalogEntry(&'static str),
    #[error("provider `{0}` is registered twice")]
    Duplicate(&'static str),
    #[error("`{id}`: the catalog declares {what} {catalog}, the code {code}")]
    Disagrees { id: String, what: &'static str, catalog: String, code: String },
}

impl Registry {
    /// The providers compiled into this binary.
    pub fn get() -> &'static Registry {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        REGISTRY.get_or_init(|| Registry { providers: &PROVIDERS })
    }

    pub fn providers(&self) -> &'static [&'static dyn Provider] {
        self.providers
    }

    pub fn find(&self, id: &str) -> Option<&'static dyn Provider> {
        self.providers.iter().copied().find(|p| p.id() == id)
    }

    /// The provider of a catalog entry. Every entry has one: [`Registry::check`] runs when the
    /// catalog is loaded and refuses a catalog with an entry the code does not serve.
    pub fn of(&self, integration: &Integration) -> &'static dyn Provider {
        self.find(integration.id.as_str()).expect("every catalog entry has a provider (checked at load)")
    }

    /// The catalog and the code describe the same providers with the same capabilities.
    pub fn check(&self, catalog: &Catalog) -> Result<(), RegistryError> {
        let mut seen = BTreeSet::new();
        for provider in self.providers {
            if !seen.insert(provider.id()) {
                return Err(RegistryError::Duplicate(provider.id()));
            }
            if catalog.find(provider.id()).is_none() {
                return Err(RegistryError::NoCatalogEntry(provider.id()));
            }
        }
        for integration in catalog.integrations() {
            let provider = self
                .find(integration.id.as_str())
                .ok_or_else(|| RegistryError::NoProvider(integration.id.to_string()))?;
            compare(integration, provider)?;
        }
        Ok(())
    }
}

fn compare(integration: &Integration, provider: &dyn Provider) -> Result<(), RegistryError> {
    let code = provider.capabilities();
    let declared = &integration.capabilities;
    let disagree = |what: &'static str, catalog: String, code: String| {
        if catalog == code {
            Ok(())
        } else {
            Err(RegistryError::Disagrees { id: integration.id.to_string(), what, catalog, code })
        }
    };
    fn set<T: std::fmt::Debug>(items: impl IntoIterator<Item = T>) -> String {
        let set: BTreeSet<String> = items.into_iter().map(|i| format!("{i:?}")).collect();
        format!("{set:?}")
    }
    disagree("auth modes", set(&integration.auth_modes), set(code.auth_modes))?;
    disagree(
        "credential fields",
        set(integration.credential_fields.iter().map(|f| f.name.as_str())),
        set(code.credential_fields),
    )?;
    disagree("record kinds", set(&declared.record_kinds), set(code.record_kinds))?;
    disagree("sync auth modes", set(&declared.sync), set(code.sync))?;
    disagree("realtime", declared.realtime.to_string(), code.realtime.to_string())?;
    disagree("actions", set(&declared.actions), set(code.actions.iter().map(|a| a.id)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CATALOG_JSON;

    #[test]
    fn every_catalog_entry_has_a_provider_whose_capabilities_agree() {
        Registry::get().check(Catalog::get()).unwrap();
        assert_eq!(Registry::get().providers().len(), Catalog::get().integrations().len());
    }

    #[test]
    fn a_catalog_entry_without_a_provider_is_refused() {
        let json = CATALOG_JSON.replacen("\"id\": \"zapier\"", "\"id\": \"dropbox\"", 1);
        let catalog = Catalog::parse(&json).unwrap();
        assert_eq!(
            Registry::get().check(&catalog),
            Err(RegistryError::NoCatalogEntry("zapier")),
            "zapier lost its entry; and dropbox has no provider"
        );
        let registry = Registry { providers: &PROVIDERS[..7] };
        assert_eq!(registry.check(&catalog), Err(RegistryError::NoProvider("dropbox".into())));
    }

    #[test]
    fn capabilities_that_disagree_with_the_code_are_refused() {
        for (what, from, to) in [
            ("record kinds", "\"recordKinds\": [\"task\"]", "\"recordKinds\": [\"task\", \"event\"]"),
            ("sync auth modes", "\"sync\": [\"api_key\"]", "\"sync\": []"),
            ("realtime", "\"realtime\": false", "\"realtime\": true"),
        ] {
            let json = CATALOG_JSON.replacen(from, to, 1);
            assert_ne!(json, CATALOG_JSON, "the catalog has {from}");
            let result = Catalog::parse(&json)
                .map_err(|e| e.to_string())
                .and_then(|catalog| Registry::get().check(&catalog).map_err(|e| e.to_string()));
            let error = result.expect_err(what);
            assert!(error.contains(what), "{what}: {error}");
        }
    }

    #[test]
    fn every_write_scope_an_oauth_action_needs_says_what_it_allows_and_every_budget_refills() {
        for provider in Registry::get().providers() {
            let capabilities = provider.capabilities();
            assert!(
                capabilities.budget.capacity > 0 && capabilities.budget.refill_per_second() > 0.0,
                "{}",
                provider.id()
            );
            if !capabilities.auth_modes.contains(&crate::catalog::AuthMode::Oauth2) {
                continue;
            }
            for action in capabilities.actions {
                if let Some(scope) = action.scope {
                    assert!(capabilities.allows(scope).is_some(), "{}: {scope}", action.id);
                }
            }
        }
        let calendar = Registry::get().find("google-calendar").unwrap();
        let insert = calendar.capabilities().actions.iter().find(|a| a.id == "calendar.insertEvent").unwrap();
        assert_eq!(insert.scope, Some("https://www.googleapis.com/auth/calendar.events"));
        assert_eq!(calendar.incremental_consent(), &[("include_granted_scopes", "true")]);
        let slack = Registry::get().find("slack").unwrap().capabilities();
        assert!(slack.actions.iter().all(|a| a.scope == Some("chat:write")));
        let teams = Registry::get().find("microsoft-teams").unwrap().capabilities();
        let graph_post = teams.actions.iter().filter_map(|a| a.scope).collect::<Vec<_>>();
        assert_eq!(graph_post, ["ChannelMessage.Send"]);
    }
}

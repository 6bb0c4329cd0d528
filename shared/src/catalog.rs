//! The integration catalog: data in `shared/catalog.json`, parsed and checked once at start.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::domain::IntegrationId;
use crate::providers::Registry;
use crate::sync::RecordKind;

pub(crate) const CATALOG_JSON: &str = include_str!("../catalog.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Availability {
    Available,
    ComingSoon,
    Premium,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    Oauth2,
    ApiKey,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Oauth2 => "oauth2",
            AuthMode::ApiKey => "api_key",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Oauth2, Self::ApiKey].into_iter().find(|m| m.as_str() == raw)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Category {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OauthEndpoints {
    pub authorize_url: String,
    pub token_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_url: Option<String>,
    /// OpenID Connect userinfo, where the account is read from after sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_url: Option<String>,
    pub scopes: Vec<String>,
    /// How the provider wants scopes joined in the authorize URL (Slack: commas).
    #[serde(default = "space", skip_serializing_if = "is_space")]
    pub scope_separator: String,
    /// Provider-specific authorize parameters (Google `access_type=offline`, Notion `owner=user`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_params: BTreeMap<String, String>,
    /// How the client authenticates at the token endpoint: `post` (form body) or `basic`.
    #[serde(default = "post", skip_serializing_if = "is_post")]
    pub client_auth: String,
}

fn space() -> String {
    " ".into()
}

fn is_space(s: &str) -> bool {
    s == " "
}

fn post() -> String {
    "post".into()
}

fn is_post(s: &str) -> bool {
    s == "post"
}

/// One field of an API-key connect form: enough for a page to render it without special code.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialField {
    pub name: String,
    pub label: String,
    pub secret: bool,
    pub pattern: String,
    pub help: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Integration {
    pub id: IntegrationId,
    pub name: String,
    pub description: String,
    pub category: String,
    pub status: Availability,
    pub features: Vec<String>,
    pub auth_modes: Vec<AuthMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OauthEndpoints>,
    pub credential_fields: Vec<CredentialField>,
    pub api_base_url: String,
    pub capabilities: DeclaredCapabilities,
    pub minutes_saved_per_item: f64,
}

/// What the catalog tells clients an integration can do. The provider's code declares the same
/// ([`crate::providers::Capabilities`]); the registry refuses to start when they differ.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeclaredCapabilities {
    /// The auth modes whose connections have data to sync.
    pub sync: Vec<AuthMode>,
    pub realtime: bool,
    pub actions: Vec<String>,
    pub record_kinds: Vec<RecordKind>,
}

/// An integration as `GET /available` shows it: what a client needs to offer and connect it,
/// and none of the service's own configuration (OAuth endpoints, client settings, base URLs).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationView<'a> {
    pub id: &'a IntegrationId,
    pub name: &'a str,
    pub description: &'a str,
    pub category: &'a str,
    pub status: Availability,
    pub features: &'a [String],
    pub auth_modes: &'a [AuthMode],
    pub credential_fields: &'a [CredentialField],
    pub capabilities: &'a DeclaredCapabilities,
}

impl<'a> From<&'a Integration> for IntegrationView<'a> {
    fn from(i: &'a Integration) -> Self {
        Self {
            id: &i.id,
            name: &i.name,
            description: &i.description,
            category: &i.category,
            status: i.status,
            features: &i.features,
            auth_modes: &i.auth_modes,
            credential_fields: &i.credential_fields,
            capabilities: &i.capabilities,
        }
    }
}

impl Integration {
    pub fn supports(&self, mode: AuthMode) -> bool {
        self.auth_modes.contains(&mode)
    }

    /// The code behind this entry (every entry has one: checked when the catalog loads).
    pub fn provider(&self) -> &'static dyn crate::providers::Provider {
        Registry::get().of(self)
    }

    /// Whether a connection made this way has data to sync.
    pub fn syncs_with(&self, mode: AuthMode) -> bool {
        self.provider().capabilities().syncs_with(mode)
    }
}

/// Where each provider's API is: the catalog's base URL unless `{PROVIDER}_API_BASE_URL`
/// (for example `TRELLO_API_BASE_URL`) says otherwise, so tests and local runs can use a fake.
/// Read once at cold start with the rest of the configuration.
#[derive(Debug, Clone, Default)]
pub struct ProviderEndpoints {
    overrides: std::collections::HashMap<String, String>,
}

impl ProviderEndpoints {
    pub fn from_env(catalog: &Catalog) -> Self {
        let overrides = catalog
            .integrations()
            .iter()
            .filter_map(|i| {
                let url = std::env::var(i.id.env_var("API_BASE_URL")).ok().filter(|v| !v.is_empty())?;
                Some((i.id.to_string(), url))
            })
            .collect();
        Self { overrides }
    }

    pub fn with_override(mut self, integration: &str, base_url: impl Into<String>) -> Self {
        self.overrides.insert(integration.to_owned(), base_url.into());
        self
    }

    pub fn api_base(&self, integration: &Integration) -> String {
        self.overrides
            .get(integration.id.as_str())
            .unwrap_or(&integration.api_base_url)
            .trim_end_matches('/')
            .to_owned()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    categories: Vec<Category>,
    integrations: Vec<Integration>,
}

#[derive(Debug)]
pub struct Catalog {
    categories: Vec<Category>,
    integrations: Vec<Integration>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog.json does not parse: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("catalog entry {id}: {problem}")]
    Invalid { id: String, problem: String },
}

impl Catalog {
    /// The catalog compiled into the binary. Parsed and checked against the provider registry
    /// on first use (at start); a broken catalog or one the code does not serve is a build
    /// defect, caught by the unit tests, so this panics at start rather than serving half of it.
    pub fn get() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            let catalog = Catalog::parse(CATALOG_JSON).expect("shared/catalog.json is valid");
            if let Err(e) = Registry::get().check(&catalog) {
                panic!("shared/catalog.json and the provider registry disagree: {e}");
            }
            catalog
        })
    }

    pub fn parse(json: &str) -> Result<Catalog, CatalogError> {
        let file: CatalogFile = serde_json::from_str(json)?;
        let catalog = Catalog { categories: file.categories, integrations: file.integrations };
        catalog.check()?;
        Ok(catalog)
    }

    fn check(&self) -> Result<(), CatalogError> {
        let categories: HashSet<&str> = self.categories.iter().map(|c| c.id.as_str()).collect();
        let mut seen = HashSet::new();
        for i in &self.integrations {
            let invalid = |problem: &str| CatalogError::Invalid { id: i.id.to_string(), problem: problem.to_owned() };
            if !seen.insert(i.id.as_str()) {
                return Err(invalid("duplicate id"));
            }
            if !categories.contains(i.category.as_str()) {
                return Err(invalid("unknown category"));
            }
            if i.auth_modes.is_empty() {
                return Err(invalid("no auth mode"));
            }
            if i.supports(AuthMode::Oauth2) != i.oauth.is_some() {
                return Err(invalid("oauth2 mode and oauth endpoints must go together"));
            }
            if i.supports(AuthMode::ApiKey) == i.credential_fields.is_empty() {
                return Err(invalid("api_key mode and credential fields must go together"));
            }
            for field in &i.credential_fields {
                regex_lite::Regex::new(&field.pattern).map_err(|e| invalid(&format!("field {}: {e}", field.name)))?;
            }
            if !(i.minutes_saved_per_item >= 0.0 && i.minutes_saved_per_item.is_finite()) {
                return Err(invalid("minutesSavedPerItem must be a non-negative number"));
            }
            url::Url::parse(&i.api_base_url).map_err(|e| invalid(&format!("apiBaseUrl: {e}")))?;
        }
        Ok(())
    }

    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    pub fn integrations(&self) -> &[Integration] {
        &self.integrations
    }

    pub fn find(&self, id: &str) -> Option<&Integration> {
        self.integrations.iter().find(|i| i.id.as_str() == id)
    }

    /// Whether a connection to `integration` made with `mode` has data to sync.
    pub fn can_sync(&self, integration: &IntegrationId, mode: AuthMode) -> bool {
        self.find(integration.as_str()).is_some_and(|i| i.syncs_with(mode))
    }

    pub fn is_category(&self, id: &str) -> bool {
        self.categories.iter().any(|c| c.id == id)
    }

    pub fn in_category<'a>(&'a self, category: &'a str) -> impl Iterator<Item = &'a Integration> {
        self.integrations.iter().filter(move |i| i.category == category)
    }

    /// Integrations counted per category, for stats.
    pub fn count_by_category(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for i in &self.integrations {
            *counts.entry(i.category.as_str()).or_default() += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalog_has_the_integrations_with_their_status() {
        let catalog = Catalog::get();
        let status = |id: &str| catalog.find(id).unwrap().status;
        for id in ["slack", "microsoft-teams", "trello", "google-calendar", "google-drive"] {
            assert_eq!(status(id), Availability::Available, "{id}");
        }
        assert_eq!(status("asana"), Availability::ComingSoon);
        assert_eq!(status("notion"), Availability::ComingSoon);
        assert_eq!(status("zapier"), Availability::Premium);
    }

    #[test]
    fn every_category_of_the_product_is_declared() {
        let ids: Vec<_> = Catalog::get().categories().iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            ["communication", "task-management", "calendar", "file-storage", "knowledge-base", "automation"]
        );
    }

    #[test]
    fn an_entry_in_an_unknown_category_is_rejected() {
        let json = CATALOG_JSON.replacen("\"category\": \"communication\"", "\"category\": \"chat\"", 1);
        assert!(matches!(Catalog::parse(&json), Err(CatalogError::Invalid { .. })));
    }

    #[test]
    fn a_credential_pattern_that_is_not_a_regex_is_rejected() {
        let json = CATALOG_JSON.replacen("^xox[bp]-", "^xox[bp-", 1);
        assert!(matches!(Catalog::parse(&json), Err(CatalogError::Invalid { .. })));
    }

    #[test]
    fn a_duplicate_id_is_rejected() {
        let json = CATALOG_JSON.replacen("\"id\": \"zapier\"", "\"id\": \"slack\"", 1);
        assert!(matches!(Catalog::parse(&json), Err(CatalogError::Invalid { .. })));
    }
}

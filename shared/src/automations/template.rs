//! Templated step fields, `{{ item.title }}` and `{{ steps.1.url }}`, rendered by minijinja in a
//! sandbox: no loader (no includes, no files), strict undefined values, a fuel limit on loops,
//! and a cap on the output. Names are checked when an automation is saved.

use std::sync::OnceLock;

use minijinja::{Environment, UndefinedBehavior, Value};

/// The most output one field may render to.
pub const MAX_RENDERED_CHARS: usize = 8_000;
/// The most template source one field may hold.
pub const MAX_SOURCE_CHARS: usize = 4_000;

/// The item fields a template may name after `item.`, as the item API shows them.
const ITEM_FIELDS: &[&str] = &[
    "itemId",
    "integrationId",
    "connectionId",
    "kind",
    "title",
    "url",
    "container",
    "status",
    "dueAt",
    "startAt",
    "updatedAt",
    "task",
    "event",
    "message",
    "file",
    "page",
];

/// What a step gives the steps after it, as `steps.N.<name>`.
pub const STEP_OUTPUTS: &[&str] = &["id", "url", "title"];

/// The names a template may start from, which depend on the trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    /// An item triggered the run (`item.…` is defined).
    pub item: bool,
    /// The step being checked, from 1: it may name the outputs of steps before it.
    pub step: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("the template is longer than {MAX_SOURCE_CHARS} characters")]
    TooLong,
    #[error("the template cannot be read: {detail}")]
    Syntax {
        detail: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("`{0}` is not something a template can use here")]
    Unknown(String),
    #[error("the template could not be filled in: {detail}")]
    Render {
        detail: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("the filled-in template is longer than {MAX_RENDERED_CHARS} characters")]
    TooLongRendered,
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.add_filter("shift_hours", shift_hours);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(20_000));
        env.set_recursion_limit(16);
        env
    })
}

/// `{{ item.dueAt | shift_hours(-1) }}`: a time (or a date, from its midnight UTC) moved by a
/// number of hours, as RFC 3339.
fn shift_hours(value: String, hours: i64) -> Result<String, minijinja::Error> {
    let when = crate::items::When::parse(&value).ok_or_else(|| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, format!("`{value}` is not a time"))
    })?;
    let shifted = when.instant() + chrono::Duration::hours(hours.clamp(-24 * 366, 24 * 366));
    Ok(shifted.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Checks a field's template when its automation is saved: it parses, and every name it uses
/// exists for this trigger and step.
pub fn check(source: &str, scope: Scope) -> Result<(), TemplateError> {
    if source.chars().count() > MAX_SOURCE_CHARS {
        return Err(TemplateError::TooLong);
    }
    let template = environment()
        .template_from_str(source)
        .map_err(|source| TemplateError::Syntax { detail: source.detail().unwrap_or_default().to_owned(), source })?;
    let mut names: Vec<String> = template.undeclared_variables(true).into_iter().collect();
    names.sort();
    for name in names {
        let mut parts = name.split('.');
        let known = match (parts.next(), parts.next(), parts.next()) {
            (Some("item"), Some(field), _) => scope.item && ITEM_FIELDS.contains(&field),
            (Some("item"), None, _) => scope.item,
            (Some("steps"), None, None) => {
                check_step_references(source, scope.step)?;
                true
            }
            (Some("now" | "automation"), _, _) => true,
            _ => false,
        };
        if !known {
            return Err(TemplateError::Unknown(name.chars().take(80).collect()));
        }
    }
    Ok(())
}

/// Every use of `steps` reads `steps.N.<output>` of a step before this one. (minijinja reports
/// `steps.1` as an index, not a name, so the references are read from the source.)
fn check_step_references(source: &str, step: usize) -> Result<(), TemplateError> {
    static REFERENCE: OnceLock<regex_lite::Regex> = OnceLock::new();
    let reference = REFERENCE
        .get_or_init(|| regex_lite::Regex::new(r"\bsteps(?:\.(\d+)\.([A-Za-z_]+)\b)?").expect("a valid pattern"));
    for found in reference.captures_iter(source) {
        let known = match (found.get(1), found.get(2)) {
            (Some(n), Some(output)) => {
                n.as_str().parse::<usize>().is_ok_and(|n| n >= 1 && n < step) && STEP_OUTPUTS.contains(&output.as_str())
            }
            _ => false,
        };
        if !known {
            return Err(TemplateError::Unknown(found[0].to_owned()));
        }
    }
    Ok(())
}

/// Fills in a template. `context` holds `item`, `steps` (a list whose entry N is step N's
/// outputs, entry 0 unused), `now` and `automation`.
pub fn render(source: &str, context: &Value) -> Result<String, TemplateError> {
    if !source.contains("{{") && !source.contains("{%") {
        return Ok(source.to_owned());
    }
    let out = environment().render_str(source, context).map_err(|source| TemplateError::Render {
        detail: source.detail().map(str::to_owned).unwrap_or_else(|| source.kind().to_string()),
        source,
    })?;
    if out.chars().count() > MAX_RENDERED_CHARS {
        return Err(TemplateError::TooLongRendered);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ITEM: Scope = Scope { item: true, step: 2 };

    #[test]
    fn names_are_checked_at_save_time() {
        check("Focus: {{ item.title }} (due {{ item.dueAt }})", ITEM).unwrap();
        check("{{ steps.1.url }} {{ now }}", ITEM).unwrap();
        check("{% if item.task.labels %}{{ item.task.labels | join(', ') }}{% endif %}", ITEM).unwrap();
        for (bad, scope) in [
            ("{{ item.titel }}", ITEM),
            ("{{ steps.2.url }}", ITEM),
            ("{{ steps.1.secret }}", ITEM),
            ("{{ env }}", ITEM),
            ("{{ item.title }}", Scope { item: false, step: 1 }),
        ] {
            assert!(matches!(check(bad, scope), Err(TemplateError::Unknown(_))), "{bad}");
        }
        assert!(matches!(check("{{ item.title ", ITEM), Err(TemplateError::Syntax { .. })));
        assert!(matches!(check(&"x".repeat(MAX_SOURCE_CHARS + 1), ITEM), Err(TemplateError::TooLong)));
    }

    #[test]
    fn rendering_is_sandboxed_and_bounded() {
        let context = Value::from(minijinja::value::Serde(serde_json::json!({
            "item": {"title": "Q4 report", "task": {"labels": ["a", "b"]}},
            "steps": [null, {"url": "https://trello.com/c/abc"}],
        })));
        assert_eq!(render("Block: {{ item.title }}", &context).unwrap(), "Block: Q4 report");
        assert_eq!(render("{{ steps.1.url }}", &context).unwrap(), "https://trello.com/c/abc");
        assert_eq!(render("plain text", &context).unwrap(), "plain text");
        let due = Value::from(minijinja::value::Serde(serde_json::json!({"item": {"dueAt": "2026-12-04T17:00:00Z"}})));
        assert_eq!(render("{{ item.dueAt | shift_hours(-1) }}", &due).unwrap(), "2026-12-04T16:00:00Z");
        assert!(matches!(render("{{ item.missing }}", &context), Err(TemplateError::Render { .. })));
        let endless = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
        assert!(render(endless, &context).is_err(), "fuel ends runaway loops");
        assert!(matches!(
            render("{% for i in range(900) %}0123456789{% endfor %}", &context),
            Err(TemplateError::TooLongRendered)
        ));
        assert!(render("{% include 'x' %}", &context).is_err(), "no loader: nothing to include");
    }
}

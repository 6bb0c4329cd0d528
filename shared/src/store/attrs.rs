//! Small helpers to read and write DynamoDB attribute maps.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::StoreError;

pub type Item = HashMap<String, AttributeValue>;

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn b(v: bool) -> AttributeValue {
    AttributeValue::Bool(v)
}

pub fn ts(v: DateTime<Utc>) -> AttributeValue {
    AttributeValue::S(v.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

fn corrupt(name: &str) -> StoreError {
    StoreError::Corrupt(format!("attribute `{name}` is missing or has the wrong type"))
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str).ok_or_else(|| corrupt(name))
}

pub fn opt_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

pub fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    opt_n(item, name).ok_or_else(|| corrupt(name))
}

pub fn opt_n<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|raw| raw.parse().ok())
}

pub fn get_b(item: &Item, name: &str) -> Result<bool, StoreError> {
    item.get(name).and_then(|v| v.as_bool().ok()).copied().ok_or_else(|| corrupt(name))
}

pub fn get_ts(item: &Item, name: &str) -> Result<DateTime<Utc>, StoreError> {
    opt_ts(item, name).ok_or_else(|| corrupt(name))
}

pub fn opt_ts(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    opt_s(item, name).and_then(|raw| DateTime::parse_from_rfc3339(raw).ok()).map(|t| t.with_timezone(&Utc))
}

/// Now, at the precision the store keeps (milliseconds), so what is returned equals what is read back.
pub fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(3)
}

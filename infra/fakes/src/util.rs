//! Small helpers shared by the provider modules: time formatting, ids, masking, responses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::Value;

/// `2024-01-15T10:20:30.123Z`, the format Trello, Asana and Notion use.
pub(crate) fn iso_ms(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 date-time or a plain `YYYY-MM-DD` date (midnight UTC).
pub(crate) fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|n| n.and_utc())
}

/// A deterministic 64-bit mix (SplitMix64), used to make ids look random but stay reproducible.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A version-4-shaped UUID derived from a sequence number.
pub(crate) fn uuid_from(seq: u64) -> String {
    let a = mix(seq);
    let b = mix(seq ^ 0xA5A5_A5A5_5A5A_5A5A);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | (b >> 48 & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// Base-62 string of `len` characters derived from `seed`.
pub(crate) fn short_code(seed: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut x = mix(seed);
    (0..len)
        .map(|i| {
            if i % 10 == 9 {
                x = mix(x);
            }
            let c = ALPHABET[(x % 62) as usize] as char;
            x /= 62;
            c
        })
        .collect()
}

/// A random-looking code of `len` base-62 characters, unique per `seq` (and per call, as the
/// clock is mixed in). Used for authorization codes and OAuth tokens.
pub(crate) fn random_code(seq: u64, len: usize) -> String {
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
    let mut out = String::with_capacity(len);
    let mut round = 0u64;
    while out.len() < len {
        out.push_str(&short_code(mix(seq) ^ mix(nanos.wrapping_add(round)), 10.min(len - out.len())));
        round += 1;
    }
    out
}

/// Decodes `%XX` escapes of a URL path segment (`19%3Aabc%40thread.tacv2` → `19:abc@thread.tacv2`);
/// invalid escapes are kept as they are.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Masks a secret for anything that is exposed (recorded requests, logs).
pub(crate) fn mask(secret: &str) -> String {
    let prefix: String = secret.chars().take(4).collect();
    format!("{prefix}****")
}

pub(crate) fn slug(title: &str) -> String {
    let mut out = String::new();
    for word in title.split(|c: char| !c.is_ascii_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(word);
    }
    out
}

pub(crate) fn b64_encode(s: &str) -> String {
    STANDARD.encode(s)
}

pub(crate) fn b64_decode(s: &str) -> Option<String> {
    STANDARD.decode(s.trim()).ok().and_then(|b| String::from_utf8(b).ok())
}

pub(crate) fn b64url_encode(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

pub(crate) fn b64url_decode(s: &str) -> Option<String> {
    URL_SAFE_NO_PAD.decode(s.trim()).ok().and_then(|b| String::from_utf8(b).ok())
}

/// Parses `a=1&b=2` (query strings and form bodies); never fails.
pub(crate) fn parse_pairs(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw).into_owned().collect()
}

pub(crate) fn encode_pairs(pairs: &[(String, String)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    ser.finish()
}

/// True for the usual spellings of a true boolean query parameter.
pub(crate) fn truthy(v: Option<&str>) -> bool {
    matches!(v.map(str::trim), Some("true" | "1" | "yes" | "True" | "TRUE"))
}

pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    resp
}

pub(crate) fn text_response(status: StatusCode, body: &str) -> Response {
    let mut resp = (status, body.to_owned()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

/// `302 Found` to `location`.
pub(crate) fn redirect(location: &str) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

pub(crate) fn with_retry_after(mut resp: Response, secs: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Keeps only the fields named in `fields` (plus those in `always`) of a JSON object.
pub(crate) fn project(obj: Value, fields: &[String], always: &[&str]) -> Value {
    match obj {
        Value::Object(map) => Value::Object(
            map.into_iter().filter(|(k, _)| always.contains(&k.as_str()) || fields.iter().any(|f| f == k)).collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_look_like_version_four_uuids() {
        let id = uuid_from(7);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(uuid_from(7), uuid_from(8));
    }

    #[test]
    fn dates_parse_in_both_accepted_forms() {
        assert!(parse_datetime("2024-01-02T03:04:05.678Z").is_some());
        assert!(parse_datetime("2024-01-02").is_some());
        assert!(parse_datetime("yesterday").is_none());
    }

    #[test]
    fn percent_escapes_in_path_segments_are_decoded() {
        assert_eq!(percent_decode("19%3Aabc%40thread.tacv2"), "19:abc@thread.tacv2");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn random_codes_have_the_asked_length_and_differ() {
        assert_eq!(random_code(1, 43).len(), 43);
        assert_ne!(random_code(1, 20), random_code(2, 20));
    }

    #[test]
    fn masking_never_reveals_more_than_four_characters() {
        assert_eq!(mask("xoxb-fake-demo"), "xoxb****");
        assert_eq!(mask("ab"), "ab****");
    }
}

//! Google's partial-response `fields` syntax: `kind,nextPageToken,files(id,name),file/id`, `*`.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    All,
    Some(Vec<(String, Selection)>),
}

/// Splits at commas outside parentheses; `None` if the parentheses do not balance.
fn split_top(spec: &str) -> Option<Vec<&str>> {
    let (mut depth, mut start, mut parts) = (0i32, 0, Vec::new());
    for (i, c) in spec.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            ',' if depth == 0 => {
                parts.push(&spec[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    (depth == 0).then(|| {
        parts.push(&spec[start..]);
        parts
    })
}

fn merge(into: &mut Vec<(String, Selection)>, name: String, sel: Selection) {
    match into.iter_mut().find(|(n, _)| *n == name) {
        Some((_, existing)) => match (existing, sel) {
            (Selection::All, _) => {}
            (e, Selection::All) => *e = Selection::All,
            (Selection::Some(a), Selection::Some(b)) => {
                for (n, s) in b {
                    merge(a, n, s);
                }
            }
        },
        None => into.push((name, sel)),
    }
}

pub(crate) fn parse(spec: &str) -> Option<Selection> {
    let mut out = Vec::new();
    for part in split_top(spec)? {
        let part = part.trim();
        if part.is_empty() {
            return None;
        }
        if part == "*" {
            return Some(Selection::All);
        }
        let (path, inner) = match part.find('(') {
            Some(i) if part.ends_with(')') => (&part[..i], Some(parse(&part[i + 1..part.len() - 1])?)),
            Some(_) => return None,
            None => (part, None),
        };
        let mut names: Vec<&str> = path.split('/').map(str::trim).collect();
        if names.iter().any(|n| n.is_empty()) {
            return None;
        }
        let mut sel = inner.unwrap_or(Selection::All);
        let first = names.remove(0);
        for name in names.into_iter().rev() {
            sel = if name == "*" { Selection::All } else { Selection::Some(vec![(name.to_owned(), sel)]) };
        }
        merge(&mut out, first.to_owned(), sel);
    }
    Some(Selection::Some(out))
}

pub(crate) fn apply(value: &Value, sel: &Selection) -> Value {
    match (value, sel) {
        (_, Selection::All) => value.clone(),
        (Value::Array(items), _) => Value::Array(items.iter().map(|i| apply(i, sel)).collect()),
        (Value::Object(map), Selection::Some(fields)) => {
            let mut out = Map::new();
            for (name, sub) in fields {
                if let Some(v) = map.get(name) {
                    out.insert(name.clone(), apply(v, sub));
                }
            }
            Value::Object(out)
        }
        (other, _) => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_and_slash_selections_keep_only_the_named_fields() {
        let body = json!({"kind": "k", "nextPageToken": "t", "files": [{"id": "1", "name": "a", "size": 3}],
                          "file": {"id": "9", "name": "b"}});
        let sel = parse("nextPageToken,files(id,name),file/id").unwrap();
        assert_eq!(
            apply(&body, &sel),
            json!({"nextPageToken": "t", "files": [{"id": "1", "name": "a"}], "file": {"id": "9"}})
        );
        assert_eq!(apply(&body, &parse("*").unwrap()), body);
        assert_eq!(parse("files(id"), None);
    }
}

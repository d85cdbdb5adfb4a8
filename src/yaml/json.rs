//! `-o json`: each document as one line of JSON, typed exactly as Kubernetes reads the YAML
//! (sigs.k8s.io/yaml `YAMLToJSON` over go-yaml v2).
//!
//! That means: plain scalars resolved by [`super::resolve::resolve_plain_11`]; quoted and
//! block scalars are strings; `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!binary`
//! tags applied the way go-yaml applies them; merge keys resolved (earlier sources win inside
//! a `<<: [..]` list, and entries are applied in document order, as go-yaml v2 does); keys
//! turned into strings (`true`, `1`, `1.5`); objects written with sorted keys and numbers
//! formatted as Go's `encoding/json` formats them (`1e+21`, `1`, `0.5`). A value Kubernetes
//! cannot represent (`.inf`, a null or `uint64` key) is an error, as it is for kubectl.

use std::collections::BTreeMap;

use super::resolve::{Plain, resolve_plain_11};
use super::{Node, Pos, Style, Value, is_merge_key};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg}")]
pub struct JsonError {
    pub pos: Pos,
    pub msg: String,
}

/// A JSON value as Kubernetes builds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

/// Converts a document to its Kubernetes JSON form.
pub fn to_json(node: &Node) -> Result<Json, JsonError> {
    Ok(match &node.value {
        Value::Scalar(_) => scalar(node)?,
        Value::Seq(items) => Json::Arr(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Value::Map(entries) => {
            let mut obj = BTreeMap::new();
            set_entries(entries, &mut obj)?;
            Json::Obj(obj)
        }
    })
}

/// Applies a mapping's entries to `obj` in order, as go-yaml v2's decoder does: a merge
/// sets the merged keys at the point where `<<` appears.
fn set_entries(
    entries: &[(Node, Node)],
    obj: &mut BTreeMap<String, Json>,
) -> Result<(), JsonError> {
    for (k, v) in entries {
        if is_merge_key(k) {
            match &v.value {
                Value::Map(m) => set_entries(m, obj)?,
                Value::Seq(items) => {
                    // Earlier mappings take precedence, so they are applied last.
                    for item in items.iter().rev() {
                        match &item.value {
                            Value::Map(m) => set_entries(m, obj)?,
                            _ => return Err(err(item.pos, "a merge (<<) list must hold mappings")),
                        }
                    }
                }
                Value::Scalar(_) => return Err(err(v.pos, "a merge (<<) needs a mapping")),
            }
            continue;
        }
        let key = key_string(k)?;
        obj.insert(key, to_json(v)?);
    }
    Ok(())
}

fn err(pos: Pos, msg: impl Into<String>) -> JsonError {
    JsonError {
        pos,
        msg: msg.into(),
    }
}

pub(crate) fn key_string(k: &Node) -> Result<String, JsonError> {
    match scalar_or_err(k)? {
        Json::Str(s) => Ok(s),
        Json::Int(i) => Ok(i.to_string()),
        Json::Bool(b) => Ok(b.to_string()),
        Json::Float(f) => Ok(go_float_key(f)),
        Json::Uint(_) | Json::Null => Err(err(
            k.pos,
            "this mapping key cannot be a JSON object key for Kubernetes",
        )),
        Json::Arr(_) | Json::Obj(_) => Err(err(k.pos, "a mapping key must be a scalar")),
    }
}

fn scalar_or_err(k: &Node) -> Result<Json, JsonError> {
    match &k.value {
        Value::Scalar(_) => scalar(k),
        _ => Err(err(k.pos, "a mapping key must be a scalar")),
    }
}

fn scalar(node: &Node) -> Result<Json, JsonError> {
    let Value::Scalar(s) = &node.value else {
        return to_json(node);
    };
    let plain = s.style == Style::Plain;
    let typed = |p: Plain| -> Result<Json, JsonError> {
        Ok(match p {
            Plain::Null => Json::Null,
            Plain::Bool(b) => Json::Bool(b),
            Plain::Int(i) => Json::Int(i),
            Plain::Uint(u) => Json::Uint(u),
            Plain::Float(f) if f.is_finite() => Json::Float(f),
            Plain::Float(_) => {
                return Err(err(
                    node.pos,
                    format!(
                        "{:?} (infinity or NaN) cannot be written as JSON; Kubernetes rejects it too",
                        s.value
                    ),
                ));
            }
            Plain::Str => Json::Str(s.value.to_string()),
        })
    };
    match node.tag() {
        None if plain => typed(resolve_plain_11(&s.value)),
        None => Ok(Json::Str(s.value.to_string())),
        Some("!!str") | Some("!!timestamp") => Ok(Json::Str(s.value.to_string())),
        Some("!!binary") => decode_base64(&s.value)
            .map(|b| Json::Str(String::from_utf8_lossy(&b).into_owned()))
            .ok_or_else(|| err(node.pos, "invalid !!binary (base64) value")),
        Some(tag @ ("!!int" | "!!float" | "!!bool" | "!!null")) => {
            let p = resolve_plain_11(&s.value);
            let ok = matches!(
                (tag, p),
                ("!!int", Plain::Int(_) | Plain::Uint(_))
                    | ("!!float", Plain::Float(_))
                    | ("!!bool", Plain::Bool(_))
                    | ("!!null", Plain::Null)
            );
            match (tag, p) {
                _ if ok => typed(p),
                // go-yaml accepts an integer under !!float and makes it a float.
                ("!!float", Plain::Int(i)) => Ok(Json::Float(i as f64)),
                _ => Err(err(node.pos, format!("cannot read {:?} as {tag}", s.value))),
            }
        }
        // Unknown and local tags: go-yaml keeps the text.
        Some(_) => Ok(Json::Str(s.value.to_string())),
    }
}

pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut pad = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                pad += 1;
                continue;
            }
            b'\n' | b'\r' => continue,
            _ => return None,
        };
        if pad > 0 {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`, which sigs.k8s.io/yaml uses for float keys.
fn go_float_key(f: f64) -> String {
    let f = f as f32;
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        format!("{f}")
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

/// Go's `encoding/json` float format.
fn go_float(f: f64) -> String {
    let abs = f.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        return format!("{f}");
    }
    let e = format!("{f:e}");
    match e.split_once('e') {
        Some((m, x)) if !x.starts_with('-') => format!("{m}e+{x}"),
        _ => e,
    }
}

impl Json {
    /// Compact JSON text.
    pub fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => out.push_str(&i.to_string()),
            Json::Uint(u) => out.push_str(&u.to_string()),
            Json::Float(f) => out.push_str(&go_float(*f)),
            Json::Str(s) => write_str(out, s),
            Json::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Json::Obj(m) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn write_str(out: &mut String, s: &str) {
    // serde_json's escaping is exact JSON; Go additionally escapes <, > and &, which JSON
    // readers treat the same.
    match serde_json::to_string(s) {
        Ok(text) => out.push_str(&text),
        Err(_) => out.push_str("\"\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse::{Limits, parse_stream};

    fn json(src: &str) -> String {
        let s = parse_stream(src, &Limits::default()).unwrap_or_default();
        let mut out = String::new();
        match to_json(&s.docs[0].root) {
            Ok(j) => j.write(&mut out),
            Err(e) => out = format!("error: {e}"),
        }
        out
    }

    // Expected outputs were produced by tests/tools/k8s-yaml (the Go reader).
    const CASES: &[(&str, &str)] = &[
        (
            "a: 0o17\nb: 08\nc: 2024-01-01\nd: 1_000\ne: 12345678901234567890\nf: 123456789012345678901234567890\ng: 1e3\n",
            r#"{"a":15,"b":8,"c":"2024-01-01","d":1000,"e":12345678901234567890,"f":1.2345678901234568e+29,"g":1000}"#,
        ),
        (
            "h: y\ni: 0b101\nj: .5\nk: +12\nl: 1:30\nn: 0x1F\no: -0b11\np: 1.0\nr: 0755\ns: \"x\"\nt: ~\nu: 3.0e+2\nw: -0\nx: 0.0\n",
            r#"{"false":31,"h":true,"i":5,"j":0.5,"k":12,"l":"1:30","o":-3,"p":1,"r":493,"s":"x","t":null,"u":300,"w":0,"x":0}"#,
        ),
        (
            "a: 1.5e3\nb: 1.0e+400\nc: 0.1\nd: 1e21\ne: 1e20\nf: 0.000001\ng: 0.0000001\nh: 100000000000000000000000\nj: -9223372036854775809\nk: 18446744073709551616\n",
            r#"{"a":1500,"b":"1.0e+400","c":0.1,"d":1e+21,"e":100000000000000000000,"f":0.000001,"g":1e-7,"h":1e+23,"j":-9223372036854776000,"k":18446744073709552000}"#,
        ),
        (
            "a: !!str 12\nb: !!int \"12\"\nc: !!float 1\nd: !foo bar\n",
            r#"{"a":"12","b":12,"c":1,"d":"bar"}"#,
        ),
        (
            "b: &b {x: 1, z: 2}\nm:\n  <<: *b\n  z: 3\n",
            r#"{"b":{"x":1,"z":2},"m":{"x":1,"z":3}}"#,
        ),
        (
            "m:\n  <<: [{x: 1}, {x: 2, z: 3}]\n",
            r#"{"m":{"x":1,"z":3}}"#,
        ),
        // `.inf` itself is refused by the parser (yaml::parse); quoted, it is text.
        ("a: '.inf'\n", r#"{"a":".inf"}"#),
        ("1: a\n1.5: b\n", r#"{"1":"a","1.5":"b"}"#),
        ("r: !!binary aGVsbG8=\n", r#"{"r":"hello"}"#),
    ];

    #[test]
    fn types_like_kubernetes() {
        for (src, want) in CASES {
            assert_eq!(&json(src), want, "{src}");
        }
    }
}

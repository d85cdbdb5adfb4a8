//! How Kubernetes types a plain scalar: go-yaml v2's `resolve` (YAML 1.1 rules), which
//! sigs.k8s.io/yaml uses for every manifest that kubectl, the API server and Argo CD read.
//!
//! This is the reference for `-o json` and for deciding whether a plain value is a string.
//! It follows go-yaml v2 (`resolve.go`) rule for rule, including its quirks: `08` is the float
//! 8, `0755` the octal 493, `1_000` is 1000, and a timestamp-like value stays a string when it
//! is decoded without a target type. The tests pin values checked against the real Go reader.

/// What a plain scalar is, as Kubernetes reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Plain {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str,
}

/// Resolves an untagged plain scalar the way go-yaml v2 does.
pub fn resolve_plain_11(s: &str) -> Plain {
    let Some(&first) = s.as_bytes().first() else {
        return Plain::Null;
    };
    let hint = match first {
        b'+' | b'-' | b'0'..=b'9' => b'D',
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => b'M',
        b'.' => b'.',
        _ => return Plain::Str,
    };
    if let Some(p) = special(s) {
        return p;
    }
    match hint {
        b'.' => dot_float(s).map_or(Plain::Str, Plain::Float),
        b'D' => {
            // go-yaml strips every underscore before trying numbers.
            let plain: String = s.chars().filter(|&c| c != '_').collect();
            if let Some(i) = go_parse_int(&plain) {
                return Plain::Int(i);
            }
            if let Some(u) = go_parse_uint(&plain) {
                return Plain::Uint(u);
            }
            if is_yaml_float(&plain) {
                if let Ok(f) = plain.parse::<f64>() {
                    if f.is_finite() {
                        return Plain::Float(f);
                    }
                }
            }
            if let Some(bits) = plain.strip_prefix("0b") {
                if let Some(u) = parse_digits(bits, 2) {
                    return i64::try_from(u).map_or(Plain::Uint(u), Plain::Int);
                }
            } else if let Some(bits) = plain.strip_prefix("-0b") {
                if let Some(u) = parse_digits(bits, 2) {
                    if let Ok(i) = i64::try_from(u) {
                        return Plain::Int(-i);
                    }
                }
            }
            Plain::Str
        }
        _ => Plain::Str,
    }
}

fn special(s: &str) -> Option<Plain> {
    Some(match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Plain::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Plain::Bool(false)
        }
        "~" | "null" | "Null" | "NULL" => Plain::Null,
        ".nan" | ".NaN" | ".NAN" => Plain::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Plain::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Plain::Float(f64::NEG_INFINITY),
        _ => return None,
    })
}

/// Go's `strconv.ParseFloat` on a value that starts with `.`: `.5`, `.5e3`.
fn dot_float(s: &str) -> Option<f64> {
    if !is_yaml_float(s) {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    } else {
        if !digits(&mut i) {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseUint(s, 0, 64)`: `0x`, `0o`, `0b` prefixes and a bare leading `0`
/// for octal.
pub fn go_parse_uint(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (base, digits) = if b[0] == b'0' && b.len() >= 3 {
        match b[1].to_ascii_lowercase() {
            b'x' => (16, &s[2..]),
            b'o' => (8, &s[2..]),
            b'b' => (2, &s[2..]),
            _ => (8, &s[1..]),
        }
    } else if b[0] == b'0' {
        (8, &s[1..])
    } else {
        (10, s)
    };
    if digits.is_empty() {
        // "0" is zero; "0x" and friends fall into the octal branch above and fail there.
        return (base == 8 && s == "0").then_some(0);
    }
    parse_digits(digits, base)
}

fn parse_digits(digits: &str, base: u32) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(36)?;
        if d >= base {
            return None;
        }
        n = n.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
pub fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let u = go_parse_uint(rest)?;
    if neg {
        if u <= 1 << 63 {
            Some((u as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(u).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each row was checked against tests/tools/k8s-yaml (sigs.k8s.io/yaml, go-yaml v2).
    const CASES: &[(&str, Plain)] = &[
        ("", Plain::Null),
        ("~", Plain::Null),
        ("Null", Plain::Null),
        ("nuLL", Plain::Str),
        ("y", Plain::Bool(true)),
        ("N", Plain::Bool(false)),
        ("Off", Plain::Bool(false)),
        ("tRue", Plain::Str),
        ("0o17", Plain::Int(15)),
        ("08", Plain::Float(8.0)),
        ("0755", Plain::Int(493)),
        ("1_000", Plain::Int(1000)),
        ("1__0", Plain::Int(10)),
        ("0x1F", Plain::Int(31)),
        ("0b101", Plain::Int(5)),
        ("-0b11", Plain::Int(-3)),
        ("+12", Plain::Int(12)),
        ("-0", Plain::Int(0)),
        (
            "12345678901234567890",
            Plain::Uint(12_345_678_901_234_567_890),
        ),
        (
            "123456789012345678901234567890",
            Plain::Float(1.234_567_890_123_456_8e29),
        ),
        ("-9223372036854775808", Plain::Int(i64::MIN)),
        ("1e3", Plain::Float(1000.0)),
        ("1.", Plain::Float(1.0)),
        (".5", Plain::Float(0.5)),
        ("-.5", Plain::Float(-0.5)),
        ("+.5e2", Plain::Float(50.0)),
        ("1.0e+400", Plain::Str),
        ("0xFFFFFFFFFFFFFFFFF", Plain::Str),
        ("0x", Plain::Str),
        ("0b", Plain::Str),
        ("0o8", Plain::Str),
        ("1e", Plain::Str),
        (".", Plain::Str),
        ("1:30", Plain::Str),
        ("2024-01-01", Plain::Str),
        ("=", Plain::Str),
        ("<<", Plain::Str),
        ("web", Plain::Str),
        ("-", Plain::Str),
        ("-x", Plain::Str),
        (".inf", Plain::Float(f64::INFINITY)),
        ("-.Inf", Plain::Float(f64::NEG_INFINITY)),
    ];

    #[test]
    fn resolves_like_go_yaml_v2() {
        for (text, want) in CASES {
            assert_eq!(resolve_plain_11(text), *want, "{text:?}");
        }
    }
}

//! Our YAML emitter: block style, two-space indentation, sequences indentless under mapping
//! keys (the way kubectl and Helm write them).
//!
//! Rules (from `yaml-libraries.md`, "What our own tree and emitter must do"):
//! - A scalar the program did not change is written as it was read: plain text byte for byte,
//!   quoted scalars with their original quotes and escapes, literal blocks as literal blocks
//!   with the right chomping and indentation indicator, folded blocks with their own lines.
//! - A string the program wrote ([`Style::Auto`]) stays plain only when no YAML 1.1 or 1.2
//!   reader could take it for anything but a string ([`plain_is_safe`]); otherwise it is
//!   double-quoted.
//! - Anything that cannot be written in its style (control characters, NEL, U+2028/9, a BOM,
//!   a line break in a single-quoted value) falls back to a double-quoted string with escapes,
//!   which every reader reads back identically.
//!
//! Recursion depth follows the tree's, which the parser caps at [`super::MAX_DEPTH`].

use std::fmt::Write as _;

use super::{Node, Scalar, Style, Value};

/// Writes one document (without a `---` separator) and a final newline.
pub fn emit_document(out: &mut String, root: &Node) {
    let mut e = Emitter { out };
    match &root.value {
        Value::Map(m) if !m.is_empty() && root.tag.is_none() => e.map_entries(m, 0, false),
        Value::Seq(s) if !s.is_empty() && root.tag.is_none() => e.seq_items(s, 0, false),
        _ => {
            // A scalar, an empty or a tagged collection at the root: written as after an
            // indicator, without the separating space.
            let start = e.out.len();
            e.value_after_indicator(root, 0, false);
            if e.out[start..].starts_with(' ') {
                e.out.remove(start);
            }
        }
    }
}

/// Writes a whole stream: documents separated by `---` lines.
pub fn emit_stream<'a>(docs: impl IntoIterator<Item = &'a Node>) -> String {
    let mut out = String::new();
    for (i, d) in docs.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        emit_document(&mut out, d);
    }
    out
}

struct Emitter<'o> {
    out: &'o mut String,
}

/// How a scalar will be written.
enum Repr<'s> {
    /// On the same line as its key or dash.
    Inline(std::borrow::Cow<'s, str>),
    /// A block scalar: header (`|-`, `>2+`, ...) and content lines.
    Block { header: String, lines: Vec<&'s str> },
}

impl Emitter<'_> {
    fn indent(&mut self, n: usize) {
        for _ in 0..n {
            self.out.push(' ');
        }
    }

    fn map_entries(&mut self, m: &[(Node, Node)], indent: usize, first_inline: bool) {
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 || !first_inline {
                self.indent(indent);
            }
            match simple_key(k) {
                Some(text) => {
                    self.out.push_str(&text);
                    self.out.push(':');
                }
                None => {
                    // A key that cannot be written on one line: explicit `? key` form.
                    self.out.push('?');
                    self.value_after_indicator(k, indent, true);
                    self.indent(indent);
                    self.out.push(':');
                }
            }
            self.value_after_indicator(v, indent, false);
        }
    }

    fn seq_items(&mut self, s: &[Node], indent: usize, first_inline: bool) {
        for (i, item) in s.iter().enumerate() {
            if i > 0 || !first_inline {
                self.indent(indent);
            }
            self.out.push('-');
            self.value_after_indicator(item, indent, true);
        }
    }

    /// Writes a node that follows `key:`, `-` or `?` at column `indent`. `in_seq` is true
    /// after `-` and `?`, where a nested collection starts on the same line.
    fn value_after_indicator(&mut self, v: &Node, indent: usize, in_seq: bool) {
        if let Some(tag) = &v.tag {
            self.out.push(' ');
            self.out.push_str(tag);
        }
        match &v.value {
            Value::Scalar(s) => match repr(s) {
                Repr::Inline(text) => {
                    if let Some(tag) = s.tag() {
                        self.out.push(' ');
                        self.out.push_str(tag);
                    }
                    if !text.is_empty() {
                        self.out.push(' ');
                        self.out.push_str(&text);
                    }
                    self.out.push('\n');
                }
                Repr::Block { header, lines } => {
                    if let Some(tag) = s.tag() {
                        self.out.push(' ');
                        self.out.push_str(tag);
                    }
                    self.out.push(' ');
                    self.out.push_str(&header);
                    self.out.push('\n');
                    for line in lines {
                        if !line.is_empty() {
                            self.indent(indent + 2);
                            self.out.push_str(line);
                        }
                        self.out.push('\n');
                    }
                }
            },
            Value::Map(m) if m.is_empty() => self.out.push_str(" {}\n"),
            Value::Seq(s) if s.is_empty() => self.out.push_str(" []\n"),
            Value::Map(m) => {
                if in_seq && v.tag.is_none() {
                    self.out.push(' ');
                    self.map_entries(m, indent + 2, true);
                } else {
                    self.out.push('\n');
                    self.map_entries(m, indent + 2, false);
                }
            }
            Value::Seq(s) => {
                if in_seq && v.tag.is_none() {
                    self.out.push(' ');
                    self.seq_items(s, indent + 2, true);
                } else if v.tag.is_some() {
                    self.out.push('\n');
                    self.seq_items(s, indent + 2, false);
                } else {
                    // Indentless, as kubectl writes sequences under mapping keys.
                    self.out.push('\n');
                    self.seq_items(s, indent, false);
                }
            }
        }
    }
}

/// A key written on one line (`name`, `"on"`, `'x'`), or `None` when it needs `? `.
fn simple_key(k: &Node) -> Option<std::borrow::Cow<'_, str>> {
    let Value::Scalar(s) = &k.value else {
        return None;
    };
    if k.tag.is_some() {
        return None;
    }
    let text = match repr(s) {
        Repr::Inline(t) => t,
        Repr::Block { .. } => std::borrow::Cow::Owned(double_quoted(&s.value)),
    };
    let text = match s.tag() {
        Some(tag) => std::borrow::Cow::Owned(format!("{tag} {text}")),
        None => text,
    };
    // An empty plain key is the null key; spell it out, since an implicit key cannot be empty.
    let text = if text.is_empty() {
        std::borrow::Cow::Borrowed("null")
    } else {
        text
    };
    // YAML limits implicit keys to 1024 characters.
    (text.len() <= 1024 && !text.contains('\n')).then_some(text)
}

fn repr(s: &Scalar) -> Repr<'_> {
    use std::borrow::Cow::{Borrowed, Owned};
    match s.style {
        Style::Plain => {
            if s.value.contains('\n') || !is_printable(&s.value) {
                Repr::Inline(Owned(double_quoted(&s.value)))
            } else {
                Repr::Inline(Borrowed(&s.value))
            }
        }
        Style::Single | Style::Double => {
            if let Some(raw) = s.raw() {
                return Repr::Inline(Borrowed(raw));
            }
            if s.style == Style::Single && !s.value.contains('\n') && is_printable(&s.value) {
                Repr::Inline(Owned(format!("'{}'", s.value.replace('\'', "''"))))
            } else {
                Repr::Inline(Owned(double_quoted(&s.value)))
            }
        }
        Style::Literal => {
            literal(&s.value).unwrap_or_else(|| Repr::Inline(Owned(double_quoted(&s.value))))
        }
        Style::Folded => match s.raw() {
            Some(raw) => folded(raw, &s.value),
            None => {
                literal(&s.value).unwrap_or_else(|| Repr::Inline(Owned(double_quoted(&s.value))))
            }
        },
        Style::Auto => {
            if plain_is_safe(&s.value) {
                Repr::Inline(Borrowed(&s.value))
            } else {
                Repr::Inline(Owned(double_quoted(&s.value)))
            }
        }
    }
}

/// Splits a block value into body and trailing line breaks, giving the chomping indicator.
fn chomp(value: &str) -> (&str, &'static str, usize) {
    let body = value.trim_end_matches('\n');
    let trailing = value.len() - body.len();
    let indicator = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    (body, indicator, trailing)
}

/// A literal block for `value`, or `None` when it cannot be one.
fn literal(value: &str) -> Option<Repr<'_>> {
    let (body, chomping, trailing) = chomp(value);
    if body.is_empty() && trailing > 0 {
        // Only line breaks: a block scalar would need trailing blank lines that some readers
        // drop (yaml-rust2 does); a double-quoted "\n" is unambiguous.
        return None;
    }
    if !is_printable(value) || value.contains('\r') {
        return None;
    }
    // Trailing spaces on the last line before a `|-` are content, and survive; but a body
    // whose first non-empty line starts with a space needs an indentation indicator.
    let first = body.split('\n').find(|l| !l.is_empty()).unwrap_or("");
    let indicator = if first.starts_with(' ') { "2" } else { "" };
    let mut lines: Vec<&str> = body.split('\n').collect();
    if body.is_empty() {
        lines.clear();
    }
    lines.extend(std::iter::repeat_n("", trailing.saturating_sub(1)));
    Some(Repr::Block {
        header: format!("|{indicator}{chomping}"),
        lines,
    })
}

/// A folded block from its kept source lines (already checked by the parser to read back as
/// `value`).
fn folded<'s>(raw: &'s str, value: &str) -> Repr<'s> {
    let (_, chomping, trailing) = chomp(value);
    let mut lines: Vec<&str> = raw.split('\n').collect();
    lines.extend(std::iter::repeat_n("", trailing.saturating_sub(1)));
    Repr::Block {
        header: format!(">{chomping}"),
        lines,
    }
}

/// Reads `body` back as the content of a `>` block with the chomping `value` needs, by
/// parsing it; `None` when it does not parse. The parser keeps a folded block's source lines
/// only when this gives back the value it read.
pub(crate) fn folded_value(body: &str, value: &str) -> Option<String> {
    let (_, chomping, trailing) = chomp(value);
    let mut doc = format!("k: >{chomping}\n");
    for line in body.split('\n') {
        if !line.is_empty() {
            doc.push_str("  ");
            doc.push_str(line);
        }
        doc.push('\n');
    }
    for _ in 1..trailing {
        doc.push('\n');
    }
    let mut parser = saphyr_parser::Parser::new_from_str(&doc);
    while let Some(Ok((ev, _))) = parser.next_event() {
        if let saphyr_parser::Event::Scalar(v, saphyr_parser::ScalarStyle::Folded, _, _) = ev {
            return Some(v.into_owned());
        }
    }
    None
}

/// Characters that YAML allows unescaped in quoted and block scalars, minus the ones that
/// YAML 1.1 readers treat as line breaks (NEL, U+2028, U+2029) and the BOM.
fn is_printable(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c,
            '\t' | '\n' | '\u{20}'..='\u{7e}'
            | '\u{a0}'..='\u{2027}' | '\u{202a}'..='\u{d7ff}' | '\u{e000}'..='\u{fefe}'
            | '\u{ff00}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}')
    })
}

/// A double-quoted scalar with every character a reader could misread escaped.
pub fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if (c as u32) < 0x20 || ('\u{7f}'..='\u{9f}').contains(&c) => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            '\u{feff}' | '\u{fffe}' | '\u{ffff}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether a string the program writes may stay plain: no YAML 1.1 or 1.2 reader may take it
/// for a null, a boolean, a number, a date, a merge key or a YAML indicator. Deliberately
/// conservative: it starts with a letter, holds only letters, digits and `-._/=,@+%` with
/// single inner spaces, and is not one of the YAML 1.1 boolean or null words.
pub fn plain_is_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !first.is_alphabetic() {
        return false;
    }
    if s.ends_with(' ') || s.contains("  ") {
        return false;
    }
    let word = s.to_ascii_lowercase();
    if matches!(
        word.as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
    ) {
        return false;
    }
    s.chars().all(|c| {
        c.is_alphanumeric()
            || matches!(c, '-' | '.' | '_' | '/' | '=' | ',' | '@' | '+' | '%' | ' ')
    }) && is_printable(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse::{Limits, parse_stream};

    fn roundtrip(src: &str) -> String {
        let s = parse_stream(src, &Limits::default()).unwrap_or_else(|e| panic!("{e}: {src}"));
        emit_stream(s.docs.iter().map(|d| &d.root))
    }

    /// Input, expected output.
    const CASES: &[(&str, &str)] = &[
        ("a: 1\nb: x\n", "a: 1\nb: x\n"),
        ("a: [1, 2]\nb: {c: d}\n", "a:\n- 1\n- 2\nb:\n  c: d\n"),
        ("a: []\nb: {}\nc:\n", "a: []\nb: {}\nc:\n"),
        (
            "- a: 1\n  b: 2\n- - x\n  - y\n",
            "- a: 1\n  b: 2\n- - x\n  - y\n",
        ),
        (
            "k: 'it''s'\nd: \"\\u00e9\\t\"\n",
            "k: 'it''s'\nd: \"\\u00e9\\t\"\n",
        ),
        ("k: |\n  a\n   b\n", "k: |\n  a\n   b\n"),
        ("k: |-\n  a\n", "k: |-\n  a\n"),
        ("k: |+\n  a\n\n\nn: 1\n", "k: |+\n  a\n\n\nn: 1\n"),
        ("k: |2\n    a\n  b\n", "k: |2\n    a\n  b\n"),
        (
            "k: >-\n  folded\n  text\n\n  para\n",
            "k: >-\n  folded\n  text\n\n  para\n",
        ),
        ("k: multi\n  line plain\n", "k: multi line plain\n"),
        ("k: \"multi\n  line\"\n", "k: \"multi line\"\n"),
        ("k: !!str 12\n", "k: !!str 12\n"),
        ("? [a, b]\n: c\n", "? - a\n  - b\n: c\n"),
        (
            "base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n",
            "base:\n  x: 1\nm:\n  <<:\n    x: 1\n  y: 2\n",
        ),
        ("\"on\": 'yes'\n", "\"on\": 'yes'\n"),
        (
            "k: \"\\x07 \\u0085 \\u2028\"\n",
            "k: \"\\x07 \\u0085 \\u2028\"\n",
        ),
    ];

    #[test]
    fn emits_table() {
        for (input, want) in CASES {
            assert_eq!(&roundtrip(input), want, "input: {input:?}");
        }
    }

    #[test]
    fn output_reads_back_the_same() {
        for (input, _) in CASES {
            let once = roundtrip(input);
            assert_eq!(roundtrip(&once), once, "not stable: {input:?}");
        }
    }

    #[test]
    fn new_strings_are_quoted_when_a_reader_could_misread_them() {
        for s in [
            "123",
            "y",
            "N",
            "yes",
            "Off",
            "true",
            "null",
            "~",
            "",
            "0755",
            "1e3",
            ".inf",
            "-x",
            "<<",
            "=",
            "a: b",
            "a #b",
            " lead",
            "trail ",
            "*x",
            "&x",
            "!x",
            "%x",
            "@x",
            "`x",
            "|x",
            ">x",
            "[x",
            "{x",
            "#x",
            "?x",
            ",x",
            "2024-01-01",
            "1:30",
            "a\nb",
        ] {
            assert!(!plain_is_safe(s), "{s:?} must be quoted");
        }
        for s in [
            "web",
            "web-pr-7",
            "shop.example.com",
            "gitops.io/app",
            "Prune=false,Delete=false",
        ] {
            assert!(plain_is_safe(s), "{s:?} may stay plain");
        }
    }

    #[test]
    fn changed_values_keep_or_fix_their_style() {
        let mut n = crate::yaml::Node::string("x");
        n.replace_str("123");
        assert_eq!(emit_stream([&n]), "\"123\"\n");
        let s = parse_stream("a: 'x'\nb: x\n", &Limits::default()).unwrap_or_default();
        let mut root = s.docs[0].root.clone();
        root.set_str("a", "it's", &[]);
        root.set_str("b", "true", &[]);
        assert_eq!(emit_stream([&root]), "a: 'it''s'\nb: \"true\"\n");
    }

    #[test]
    fn awkward_block_values_fall_back_to_double_quotes() {
        for v in ["\n", "\n\n", "a\rb", "a\u{85}b", "x\u{feff}"] {
            let mut n = crate::yaml::Node::string("");
            if let Value::Scalar(s) = &mut n.value {
                s.value = v.to_string();
                s.style = Style::Literal;
            }
            let text = emit_stream([&n]);
            assert!(text.starts_with('"'), "{v:?} -> {text}");
        }
    }
}

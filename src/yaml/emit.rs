//! Our YAML renderer, for what the program writes: new keys and values, a changed scalar,
//! an alias that must be expanded, a document with no source text (a preview's Namespace).
//! Everything the program did not change is copied from the input by [`super::splice`].
//!
//! Block style by default, with the surrounding document's indentation ([`Layout`]); flow
//! style inside flow collections. Rules (from `yaml-libraries.md`, "What our own tree and
//! emitter must do", and DESIGN.md §6):
//! - A scalar keeps its style: plain text byte for byte (double-quoted where a flow context
//!   forbids its characters, which only strings can hold), quoted scalars with their quotes,
//!   block scalars as literal blocks with the right chomping and indentation indicator.
//! - A string the program wrote ([`Style::Auto`]) stays plain only when no YAML 1.1 or 1.2
//!   reader could take it for anything but a string ([`plain_is_safe`]); otherwise it is
//!   double-quoted.
//! - Anything that cannot be written in its style (control characters, NEL, U+2028/9, a BOM,
//!   a line break in a single-quoted value) falls back to a double-quoted string with escapes,
//!   which every reader reads back identically.
//! - Nothing written can be read as anything else: no text at the start of a line is `---`,
//!   `...` or `%` (every plain scalar we write starts with a letter or is verbatim from a
//!   scalar that was not at a line start), tags are written with their URI escapes, anchors
//!   and aliases are never written.
//!
//! Recursion depth follows the tree's, which the parser caps at [`super::MAX_DEPTH`].

use std::fmt::Write as _;

use super::{Node, Scalar, Style, Value};

/// Indentation habits of the document an insertion goes into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Columns a nested mapping is indented by (2 in most manifests).
    pub step: usize,
    /// Columns a sequence under a mapping key is indented by (0: `key:\n- a`, as kubectl and
    /// Helm write them; 2: `key:\n  - a`).
    pub seq: usize,
}

impl Default for Layout {
    fn default() -> Self {
        Layout { step: 2, seq: 0 }
    }
}

/// Writes one document (without a `---` separator) and a final newline.
pub fn emit_document(out: &mut String, root: &Node) {
    let mut e = Emitter {
        out,
        layout: Layout::default(),
    };
    e.root(root);
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

/// Block mapping entries, one `key: value` per line at `indent`, each ending with a newline.
pub(crate) fn block_entries(
    out: &mut String,
    entries: &[(&Node, &Node)],
    indent: usize,
    layout: Layout,
) {
    let mut e = Emitter { out, layout };
    for (k, v) in entries {
        e.indent(indent);
        e.entry(k, v, indent);
    }
}

/// A value written after an indicator (`key:` or `-`) at column `indent`: ` text` for a
/// scalar or flow collection on the same line, or a line break and the indented block. It
/// ends with a newline.
pub(crate) fn block_value(out: &mut String, v: &Node, indent: usize, in_seq: bool, layout: Layout) {
    let mut e = Emitter { out, layout };
    e.value_after_indicator(v, indent, in_seq);
}

/// A node in flow style (`{a: b, c: [d]}`). With `json`, strings are double-quoted, as in the
/// JSON documents this goes into.
pub(crate) fn flow(out: &mut String, n: &Node, json: bool) {
    if let Some(tag) = n.tag() {
        write_tag(out, tag);
        out.push(' ');
    }
    match &n.value {
        Value::Scalar(s) => out.push_str(&inline_scalar(s, n.tag(), Ctx::Flow { json })),
        Value::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                flow(out, item, json);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                flow_key(out, k, json);
                out.push_str(": ");
                flow(out, v, json);
            }
            out.push('}');
        }
    }
}

/// A mapping key in flow style.
pub(crate) fn flow_key(out: &mut String, k: &Node, json: bool) {
    match &k.value {
        Value::Scalar(s) => {
            if let Some(tag) = k.tag() {
                write_tag(out, tag);
                out.push(' ');
            }
            out.push_str(&inline_scalar(s, k.tag(), Ctx::FlowKey { json }));
        }
        // A collection as a key: explicit form, valid in flow context too.
        _ => {
            out.push_str("? ");
            flow(out, k, json);
        }
    }
}

/// Where a scalar is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ctx {
    /// After `key:` or `-`, or a key, in block context.
    Block,
    /// Inside a flow collection; `json` when its strings are JSON strings.
    Flow {
        json: bool,
    },
    FlowKey {
        json: bool,
    },
}

/// A scalar on one line, in the given context (no tag: the caller writes it).
pub(crate) fn inline_scalar(s: &Scalar, tag: Option<&str>, ctx: Ctx) -> String {
    let flow = matches!(ctx, Ctx::Flow { .. } | Ctx::FlowKey { .. });
    let json = matches!(ctx, Ctx::Flow { json: true } | Ctx::FlowKey { json: true });
    match s.style {
        Style::Plain => {
            if s.value.is_empty() {
                return match (tag, flow) {
                    // The null a `key:` with nothing means.
                    (None, true) => "null".into(),
                    (None, false) => String::new(),
                    // Tagged, the empty text is a string: written so, not as "null".
                    (Some(_), _) => "\"\"".into(),
                };
            }
            let string = json
                && matches!(
                    super::resolve::resolve_plain_11(&s.value),
                    super::resolve::Plain::Str
                );
            // Text starting with `---` or `...` could land at the start of a line (a key at
            // the root): apimachinery's splitter would cut the stream there, so it is quoted
            // wherever it appears.
            let marker = s.value.starts_with("---") || s.value.starts_with("...");
            // `-`, `?` or `:` followed by a blank (or alone) starts an entry, not a scalar.
            let indicator = matches!(
                s.value.as_bytes(),
                [b'-' | b'?' | b':'] | [b'-' | b'?' | b':', b' ' | b'\t', ..]
            );
            let ok = !string
                && !marker
                && !indicator
                && !s.value.contains('\n')
                && is_printable(&s.value)
                && (!flow || flow_plain_ok(&s.value));
            if ok {
                s.value.to_string()
            } else {
                // Only strings hold line breaks or flow indicators: quoting keeps the type.
                double_quoted(&s.value)
            }
        }
        Style::Single if !json && !s.value.contains('\n') && is_printable(&s.value) => {
            format!("'{}'", s.value.replace('\'', "''"))
        }
        Style::Auto
            if !json
                && plain_is_safe(&s.value)
                && (!flow || flow_plain_ok(&s.value))
                && (tag.is_none() || tag == Some("!!str")) =>
        {
            s.value.to_string()
        }
        _ => double_quoted(&s.value),
    }
}

/// Plain text that a flow context reads the same: no flow indicators, no `: ` or ` #`, and
/// nothing a YAML 1.1 reader takes for an indicator there (`?` anywhere, a leading `:`).
fn flow_plain_ok(s: &str) -> bool {
    !s.contains([',', '[', ']', '{', '}', '?'])
        && !s.starts_with(':')
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
}

struct Emitter<'o> {
    out: &'o mut String,
    layout: Layout,
}

/// How a scalar will be written in block context.
enum Repr {
    /// On the same line as its key or dash.
    Inline(String),
    /// A block scalar: header (`|-`, `|2+`, ...) and content lines.
    Block { header: String, lines: Vec<String> },
}

impl Emitter<'_> {
    fn indent(&mut self, n: usize) {
        for _ in 0..n {
            self.out.push(' ');
        }
    }

    fn root(&mut self, root: &Node) {
        match &root.value {
            Value::Map(m) if !m.is_empty() && root.tag().is_none() => {
                for (k, v) in m {
                    self.entry(k, v, 0);
                }
            }
            Value::Seq(s) if !s.is_empty() && root.tag().is_none() => self.seq_items(s, 0, false),
            _ => {
                // A scalar, an empty or a tagged collection at the root: written as after an
                // indicator, without the separating space.
                let start = self.out.len();
                self.value_after_indicator(root, 0, false);
                if self.out[start..].starts_with(' ') {
                    self.out.remove(start);
                }
            }
        }
    }

    /// `key: value` at the current position (the indentation is written), ending with a newline.
    fn entry(&mut self, k: &Node, v: &Node, indent: usize) {
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

    fn map_entries(&mut self, m: &[(Node, Node)], indent: usize, first_inline: bool) {
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 || !first_inline {
                self.indent(indent);
            }
            self.entry(k, v, indent);
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
        if let Some(tag) = v.tag() {
            self.out.push(' ');
            write_tag(self.out, tag);
        }
        let step = self.layout.step.max(1);
        match &v.value {
            Value::Scalar(s) => match repr(s, v.tag()) {
                Repr::Inline(text) => {
                    if !text.is_empty() {
                        self.out.push(' ');
                        self.out.push_str(&text);
                    }
                    self.out.push('\n');
                }
                Repr::Block { header, lines } => {
                    self.out.push(' ');
                    self.out.push_str(&header);
                    self.out.push('\n');
                    for line in lines {
                        if !line.is_empty() {
                            self.indent(indent + step);
                            self.out.push_str(&line);
                        }
                        self.out.push('\n');
                    }
                }
            },
            Value::Map(m) if m.is_empty() => self.out.push_str(" {}\n"),
            Value::Seq(s) if s.is_empty() => self.out.push_str(" []\n"),
            Value::Map(m) => {
                if in_seq && v.tag().is_none() {
                    // `- key: value` with the following keys under the first one.
                    self.out.push(' ');
                    self.map_entries(m, indent + 2, true);
                } else {
                    self.out.push('\n');
                    self.map_entries(m, indent + step, false);
                }
            }
            Value::Seq(s) => {
                if in_seq && v.tag().is_none() {
                    self.out.push(' ');
                    self.seq_items(s, indent + 2, true);
                } else if v.tag().is_some() || in_seq {
                    self.out.push('\n');
                    self.seq_items(s, indent + step, false);
                } else {
                    self.out.push('\n');
                    self.seq_items(s, indent + self.layout.seq, false);
                }
            }
        }
    }
}

/// A key written on one line (`name`, `"on"`, `'x'`), or `None` when it needs `? `.
fn simple_key(k: &Node) -> Option<String> {
    let Value::Scalar(s) = &k.value else {
        return None;
    };
    let mut text = String::new();
    if let Some(tag) = k.tag() {
        write_tag(&mut text, tag);
        text.push(' ');
    }
    match repr(s, k.tag()) {
        Repr::Inline(t) if t.is_empty() => text.push_str("null"),
        Repr::Inline(t) => text.push_str(&t),
        Repr::Block { .. } => text.push_str(&double_quoted(&s.value)),
    }
    // A plain key cannot contain what ends a key in block context.
    if matches!(s.style, Style::Plain | Style::Auto)
        && (s.value.contains(": ") || s.value.contains(" #"))
    {
        return None;
    }
    // YAML limits implicit keys to 1024 characters.
    (text.len() <= 1024 && !text.contains('\n')).then_some(text)
}

fn repr(s: &Scalar, tag: Option<&str>) -> Repr {
    match s.style {
        Style::Literal | Style::Folded => {
            literal(&s.value).unwrap_or_else(|| Repr::Inline(double_quoted(&s.value)))
        }
        _ => Repr::Inline(inline_scalar(s, tag, Ctx::Block)),
    }
}

/// Writes a tag so that it reads back as the same tag: the YAML tags as `!!name`, local tags
/// as `!name`, others verbatim, with every character a reader could take for syntax
/// percent-escaped (the parser decoded the escapes of the input; writing the decoded text
/// back could put a line break or `---` into the output).
pub(crate) fn write_tag(out: &mut String, tag: &str) {
    if let Some(rest) = tag.strip_prefix("!!") {
        if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            out.push_str(tag);
        } else {
            out.push_str("!<");
            escape_uri(out, &format!("tag:yaml.org,2002:{rest}"), ",[]");
            out.push('>');
        }
    } else if let Some(uri) = tag.strip_prefix("!<").and_then(|t| t.strip_suffix('>')) {
        out.push_str("!<");
        escape_uri(out, uri, ",[]");
        out.push('>');
    } else if let Some(local) = tag.strip_prefix('!') {
        out.push('!');
        escape_uri(out, local, "");
    }
}

/// Percent-escapes a tag's characters, but for unreserved ones and `also` (brackets and
/// commas end a shorthand tag in flow context, not a verbatim `!<...>` one).
fn escape_uri(out: &mut String, s: &str, also: &str) {
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || "-_.~:/@;=+$?&'()*".contains(c) || also.contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
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
fn literal(value: &str) -> Option<Repr> {
    let (body, chomping, trailing) = chomp(value);
    if body.is_empty() {
        // Nothing but line breaks (or nothing): a block scalar would need trailing blank
        // lines that some readers drop; a double-quoted string is unambiguous.
        return None;
    }
    if !is_printable(value) || value.contains('\r') {
        return None;
    }
    // A body whose first line starts with a space needs an indentation indicator.
    let first = body.split('\n').find(|l| !l.is_empty()).unwrap_or("");
    let indicator = if first.starts_with(' ') { "2" } else { "" };
    let mut lines: Vec<String> = body.split('\n').map(str::to_string).collect();
    lines.extend(std::iter::repeat_n(
        String::new(),
        trailing.saturating_sub(1),
    ));
    Some(Repr::Block {
        header: format!("|{indicator}{chomping}"),
        lines,
    })
}

/// Characters that YAML allows unescaped in quoted and block scalars, minus the ones that
/// YAML 1.1 readers treat as line breaks (NEL, U+2028, U+2029) and the BOM.
pub(crate) fn is_printable(s: &str) -> bool {
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
    const WORDS: [&str; 9] = ["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    if s.len() <= 5 && WORDS.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        return false;
    }
    if s.is_ascii() {
        // The common case (names, label keys and values), byte by byte.
        return s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._/=,@+% ".contains(&b));
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

    fn fresh(src: &str) -> String {
        let s = parse_stream(src, &Limits::default()).unwrap_or_else(|e| panic!("{e}: {src}"));
        emit_stream(s.docs.iter().map(|d| &d.root))
    }

    /// Input, expected output of rendering the parsed tree anew.
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
            "k: 'it''s'\nd: \"é\\t\"\n",
        ),
        ("k: |\n  a\n   b\n", "k: |\n  a\n   b\n"),
        ("k: |-\n  a\n", "k: |-\n  a\n"),
        ("k: |+\n  a\n\n\nn: 1\n", "k: |+\n  a\n\n\nn: 1\n"),
        ("k: |2\n    a\n  b\n", "k: |2\n    a\n  b\n"),
        (
            "k: >-\n  folded\n  text\n\n  para\n",
            "k: |-\n  folded text\n  para\n",
        ),
        ("k: multi\n  line plain\n", "k: multi line plain\n"),
        ("k: \"multi\n  line\"\n", "k: \"multi line\"\n"),
        ("k: !!str 12\n", "k: !!str 12\n"),
        ("k: !<tag:x,1:a%0A--->\n", "k: !<tag:x,1:a%0A---> \"\"\n"),
        ("!x : b\n", "!x \"\": b\n"),
        ("\"on\": 'yes'\n", "\"on\": 'yes'\n"),
        ("k: \"\\x07 \\u0085 \\u2028\"\n", "k: \"\\a \\N \\L\"\n"),
        // Indented in the input, a key like a document marker lands at column 0 when written
        // anew: quoted, or every Kubernetes reader would split the stream there.
        ("  ---   name: http\n", "\"---   name\": http\n"),
        ("k: [--- x, ...y]\n", "k:\n- \"--- x\"\n- \"...y\"\n"),
        // Indicators a block context reads as the start of an entry.
        ("k: \"?\"\n", "k: \"?\"\n"),
        ("k: x?\n", "k: x?\n"),
    ];

    #[test]
    fn renders_table() {
        for (input, want) in CASES {
            assert_eq!(&fresh(input), want, "input: {input:?}");
        }
    }

    #[test]
    fn renders_read_back_the_same() {
        for (input, _) in CASES {
            let once = fresh(input);
            assert_eq!(fresh(&once), once, "not stable: {input:?}");
        }
    }

    #[test]
    fn flow_rendering_quotes_what_flow_context_forbids() {
        let n = crate::yaml::test_doc("a: x,y\nb: 1\nc: [p, 'q']\nd: |\n  l\ne:\n");
        let mut out = String::new();
        flow(&mut out, &n, false);
        assert_eq!(out, "{a: \"x,y\", b: 1, c: [p, 'q'], d: \"l\\n\", e: null}");
        // Plain in a block, these need quotes in a flow collection for a YAML 1.1 reader.
        let indicators = crate::yaml::test_doc("a: x?y\nb: :x\nc: x:y\n");
        let mut out = String::new();
        flow(&mut out, &indicators, false);
        assert_eq!(out, "{a: \"x?y\", b: \":x\", c: x:y}");
        let mut out = String::new();
        flow(&mut out, &n, true);
        assert_eq!(
            out,
            "{\"a\": \"x,y\", \"b\": 1, \"c\": [\"p\", \"q\"], \"d\": \"l\\n\", \"e\": null}"
        );
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
            "---",
            "...",
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
    fn awkward_block_values_fall_back_to_double_quotes() {
        for v in ["\n", "\n\n", "a\rb", "a\u{85}b", "x\u{feff}"] {
            let n = Node {
                value: Value::Scalar(Scalar {
                    value: v.into(),
                    style: Style::Literal,
                }),
                ..Node::string("")
            };
            let text = emit_stream([&n]);
            assert!(text.starts_with('"'), "{v:?} -> {text}");
        }
    }
}

//! Splitting a stream into documents exactly as Kubernetes does, and refusing text that
//! YAML readers could split or break differently.
//!
//! kubectl and Argo CD never hand a whole stream to a YAML parser: apimachinery's
//! `YAMLReader` first cuts it into documents at every line that starts with `---`, and each
//! piece is then read on its own (sigs.k8s.io/yaml, go-yaml v2), which keeps only the first
//! document of a piece. Since Kubernetes 1.22 a separator line may carry spaces and a
//! comment after the `---`; anything else after it is an error (kubernetes/kubernetes#103457).
//!
//! [`split`] cuts a file the same way, so the documents this program reasons about are the
//! pieces Kubernetes reads; the parser then checks that each piece holds at most one
//! document (a `...` followed by more content, or a document marker after a line break
//! apimachinery does not see, is refused there).
//!
//! Some characters are line breaks for one reader and not for another, which would let a
//! pull request hide a key or a document from us: NEL, U+2028 and U+2029 are line breaks
//! for go-yaml (YAML 1.1) and not for saphyr-parser (YAML 1.2); a carriage return that is not
//! followed by a line feed is a line break for YAML and not for apimachinery's line reader.
//! Written raw, they are refused (double-quoted scalars can carry them as `\N`, `\L`, `\P`,
//! `\r`). So is a byte order mark anywhere but at the start of the file, and a YAML directive
//! (`%TAG` can rename `!!` for one reader; apimachinery's splitting separates a directive
//! from its document).

use super::Pos;

/// One piece of a file, as Kubernetes splits it: `[start, end)` in bytes, where `body` is
/// the first byte after the separator line (`start` when the piece has none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub start: usize,
    pub body: usize,
    pub end: usize,
    /// Line number (1-based) of the piece's first byte.
    pub line: u32,
}

/// Why a file cannot be split the way every reader would.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg}")]
pub struct SplitError {
    pub pos: Pos,
    pub msg: String,
}

/// Cuts `text` into pieces at apimachinery's separator lines. The pieces cover the whole
/// text, in order, so joining them gives `text` back.
///
/// One pass over the bytes: a table marks the few bytes that need a look (line breaks, the
/// lead bytes of the characters refused, `-` and `%`), everything else is skipped.
pub fn split(text: &str) -> Result<Vec<Piece>, SplitError> {
    let bytes = text.as_bytes();
    let mut pieces = Vec::new();
    let (mut start, mut body, mut start_line) = (0, 0, 1);
    let mut line_start = 0;
    let mut line_no: u32 = 1;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i..].iter().position(|&b| NOTABLE[b as usize]) {
            Some(n) => i += n,
            None => break,
        }
        let b = bytes[i];
        if b == b'\n' {
            line_no += 1;
            line_start = i + 1;
            i += 1;
            continue;
        }
        if i == line_start && b == b'-' && bytes[i..].starts_with(b"---") {
            let line_end = bytes[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(bytes.len(), |n| i + n + 1);
            let line = &text[i..line_end];
            let trimmed = line[3..].trim_matches(go_space);
            if !trimmed.is_empty() && !trimmed.starts_with('#') {
                return Err(SplitError {
                    pos: Pos {
                        line: line_no,
                        col: 1,
                    },
                    msg: format!(
                        "a line that starts with \"---\" must be a document separator, with nothing after it but a comment; Kubernetes refuses {:?}",
                        truncate(line.trim_end())
                    ),
                });
            }
            // A file that starts with a separator has no piece before it.
            if i > 0 {
                pieces.push(Piece {
                    start,
                    body,
                    end: i,
                    line: start_line,
                });
            }
            start = i;
            body = line_end;
            start_line = line_no;
            // The rest of the line is checked like any text (a comment may hold anything
            // but the characters refused below).
            i += 3;
            continue;
        }
        if let Some(msg) = refused_at(bytes, i, line_start) {
            let col = text[line_start..i].chars().count() as u32 + 1;
            return Err(SplitError {
                pos: Pos { line: line_no, col },
                msg,
            });
        }
        i += 1;
    }
    pieces.push(Piece {
        start,
        body,
        end: bytes.len(),
        line: start_line,
    });
    Ok(pieces)
}

/// Bytes [`split`] looks at: line breaks, `-` (separators), `%` (directives), control
/// characters, and the first bytes of CR, NEL and the C1 controls (C2 80-9F), U+2028/U+2029
/// (E2 80 A8/A9), the BOM (EF BB BF) and U+FFFE/U+FFFF (EF BF BE/BF).
const NOTABLE: [bool; 256] = {
    let mut t = [false; 256];
    t[b'\n' as usize] = true;
    t[b'\r' as usize] = true;
    t[b'-' as usize] = true;
    t[b'%' as usize] = true;
    t[0xC2] = true;
    t[0xE2] = true;
    t[0xEF] = true;
    // C0 controls but TAB, LF and CR, and DEL.
    let mut c = 0;
    while c < 0x20 {
        if c != b'\t' as usize && c != b'\n' as usize && c != b'\r' as usize {
            t[c] = true;
        }
        c += 1;
    }
    t[0x7F] = true;
    t
};

/// Why the character at `i` is refused (module doc), if it is.
fn refused_at(bytes: &[u8], i: usize, line_start: usize) -> Option<String> {
    let next = |n: usize| bytes.get(i + n).copied();
    Some(match bytes[i] {
        b'\r' if next(1) != Some(b'\n') => {
            "a carriage return without a line feed is a line break for YAML but not for Kubernetes' document splitting; use \\n or \\r\\n line endings".to_string()
        }
        0xC2 if next(1) == Some(0x85) => line_break_message('\u{85}'),
        // go-yaml refuses raw control characters anywhere in a document ("control characters
        // are not allowed"), where saphyr-parser reads them: refused here, with a location.
        0x00..=0x08 | 0x0B | 0x0C | 0x0E..=0x1F | 0x7F => control_message(bytes[i] as char),
        0xC2 if next(1).is_some_and(|b| (0x80..=0x9F).contains(&b)) => {
            control_message(char::from_u32(0x40 + u32::from(next(1).unwrap_or(0))).unwrap_or('?'))
        }
        0xEF if next(1) == Some(0xBF) && matches!(next(2), Some(0xBE | 0xBF)) => {
            control_message(if next(2) == Some(0xBE) { '\u{fffe}' } else { '\u{ffff}' })
        }
        0xE2 if next(1) == Some(0x80) && next(2) == Some(0xA8) => line_break_message('\u{2028}'),
        0xE2 if next(1) == Some(0x80) && next(2) == Some(0xA9) => line_break_message('\u{2029}'),
        0xEF if i > 0 && next(1) == Some(0xBB) && next(2) == Some(0xBF) => {
            "a byte order mark may only start the file".to_string()
        }
        b'%' if i == line_start => {
            "YAML directives (%YAML, %TAG) are not supported: Kubernetes splits a stream into documents before it reads directives, and %TAG can make readers disagree on tags".to_string()
        }
        _ => return None,
    })
}

/// Go's `unicode.IsSpace`, which `strings.TrimSpace` uses.
fn go_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    ) || c.is_whitespace()
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

fn control_message(c: char) -> String {
    format!(
        "the control character U+{:04X} is refused by Kubernetes' reader; write it escaped in a double-quoted string",
        c as u32
    )
}

fn line_break_message(c: char) -> String {
    format!(
        "U+{:04X} is a line break for YAML 1.1 readers (Kubernetes) but not for YAML 1.2 ones; write it escaped in a double-quoted string",
        c as u32
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<(&str, &str)> {
        split(src)
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(|p| (&src[p.start..p.body], &src[p.body..p.end]))
            .collect()
    }

    #[test]
    fn splits_like_apimachinery() {
        // (input, pieces as (separator line, body))
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("a: 1\n", &[("", "a: 1\n")]),
            ("a: 1\n---\nb: 2\n", &[("", "a: 1\n"), ("---\n", "b: 2\n")]),
            ("---\na: 1\n", &[("---\n", "a: 1\n")]),
            (
                "a: 1\n--- # c\nb: 2",
                &[("", "a: 1\n"), ("--- # c\n", "b: 2")],
            ),
            ("a: 1\n---  \t\n", &[("", "a: 1\n"), ("---  \t\n", "")]),
            ("a: |\n  ---\n", &[("", "a: |\n  ---\n")]),
            (
                "a: 1\r\n---\r\nb: 2\r\n",
                &[("", "a: 1\r\n"), ("---\r\n", "b: 2\r\n")],
            ),
            ("", &[("", "")]),
        ];
        for (src, want) in cases {
            assert_eq!(&texts(src), want, "{src:?}");
            let joined: String = texts(src).iter().map(|(a, b)| format!("{a}{b}")).collect();
            assert_eq!(&joined, src);
        }
    }

    #[test]
    fn refuses_what_readers_disagree_on() {
        for (src, line) in [
            ("a: 1\n--- x: 1\n", 2),
            ("a: 1\n----\n", 2),
            ("a: 1\n---x\n", 2),
            ("a: 1\rb: 2\n", 1),
            ("a: x\u{2028}b: y\n", 1),
            ("a: x\u{85}\n", 1),
            ("a: 1\n\u{feff}b: 2\n", 2),
            ("%TAG !e! tag:yaml.org,2002:\n---\na: 1\n", 1),
            ("a: 1\nna\u{1}b: s\n", 2),
            ("a: x\u{7f}\n", 1),
            ("a: x\u{9b}\n", 1),
            ("a: x\u{ffff}\n", 1),
        ] {
            let e = split(src)
                .err()
                .unwrap_or_else(|| panic!("{src:?} accepted"));
            assert_eq!(e.pos.line, line, "{src:?}: {e}");
        }
        assert!(split("\u{feff}a: 1\n").is_ok());
        assert!(split("a: '50%'\nb: 100%\n").is_ok());
    }
}

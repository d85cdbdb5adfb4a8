//! Colour for people at a terminal: `diff` and `check` output painted with ANSI escapes when
//! stdout is a terminal and `NO_COLOR` is unset or empty (<https://no-color.org>), or when
//! `--color always` asks for it. Painting is a pass over finished text, so the plain text
//! (what pipes, files and tests get) is never affected.

use crate::cli::ColorChoice;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";

/// Whether to paint: `--color`, then `NO_COLOR`, `TERM=dumb` and whether stdout is a terminal.
pub fn enabled(choice: ColorChoice, stdout_is_terminal: bool, env: &[(String, String)]) -> bool {
    let var = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            stdout_is_terminal
                && var("NO_COLOR").is_none_or(str::is_empty)
                && var("TERM") != Some("dumb")
        }
    }
}

fn paint(out: &mut String, style: &str, text: &str) {
    out.push_str(style);
    out.push_str(text);
    out.push_str(RESET);
}

/// A unified diff: headers bold, hunks cyan, removals red, additions green, summaries dim.
pub fn diff(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let style = if body.starts_with("+++") || body.starts_with("---") {
            BOLD
        } else if body.starts_with("@@") {
            CYAN
        } else if body.starts_with('+') {
            GREEN
        } else if body.starts_with('-') {
            RED
        } else if body.starts_with('#') {
            DIM
        } else {
            ""
        };
        if style.is_empty() || body.is_empty() {
            out.push_str(body);
        } else {
            paint(&mut out, style, body);
        }
        out.push_str(nl);
    }
    out
}

/// One `check` finding line, `path:line:col: CODE message`: the location bold, the code
/// yellow.
pub fn finding(loc: &str, code: &str, msg: &str) -> String {
    let mut out = String::new();
    paint(&mut out, BOLD, &format!("{loc}:"));
    out.push(' ');
    paint(&mut out, YELLOW, code);
    out.push(' ');
    out.push_str(msg);
    out
}

/// `error:` in bold red, as clap writes it.
pub fn error_prefix(on: bool) -> String {
    if on {
        format!("{BOLD}{RED}error:{RESET}")
    } else {
        "error:".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lines_are_painted_by_their_first_character() {
        let text = "# identity: env dev -> prod\n--- dev: A/x\n+++ prod: A/x\n@@ -1 +1 @@\n-a: 1\n+a: 2\n b: 3\n";
        let painted = diff(text);
        let plain: String = painted
            .replace(RESET, "")
            .replace(BOLD, "")
            .replace(DIM, "")
            .replace(RED, "")
            .replace(GREEN, "")
            .replace(CYAN, "");
        assert_eq!(plain, text, "painting must not change the text");
        assert!(painted.contains(&format!("{RED}-a: 1{RESET}\n")));
        assert!(painted.contains(&format!("{GREEN}+a: 2{RESET}\n")));
        assert!(painted.contains("\n b: 3\n"));
    }

    #[test]
    fn no_color_and_dumb_terminals_switch_it_off() {
        let env = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert!(enabled(ColorChoice::Auto, true, &[]));
        assert!(!enabled(ColorChoice::Auto, false, &[]));
        assert!(!enabled(ColorChoice::Auto, true, &env("NO_COLOR", "1")));
        assert!(enabled(ColorChoice::Auto, true, &env("NO_COLOR", "")));
        assert!(!enabled(ColorChoice::Auto, true, &env("TERM", "dumb")));
        assert!(enabled(ColorChoice::Always, false, &env("NO_COLOR", "1")));
        assert!(!enabled(ColorChoice::Never, true, &[]));
    }
}

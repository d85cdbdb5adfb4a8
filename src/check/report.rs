//! `check -o`: findings as text (`path:line:col: CODE message`), JSON, SARIF 2.1.0 (GitHub
//! code scanning and other SARIF viewers) or GitHub Actions workflow commands (annotations on
//! the pull request's diff).

use serde_json::{Value, json};

use super::{Finding, RULES};
use crate::cli::CheckFormat;

/// The findings in a format; `color` paints the text format.
pub fn render(findings: &[Finding], format: CheckFormat, color: bool) -> String {
    match format {
        CheckFormat::Text => {
            let mut out = String::new();
            for f in findings {
                if color {
                    out.push_str(&crate::color::finding(&f.loc.to_string(), f.code, &f.msg));
                } else {
                    out.push_str(&f.to_string());
                }
                out.push('\n');
            }
            out
        }
        CheckFormat::Json => {
            let list: Vec<Value> = findings
                .iter()
                .map(|f| {
                    json!({
                        "file": &*f.loc.file,
                        "line": f.loc.pos.line,
                        "column": f.loc.pos.col,
                        "code": f.code,
                        "rule": rule_name(f.code),
                        "message": f.msg,
                    })
                })
                .collect();
            pretty(&json!({ "findings": list }))
        }
        CheckFormat::Sarif => pretty(&sarif(findings)),
        CheckFormat::Github => findings.iter().map(github).collect(),
    }
}

fn pretty(v: &Value) -> String {
    let mut text = serde_json::to_string_pretty(v).unwrap_or_default();
    text.push('\n');
    text
}

fn rule_name(code: &str) -> &'static str {
    RULES.iter().find(|r| r.code == code).map_or("", |r| r.name)
}

/// SARIF 2.1.0 (OASIS): one run, the rules as the driver's `rules`, each finding a `result`
/// at its file, line and column. Paths are written as relative URIs, as code scanning
/// resolves them against the checkout.
fn sarif(findings: &[Finding]) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.code,
                "name": r.name,
                "shortDescription": { "text": r.summary },
                "defaultConfiguration": { "level": "error" },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let index = RULES.iter().position(|r| r.code == f.code);
            json!({
                "ruleId": f.code,
                "ruleIndex": index,
                "level": "error",
                "message": { "text": f.msg },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(&f.loc.file) },
                        "region": {
                            "startLine": f.loc.pos.line.max(1),
                            "startColumn": f.loc.pos.col.max(1),
                        },
                    },
                }],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "kubectl-gitops",
                    "version": crate::version::VERSION,
                    "informationUri": "https://github.com/kubectl-gitops/kubectl-gitops",
                    "rules": rules,
                },
            },
            "results": results,
        }],
    })
}

/// A relative path as a URI reference: `/` kept, everything outside RFC 3986's unreserved
/// set percent-encoded.
fn uri(path: &str) -> String {
    let path = path.strip_prefix("./").unwrap_or(path);
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `::error file=F,line=L,col=C,title=T::MESSAGE`, escaped as GitHub's toolkit escapes
/// workflow commands (data: `%`, CR, LF; properties also `:` and `,`).
fn github(f: &Finding) -> String {
    let data = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let prop = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    format!(
        "::error file={},line={},col={},title={}::{}\n",
        prop(&f.loc.file),
        f.loc.pos.line,
        f.loc.pos.col,
        prop(&format!("{} {}", f.code, rule_name(f.code))),
        data(&f.msg)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Loc;
    use crate::yaml::Pos;

    fn finding(file: &str, msg: &str) -> Finding {
        Finding {
            loc: Loc::new(&std::sync::Arc::from(file), Pos { line: 3, col: 7 }),
            code: "KG004",
            msg: msg.into(),
        }
    }

    #[test]
    fn github_annotations_escape_data_and_properties() {
        let f = finding("a dir/x,y:z.yaml", "100% wrong\nsecond line");
        assert_eq!(
            github(&f),
            "::error file=a dir/x%2Cy%3Az.yaml,line=3,col=7,title=KG004 dangling-reference::100%25 wrong%0Asecond line\n"
        );
    }

    #[test]
    fn sarif_has_the_required_shape() {
        let v = sarif(&[finding("./k8s/a b.yaml", "m")]);
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "kubectl-gitops");
        assert_eq!(
            run["tool"]["driver"]["rules"].as_array().map(Vec::len),
            Some(RULES.len())
        );
        let r = &run["results"][0];
        assert_eq!(r["ruleId"], "KG004");
        assert_eq!(
            run["tool"]["driver"]["rules"][r["ruleIndex"].as_u64().unwrap_or(99) as usize]["id"],
            "KG004"
        );
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "k8s/a%20b.yaml");
        assert_eq!(loc["region"]["startLine"], 3);
        assert_eq!(loc["region"]["startColumn"], 7);
    }
}

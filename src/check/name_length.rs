//! KG001 `name-too-long`.
//!
//! ## What it finds
//! A name that is not valid for its kind as written (longer than the kind allows, or holding
//! characters a DNS name cannot: a `${PLACEHOLDER}` that nothing substitutes), and a name that
//! the preview suffix pushes over its kind's limit for some pull request number up to
//! `--max-pr`: previews then shorten it to `<head>-<hash><suffix>`. The same for names that
//! resources produce (connection Secrets) and for the preview namespace.
//!
//! ## Why
//! A name over 63 characters in a label value or a Service breaks the object in every
//! environment, and Kubernetes says so only at apply time. A shortened preview name still
//! works, but it no longer reads like the production one; better to know, and to choose a
//! shorter name, before the first pull request with a six-digit number.
//!
//! ## Example
//! ```yaml
//! kind: Service
//! metadata:
//!   name: a-really-long-service-name-for-the-payments-reconciler   # 54 characters
//! ```
//! `KG001 Service/a-really-long-...: with the preview suffix -pr-999999 the name has 64
//! characters, over the 63 a Service allows; previews shorten it to ...`

use super::{Facts, Finding, Rule};
use crate::naming::{self, NameRule};

pub const RULE: Rule = Rule {
    code: "KG001",
    name: "name-too-long",
    summary: "a name is invalid for its kind, or too long once the preview suffix is added",
    run,
};

fn run(f: &Facts, out: &mut Vec<Finding>) {
    for (i, o) in f.input.objects.iter().enumerate() {
        let Some(name) = &o.name else { continue };
        let rule = naming::rule_for(&o.gk, &f.classes[i]);
        if !rule.allows(name) {
            out.push(Finding {
                loc: o.loc_of(&["metadata", "name"]),
                code: RULE.code,
                msg: format!(
                    "{}: the name is not {}; every environment applies it as written",
                    o.label(),
                    rule.describe()
                ),
            });
        }
    }
    let Some(p) = f.preview() else { return };
    let Some(suffix) = p.ctx.suffix() else { return };
    let objects = p.analysis.input.objects.iter().zip(&f.input.objects);
    for (i, (now, before)) in objects.enumerate() {
        let (Some(orig), Some(current)) = (&before.name, now.current_name()) else {
            continue;
        };
        if current != orig && current != format!("{orig}{suffix}") {
            let rule = naming::rule_for(&before.gk, &f.classes[i]);
            out.push(Finding {
                loc: before.loc_of(&["metadata", "name"]),
                code: RULE.code,
                msg: format!(
                    "{}: with the preview suffix {suffix} the name has {} characters, over the {} a {} allows; previews shorten it to {current}",
                    before.label(),
                    orig.len() + suffix.len(),
                    rule.max(),
                    before.gk.kind
                ),
            });
        }
    }
    for prod in &p.analysis.renames.produced {
        if prod.final_name != prod.name && prod.final_name != format!("{}{suffix}", prod.name) {
            let producer = &f.input.objects[prod.producer];
            out.push(Finding {
                loc: prod.loc.clone(),
                code: RULE.code,
                msg: format!(
                    "{}: the {} {:?} it produces is over {} characters with the preview suffix {suffix}; previews shorten it to {}",
                    producer.label(),
                    prod.gk.kind,
                    prod.name,
                    NameRule::Subdomain { max: 253 }.max(),
                    prod.final_name
                ),
            });
        }
    }
    let template = p.ctx.identity.expand(&p.ctx.config.preview.namespace);
    if let Some(ns) = &p.ctx.identity.namespace {
        if *ns != template && template.len() > 63 {
            // gitops.yaml when there is one; else the first object, since the name comes
            // from the app name alone.
            let loc = if p.ctx.config.found {
                crate::model::Loc::file(&p.ctx.config.file)
            } else {
                match f.input.objects.first() {
                    Some(o) => o.loc(),
                    None => return,
                }
            };
            out.push(Finding {
                loc,
                code: RULE.code,
                msg: format!(
                    "the preview namespace {template} has {} characters, over the 63 a namespace allows; previews shorten it to {ns} (shorten app: or preview.namespace)",
                    template.len()
                ),
            });
        }
    }
}

//! KG002 `shared-connection-secret`.
//!
//! ## What it finds
//! Two claims or composite resources that write the same connection Secret in one namespace,
//! or a Secret in the input with the name of a connection Secret that Crossplane writes.
//!
//! ## Why
//! Crossplane refuses to take over a Secret another resource owns: the second claim never
//! becomes ready, with "existing secret is not owned by UID" or "cannot establish control of
//! existing connection secret". Two previews of the same app never clash (the name gets the
//! preview suffix), but two claims in one app, or a placeholder Secret, do.
//!
//! ## Example
//! `orders-db` and `orders-db-replica` both with `writeConnectionSecretToRef.name: orders-db`:
//! `KG002 in env prod: the Secret "orders-db" that PostgreSQLInstance/orders-db-replica
//! produces collides with ...`.

use super::{Facts, Finding, Rule};

pub const RULE: Rule = Rule {
    code: "KG002",
    name: "shared-connection-secret",
    summary: "two resources write the same connection Secret, or a Secret in the input has its name",
    run,
};

fn run(f: &Facts, out: &mut Vec<Finding>) {
    for r in &f.renderings {
        for c in &r.analysis.collisions {
            if !(c.first.produced || c.second.produced) {
                continue;
            }
            out.push(Finding {
                loc: c.second.loc.clone(),
                code: RULE.code,
                msg: format!(
                    "in {}: {} collides with {} at {}: both are {}; Crossplane lets one owner write a connection Secret, the other never becomes ready (give each its own writeConnectionSecretToRef.name)",
                    r.label, c.second.what, c.first.what, c.first.loc, c.id
                ),
            });
        }
    }
}

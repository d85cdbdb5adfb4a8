//! KG007 `preview-cluster-scoped`.
//!
//! ## What it finds
//! Objects a preview refuses: cluster-scoped objects whose kind `preview.allowClusterScoped`
//! does not list, and `Namespace` objects other than the preview's own.
//!
//! ## Why
//! A preview is a sandbox: everything it creates lives in its namespace and goes away with
//! it. A cluster-scoped object would be shared by every preview, and closing one pull request
//! would delete it for all (or for production). Rendering a preview fails on these; `check`
//! lists them all, with the gitops.yaml line that would allow each kind as a shared
//! definition.
//!
//! ## Example
//! `KG007 ClusterRole/metrics-reader is cluster-scoped, and a preview may only carry
//! namespaced objects ...; list ClusterRole.rbac.authorization.k8s.io under
//! preview.allowClusterScoped in gitops.yaml to allow it`.

use super::{Facts, Finding, Rule};
use crate::error::Error;

pub const RULE: Rule = Rule {
    code: "KG007",
    name: "preview-cluster-scoped",
    summary: "a preview would refuse a cluster-scoped object or another Namespace",
    run,
};

fn run(f: &Facts, out: &mut Vec<Finding>) {
    for r in f.renderings.iter().filter(|r| r.ctx.identity.is_preview()) {
        for e in &r.analysis.refusals {
            if let Error::Refused { loc, msg } = e {
                out.push(Finding {
                    loc: loc.clone(),
                    code: RULE.code,
                    msg: msg.clone(),
                });
            }
        }
    }
}

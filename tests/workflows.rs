//! End-to-end tests of the three GitOps workflows (issue 5, item 7) on real git repositories,
//! through the real binary.
//!
//! - **Promotion** (pattern 1): `infra-dev`, `infra-staging` and `infra-prod` hold
//!   `testdata/infra-dev`'s files, either as clones of dev (shared history: the promotion
//!   fast-forwards to the exact source commits) or as independent `git init` repositories
//!   (the promotion is a byte-for-byte copy). A new database claim travels dev -> staging ->
//!   prod; every step is checked for its branch, its commit and trailers, its tree against
//!   the source commit's, the untouched target checkout, and then the renders: the same
//!   environment renders identically from every repository, and two environments differ only
//!   in identity and in what gitops.yaml sets per environment (checked field by field with an
//!   independent YAML reader, and through `kubectl-gitops diff`).
//! - **Refusals**: a dirty target (modified, staged or untracked), an existing branch, a
//!   source or target outside git: exit 2, nothing on stdout, no branch.
//! - **Identity**: promote and preview commit on a machine without any git identity, and keep
//!   the one git is configured with.
//! - **Previews** (pattern 3): `preview up` of `testdata/my-microservice` into an `infra-pr`
//!   checkout (one file per object, equal to `render --pr`), idempotent; a second push updates
//!   the directory in place and drops removed objects; `preview list`; an ambiguous `preview
//!   down`; `preview down` leaves nothing behind; other work in the checkout is never
//!   committed.
//!
//! Each test has its own sandbox (see `support/workflow_sandbox.rs`): a temporary directory,
//! an empty `HOME`, no system git config, so the tests run in parallel and on a machine
//! without a git identity.

#![allow(clippy::unwrap_used)]

#[path = "support/workflow_sandbox.rs"]
mod sandbox;
#[path = "support/workflow_yaml.rs"]
mod yaml;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use sandbox::{BOT_EMAIL, BOT_NAME, Identity, Out, Sandbox};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// The `origin` of the environment repositories cloned from dev.
const STAGING_URL: &str = "git@example.com:orders/infra-staging.git";
const PROD_URL: &str = "git@example.com:orders/infra-prod.git";

/// The claim being promoted.
const PAYMENTS_DB: &str = "\
# PostgreSQL for the payments service.
apiVersion: database.platform.example.org/v1alpha1
kind: PostgreSQLInstance
metadata:
  name: payments-db
  labels:
    app.kubernetes.io/name: payments-db
    app.kubernetes.io/part-of: orders
spec:
  parameters:
    storageGB: 10
    version: \"16\"
    backupRetentionDays: 7
  compositionRef:
    name: postgres-aws
  writeConnectionSecretToRef:
    name: payments-db-connection
";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum History {
    /// infra-staging and infra-prod are clones of infra-dev.
    Shared,
    /// Three `git init` repositories with the same initial files and unrelated commits.
    Independent,
}

struct Envs {
    dev: PathBuf,
    staging: PathBuf,
    prod: PathBuf,
}

fn environments(sb: &Sandbox, history: History) -> Envs {
    let files = testdata("infra-dev");
    let dev = sb.init_repo("infra-dev", &files, "infra-dev: the orders environment");
    let (staging, prod) = match history {
        History::Shared => (
            sb.clone_repo(&dev, "infra-staging", STAGING_URL),
            sb.clone_repo(&dev, "infra-prod", PROD_URL),
        ),
        History::Independent => (
            sb.init_repo(
                "infra-staging",
                &files,
                "infra-staging: the orders environment",
            ),
            sb.init_repo("infra-prod", &files, "infra-prod: the orders environment"),
        ),
    };
    let heads = [sb.head(&dev), sb.head(&staging), sb.head(&prod)];
    match history {
        History::Shared => assert!(heads.iter().all(|h| *h == heads[0])),
        History::Independent => {
            assert!(heads[0] != heads[1] && heads[1] != heads[2] && heads[0] != heads[2]);
        }
    }
    Envs { dev, staging, prod }
}

/// Adds the payments-db claim to dev and commits; returns the commit.
fn add_payments_db(sb: &Sandbox, dev: &Path) -> String {
    fs::write(dev.join("databases/payments-db.yaml"), PAYMENTS_DB).unwrap();
    sb.commit_all(dev, "databases: payments-db for the payments service")
}

fn display(p: &Path) -> String {
    p.canonicalize().unwrap().display().to_string()
}

// ---------------------------------------------------------------------------------------------
// Promotion checks
// ---------------------------------------------------------------------------------------------

struct Promotion {
    branch: String,
    commit: String,
    out: Out,
}

/// Runs `promote` with `args` (release bot identity) and reads the branch and commit it
/// reports.
fn promote(sb: &Sandbox, args: &[&str]) -> Promotion {
    promote_as(sb, Identity::Env, args)
}

fn promote_as(sb: &Sandbox, identity: Identity, args: &[&str]) -> Promotion {
    let mut argv = vec!["promote"];
    argv.extend_from_slice(args);
    let out = sb.kg_as(identity, &argv);
    out.ok();
    Promotion {
        branch: out.report_value("branch"),
        commit: out.report_value("commit"),
        out,
    }
}

/// How a promotion carries the source's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum How {
    /// The exact source commits and an empty trailer commit.
    FastForward,
    /// One commit on the target's HEAD making the path the source's (no own changes).
    Copy,
    /// `--force`: the same, whatever the target changed.
    Mirror,
    /// One commit on the target's HEAD merging the source's changes into the target's own.
    Merge,
}

/// What a promotion must have done.
struct Expect<'a> {
    source: &'a Path,
    source_commit: &'a str,
    path: &'a str,
    repo_trailer: String,
    how: How,
    author: &'a str,
}

fn is_sha(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The trailers of a commit, in order.
fn trailers(sb: &Sandbox, repo: &Path, rev: &str) -> Vec<(String, String)> {
    sb.git(
        repo,
        &["log", "-1", "--format=%(trailers:only,unfold)", rev, "--"],
    )
    .lines()
    .filter(|l| !l.is_empty())
    .map(|l| {
        let (k, v) = l.split_once(": ").unwrap();
        (k.to_string(), v.to_string())
    })
    .collect()
}

/// Checks a promotion into `target`, whose HEAD was `base` before it.
fn assert_promotion(sb: &Sandbox, target: &Path, base: &str, p: &Promotion, e: &Expect<'_>) {
    let out = &p.out;
    // The branch exists and is the reported commit.
    assert!(is_sha(&p.commit), "{out}");
    assert!(
        sb.branches(target).contains(&p.branch),
        "no branch {} in {}{out}",
        p.branch,
        target.display()
    );
    assert_eq!(
        sb.git(target, &["rev-parse", &format!("refs/heads/{}", p.branch)]),
        p.commit
    );
    // The checkout stays where it was, clean, without leftover worktrees.
    assert_eq!(sb.git(target, &["symbolic-ref", "--short", "HEAD"]), "main");
    assert_eq!(sb.head(target), base, "the target's HEAD moved{out}");
    assert_eq!(sb.status(target), "", "the target's checkout changed{out}");
    assert_eq!(sb.worktrees(target), 1, "a worktree was left behind{out}");
    assert_eq!(
        fs::read_dir(sb.tmp()).unwrap().count(),
        0,
        "temporary files were left behind{out}"
    );
    // The audit trail.
    let t = trailers(sb, target, &p.branch);
    let keys: Vec<&str> = t.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "Promoted-from-repo",
            "Promoted-from-commit",
            "Promoted-from-path"
        ],
        "{t:?}"
    );
    assert_eq!(t[0].1, e.repo_trailer);
    assert!(is_sha(&t[1].1), "not 40 hex digits: {:?}", t[1].1);
    assert_eq!(t[1].1, e.source_commit);
    assert_eq!(t[2].1, e.path);
    assert_eq!(
        sb.git(target, &["log", "-1", "--format=%an <%ae>", &p.branch]),
        e.author
    );
    // The promoted path is the source commit's, byte for byte (blob ids and modes), unless
    // the target's own changes were merged in ...
    if e.how != How::Merge {
        assert_eq!(
            sb.tree_listing(target, &p.branch, e.path),
            sb.tree_listing(e.source, e.source_commit, e.path),
            "the promoted tree differs from the source commit's"
        );
    }
    // ... no conflict marker is ever written ...
    assert_eq!(
        sb.git_out(target, &["grep", "-l", "-e", "^<<<<<<< ", &p.branch, "--"]),
        "",
        "conflict markers in the branch"
    );
    // ... and nothing outside it changed.
    for change in sb.changes(target, base, &p.branch) {
        let file = change.split_once('\t').unwrap().1;
        assert!(
            e.path == "." || file.starts_with(&format!("{}/", e.path)),
            "{file} changed outside {}",
            e.path
        );
    }
    let parent = sb.git(target, &["rev-parse", &format!("{}^", p.branch)]);
    if e.how == How::FastForward {
        assert!(
            out.stdout.contains("as the exact commits (fast-forward)"),
            "{out}"
        );
        // The exact source commit, with an empty commit on top that carries the trailers.
        assert_eq!(parent, e.source_commit);
        assert!(sb.git_ok(
            target,
            &["merge-base", "--is-ancestor", e.source_commit, &p.branch]
        ));
        assert_eq!(
            sb.git(
                target,
                &[
                    "diff-tree",
                    "--no-commit-id",
                    "-r",
                    "--name-only",
                    &p.branch
                ]
            ),
            "",
            "the trailer commit should change nothing"
        );
        let source_commits = sb.git(
            e.source,
            &["rev-list", &format!("{base}..{}", e.source_commit)],
        );
        let branch_commits = sb.git(target, &["rev-list", &format!("{base}..{}", p.branch)]);
        assert_eq!(branch_commits, format!("{}\n{source_commits}", p.commit));
    } else {
        let said = match e.how {
            How::Copy => "as a copy",
            How::Mirror => "as an exact mirror (--force)",
            _ => "as a three-way merge",
        };
        assert!(out.stdout.lines().next().unwrap().contains(said), "{out}");
        assert_eq!(parent, base, "a copy is one commit on the target's HEAD");
        // A copy does not bring the source's commits (unless the target had them already,
        // as for a rollback to a commit promoted before).
        if !sb.git_ok(
            target,
            &["merge-base", "--is-ancestor", e.source_commit, base],
        ) {
            assert!(!sb.git_ok(
                target,
                &["merge-base", "--is-ancestor", e.source_commit, &p.branch]
            ));
        }
    }
    // How to open the pull request.
    assert!(
        out.stdout.contains(&format!(
            "git -C {} push origin {}",
            display(target),
            p.branch
        )),
        "{out}"
    );
    assert!(
        out.stdout.contains("gh pr create")
            && out
                .stdout
                .contains(&format!("--head {} --base main", p.branch)),
        "{out}"
    );
}

/// Merges a promotion branch as a pull request would: fast-forward for shared history, a
/// merge commit otherwise.
fn merge(sb: &Sandbox, target: &Path, branch: &str, history: History) -> String {
    match history {
        History::Shared => sb.git(target, &["merge", "-q", "--ff-only", branch]),
        History::Independent => sb.git(
            target,
            &[
                "merge",
                "-q",
                "--no-ff",
                "-m",
                "Merge the promotion",
                branch,
            ],
        ),
    };
    assert_eq!(sb.status(target), "");
    sb.head(target)
}

// ---------------------------------------------------------------------------------------------
// Render checks
// ---------------------------------------------------------------------------------------------

fn render(sb: &Sandbox, repo: &str, env: &str) -> String {
    let out = sb.kg(&["render", repo, "--env", env]);
    out.ok();
    assert_eq!(out.stderr, "", "{out}");
    out.stdout
}

/// The objects of a render with its identity replaced by placeholders: the namespace (where
/// it is the environment's) and the env label. Every object must carry that identity.
fn normalised(text: &str, namespace: &str, env: &str) -> BTreeMap<String, yaml::Flat> {
    let mut objects = yaml::objects(text);
    for (key, o) in &mut objects {
        assert_eq!(o["metadata.namespace"], namespace, "{key}");
        assert_eq!(o["metadata.labels[kubectl-gitops.io/env]"], env, "{key}");
        for (path, value) in o.iter_mut() {
            let last = path.rsplit('.').next().unwrap();
            if last == "namespace" && value == namespace {
                *value = "<namespace>".into();
            } else if path.ends_with("[kubectl-gitops.io/env]") {
                *value = "<env>".into();
            }
        }
    }
    objects
}

fn change(object: &str, path: &str, before: Option<&str>, after: Option<&str>) -> yaml::Change {
    (
        object.into(),
        path.into(),
        before.map(str::to_string),
        after.map(str::to_string),
    )
}

/// The lines of a `diff` output that add or remove something, sorted.
fn change_lines(diff: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = diff
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++ ")
                && !l.starts_with("--- ")
        })
        .collect();
    lines.sort_unstable();
    lines
}

/// The objects a `diff` output shows (its `--- <label>: Kind/name` lines).
fn diff_objects<'a>(diff: &'a str, label: &str) -> Vec<&'a str> {
    let prefix = format!("--- {label}: ");
    diff.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect()
}

const CLAIMS: [&str; 2] = [
    "PostgreSQLInstance/orders-db",
    "PostgreSQLInstance/payments-db",
];

/// After the promotions: every repository renders every environment identically, and each
/// repository rendered as its own environment differs from the previous one only in
/// identity and in what testdata/infra-dev/gitops.yaml sets per environment (staging:
/// `claims.parameters.storageGB: 50`; prod: `storageGB: 100`, `compositionRef:
/// postgres-aws-ha`, `protect: true`).
fn assert_renders(sb: &Sandbox) {
    let repos = ["infra-dev", "infra-staging", "infra-prod"];
    for env in ["dev", "staging", "prod"] {
        let renders: Vec<String> = repos.iter().map(|r| render(sb, r, env)).collect();
        assert_eq!(renders[0], renders[1], "{env}: infra-dev and infra-staging");
        assert_eq!(renders[0], renders[2], "{env}: infra-dev and infra-prod");
    }

    let dev = normalised(&render(sb, "infra-dev", "dev"), "orders-dev", "dev");
    let staging = normalised(
        &render(sb, "infra-staging", "staging"),
        "orders-staging",
        "staging",
    );
    let prod = normalised(&render(sb, "infra-prod", "prod"), "orders", "prod");
    assert_eq!(
        dev.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "Deployment/orders-api",
            "HorizontalPodAutoscaler/orders-api",
            "PodDisruptionBudget/orders-api",
            "PostgreSQLInstance/orders-db",
            "PostgreSQLInstance/payments-db",
            "Service/orders-api",
        ]
    );
    assert_eq!(
        dev["PostgreSQLInstance/payments-db"]["spec.writeConnectionSecretToRef.name"],
        "payments-db-connection"
    );
    assert_eq!(
        yaml::changes(&dev, &staging),
        [
            change(
                CLAIMS[0],
                "spec.parameters.storageGB",
                Some("20"),
                Some("50")
            ),
            change(
                CLAIMS[1],
                "spec.parameters.storageGB",
                Some("10"),
                Some("50")
            ),
        ],
        "dev -> staging"
    );
    let mut expected = Vec::new();
    for claim in CLAIMS {
        expected.extend([
            change(
                claim,
                "metadata.annotations[argocd.argoproj.io/sync-options]",
                None,
                Some("Prune=false,Delete=false"),
            ),
            change(
                claim,
                "spec.compositionRef.name",
                Some("postgres-aws"),
                Some("postgres-aws-ha"),
            ),
            change(claim, "spec.parameters.storageGB", Some("50"), Some("100")),
        ]);
    }
    assert_eq!(yaml::changes(&staging, &prod), expected, "staging -> prod");

    // `diff` prints exactly those differences and exits 1.
    let d = sb.kg(&[
        "diff",
        "infra-prod",
        "--from-env",
        "dev",
        "--to-env",
        "staging",
    ]);
    assert_eq!(d.code, Some(1), "{d}");
    assert_eq!(
        d.stdout.lines().next().unwrap(),
        "# identity: namespace orders-dev -> orders-staging, env dev -> staging"
    );
    assert_eq!(diff_objects(&d.stdout, "dev"), CLAIMS);
    assert_eq!(
        change_lines(&d.stdout),
        [
            "+    storageGB: 50",
            "+    storageGB: 50",
            "-    storageGB: 10",
            "-    storageGB: 20",
        ]
    );
    assert_eq!(
        d.stdout.lines().last().unwrap(),
        "# 4 of 6 objects differ only in identity"
    );

    let d = sb.kg(&[
        "diff",
        "infra-prod",
        "--from-env",
        "staging",
        "--to-env",
        "prod",
    ]);
    assert_eq!(d.code, Some(1), "{d}");
    assert_eq!(
        d.stdout.lines().next().unwrap(),
        "# identity: namespace orders-staging -> orders, env staging -> prod"
    );
    assert_eq!(diff_objects(&d.stdout, "staging"), CLAIMS);
    let mut expected = Vec::new();
    for _ in CLAIMS {
        expected.extend([
            "+  annotations:",
            "+    argocd.argoproj.io/sync-options: Prune=false,Delete=false",
            "-    name: postgres-aws",
            "+    name: postgres-aws-ha",
            "-    storageGB: 50",
            "+    storageGB: 100",
        ]);
    }
    expected.sort_unstable();
    assert_eq!(change_lines(&d.stdout), expected);

    // The same environment on both sides: identity only, exit 0.
    for (repo, env) in repos.iter().zip(["dev", "staging", "prod"]) {
        let d = sb.kg(&["diff", repo, "--from-env", env, "--to-env", env]);
        assert_eq!(d.code, Some(0), "{d}");
        assert_eq!(
            d.stdout,
            "# identity: the same on both sides\n\
             # 6 of 6 objects differ only in identity; nothing else differs\n"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Pattern 1: promotion dev -> staging -> prod
// ---------------------------------------------------------------------------------------------

/// The section of a promotion report under `heading` (up to the next blank line).
fn section<'a>(report: &'a str, heading: &str) -> &'a str {
    let start = report
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?} in the report:\n{report}"));
    let rest = &report[start + heading.len()..];
    rest.split("\n\n").next().unwrap().trim_end()
}

/// The lines a unified diff adds to the object shown as `+++ <label>: <object>`, without
/// their `+`.
fn added_text(diff: &str, label: &str, object: &str) -> String {
    let header = format!("+++ {label}: {object}\n");
    let start = diff
        .find(&header)
        .unwrap_or_else(|| panic!("no {header:?} in:\n{diff}"));
    let mut text = String::new();
    for line in diff[start + header.len()..].lines() {
        if line.starts_with("--- ") || line.starts_with("# ") {
            break;
        }
        if let Some(l) = line.strip_prefix('+') {
            text.push_str(l);
            text.push('\n');
        }
    }
    text
}

/// The first promotion between repositories without a recorded promotion and without
/// shared history is refused unless --force.
fn assert_first_promotion_needs_force(sb: &Sandbox, from: &str, to: &Path) {
    let fingerprint = sb.fingerprint(to);
    let out = sb.kg(&["promote", "--from", from, "--to", to.to_str().unwrap()]);
    out.refused(&["share no history", "--force", "Promoted-from-commit"]);
    assert_eq!(
        sb.fingerprint(to),
        fingerprint,
        "the refusal wrote something"
    );
}

fn promotion_scenario(history: History) {
    let sb = Sandbox::new();
    let envs = environments(&sb, history);
    let dev_commit = add_payments_db(&sb, &envs.dev);
    let independent = history == History::Independent;
    let first = |args: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if independent {
            a.push("--force".into());
        }
        a
    };
    let first_how = if independent {
        How::Mirror
    } else {
        How::FastForward
    };

    // dev -> staging, with what it changes in staging.
    if independent {
        assert_first_promotion_needs_force(&sb, "infra-dev", &envs.staging);
    }
    let base = sb.head(&envs.staging);
    let args = first(&[
        "--from",
        "infra-dev",
        "--to",
        "infra-staging",
        "--from-env",
        "dev",
        "--to-env",
        "staging",
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let p = promote(&sb, &args);
    assert_eq!(p.branch, format!("promote/infra-dev-{}", &dev_commit[..12]));
    assert_promotion(
        &sb,
        &envs.staging,
        &base,
        &p,
        &Expect {
            source: &envs.dev,
            source_commit: &dev_commit,
            path: ".",
            repo_trailer: display(&envs.dev),
            how: first_how,
            author: &format!("{BOT_NAME} <{BOT_EMAIL}>"),
        },
    );
    assert_eq!(
        sb.git(
            &envs.staging,
            &["show", &format!("{}:databases/payments-db.yaml", p.branch)]
        ),
        PAYMENTS_DB.trim_end()
    );
    // What the promotion changes in staging: one new object, as staging renders it.
    let changes = section(
        &p.out.stdout,
        &format!(
            "\nwhat the promotion changes in staging (infra-staging main -> {}):\n",
            p.branch
        ),
    );
    assert_eq!(
        diff_objects(changes, "main"),
        ["(absent)"],
        "only payments-db is new:\n{changes}"
    );
    assert!(
        changes.ends_with("# 1 added, 0 removed, 0 changed, 5 unchanged"),
        "{changes}"
    );
    let payments_in_staging = added_text(changes, &p.branch, "PostgreSQLInstance/payments-db");
    // The configuration difference between the environments, under its own heading, is
    // what `diff` of the promoted files says.
    let d = sb.kg(&[
        "diff",
        "infra-dev",
        "--from-env",
        "dev",
        "--to-env",
        "staging",
    ]);
    assert_eq!(d.code, Some(1), "{d}");
    assert!(d.stdout.contains("PostgreSQLInstance/payments-db"), "{d}");
    assert!(
        p.out.stdout.ends_with(&format!(
            "\nconfiguration difference between dev and staging (the promoted files rendered as each):\n{}",
            d.stdout
        )),
        "the report should end with the configuration difference between dev and staging{}",
        p.out
    );
    let staging_commit = merge(&sb, &envs.staging, &p.branch, history);
    // The added object is exactly what staging now renders.
    let rendered = document_texts(&render(&sb, "infra-staging", "staging"));
    assert!(
        rendered.contains(&payments_in_staging),
        "the diff's payments-db is not staging's render of it:\n{payments_in_staging}"
    );

    // Promoting the same commit again after the merge: nothing to do, exit 0, although
    // the branch of the first promotion (same name) still exists.
    let branches = sb.branches(&envs.staging);
    assert!(branches.contains(&p.branch));
    let again = sb.kg(&["promote", "--from", "infra-dev", "--to", "infra-staging"]);
    again.ok();
    assert!(again.stdout.starts_with("nothing to promote"), "{again}");
    assert_eq!(sb.branches(&envs.staging), branches);

    // staging -> prod, without environments: the report says how to see the diff.
    if independent {
        assert_first_promotion_needs_force(&sb, "infra-staging", &envs.prod);
    }
    let base = sb.head(&envs.prod);
    let args = first(&["--from", "infra-staging", "--to", "infra-prod"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let p = promote(&sb, &args);
    assert_eq!(
        p.branch,
        format!("promote/infra-staging-{}", &staging_commit[..12])
    );
    assert_promotion(
        &sb,
        &envs.prod,
        &base,
        &p,
        &Expect {
            source: &envs.staging,
            source_commit: &staging_commit,
            path: ".",
            repo_trailer: match history {
                History::Shared => STAGING_URL.to_string(),
                History::Independent => display(&envs.staging),
            },
            how: first_how,
            author: &format!("{BOT_NAME} <{BOT_EMAIL}>"),
        },
    );
    assert!(
        p.out.stdout.contains(&format!(
            "kubectl gitops diff {} --from-env <env> --to-env <env>",
            display(&envs.prod)
        )),
        "{}",
        p.out
    );
    if history == History::Shared {
        // The very commit made in dev reaches prod.
        assert!(sb.git_ok(
            &envs.prod,
            &["merge-base", "--is-ancestor", &dev_commit, &p.branch]
        ));
    }
    merge(&sb, &envs.prod, &p.branch, history);

    // A second change travels the chain with no --force: the trailers are the base.
    let api = envs.dev.join("apps/orders-api.yaml");
    let text = fs::read_to_string(&api).unwrap();
    fs::write(&api, text.replace("orders-api:3.12.0", "orders-api:3.13.0")).unwrap();
    let dev_commit = sb.commit_all(&envs.dev, "apps: orders-api 3.13.0");
    let base = sb.head(&envs.staging);
    let p = promote(&sb, &["--from", "infra-dev", "--to", "infra-staging"]);
    // The newest promotion staging records names the payments-db commit.
    let recorded_base = sb.git(
        &envs.staging,
        &[
            "log",
            "-1",
            "--format=%(trailers:key=Promoted-from-commit,valueonly)",
            "--grep=^Promoted-from-commit",
        ],
    );
    assert!(
        p.out.stdout.contains(&format!(
            "last promoted: {} (its Promoted-from-commit trailer in infra-staging@",
            &recorded_base[..12]
        )),
        "{}",
        p.out
    );
    assert_promotion(
        &sb,
        &envs.staging,
        &base,
        &p,
        &Expect {
            source: &envs.dev,
            source_commit: &dev_commit,
            path: ".",
            repo_trailer: display(&envs.dev),
            how: How::Copy,
            author: &format!("{BOT_NAME} <{BOT_EMAIL}>"),
        },
    );
    assert_eq!(
        section(&p.out.stdout, "source commits (1):\n"),
        format!("  {} apps: orders-api 3.13.0", &dev_commit[..12])
    );
    let staging_commit = merge(&sb, &envs.staging, &p.branch, history);
    let base = sb.head(&envs.prod);
    let p = promote(&sb, &["--from", "infra-staging", "--to", "infra-prod"]);
    assert_promotion(
        &sb,
        &envs.prod,
        &base,
        &p,
        &Expect {
            source: &envs.staging,
            source_commit: &staging_commit,
            path: ".",
            repo_trailer: match history {
                History::Shared => STAGING_URL.to_string(),
                History::Independent => display(&envs.staging),
            },
            how: How::Copy,
            author: &format!("{BOT_NAME} <{BOT_EMAIL}>"),
        },
    );
    merge(&sb, &envs.prod, &p.branch, history);

    // The three repositories hold the same files.
    let dev_files = sb.tree_listing(&envs.dev, "HEAD", ".");
    assert_eq!(sb.tree_listing(&envs.staging, "HEAD", "."), dev_files);
    assert_eq!(sb.tree_listing(&envs.prod, "HEAD", "."), dev_files);

    assert_renders(&sb);
}

#[test]
fn promotion_dev_staging_prod_between_clones_fast_forwards_the_exact_commits() {
    promotion_scenario(History::Shared);
}

#[test]
fn promotion_dev_staging_prod_between_independent_repositories_copies_the_files() {
    promotion_scenario(History::Independent);
}

#[test]
fn promote_path_promotes_only_that_folder() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Shared);
    // One dev commit touches databases and apps: promoting databases alone is a copy.
    fs::write(envs.dev.join("databases/payments-db.yaml"), PAYMENTS_DB).unwrap();
    let orders_db = envs.dev.join("databases/orders-db.yaml");
    let text = fs::read_to_string(&orders_db).unwrap();
    fs::write(
        &orders_db,
        text.replace("version: \"16\"", "version: \"17\""),
    )
    .unwrap();
    let api = envs.dev.join("apps/orders-api.yaml");
    let text = fs::read_to_string(&api).unwrap();
    assert!(text.contains("orders-api:3.12.0"));
    fs::write(&api, text.replace("orders-api:3.12.0", "orders-api:3.13.0")).unwrap();
    let dev_commit = sb.commit_all(&envs.dev, "payments-db, postgres 17, orders-api 3.13.0");

    let base = sb.head(&envs.staging);
    let p = promote(
        &sb,
        &[
            "--from",
            "infra-dev",
            "--to",
            "infra-staging",
            "--path",
            "databases",
        ],
    );
    assert_eq!(p.branch, format!("promote/databases-{}", &dev_commit[..12]));
    assert_promotion(
        &sb,
        &envs.staging,
        &base,
        &p,
        &Expect {
            source: &envs.dev,
            source_commit: &dev_commit,
            path: "databases",
            repo_trailer: display(&envs.dev),
            how: How::Copy,
            author: &format!("{BOT_NAME} <{BOT_EMAIL}>"),
        },
    );
    assert_eq!(
        sb.changes(&envs.staging, &base, &p.branch),
        [
            "A\tdatabases/payments-db.yaml",
            "M\tdatabases/orders-db.yaml"
        ]
    );
    assert_eq!(
        sb.tree_listing(&envs.staging, &p.branch, "apps"),
        sb.tree_listing(&envs.staging, &base, "apps"),
        "apps/ is not promoted"
    );
    assert!(
        p.out.stdout.contains(&format!(
            "kubectl gitops diff {}/databases --from-env <env> --to-env <env>",
            display(&envs.staging)
        )),
        "{}",
        p.out
    );
}

#[test]
fn promote_from_a_folder_fast_forwards_when_only_that_folder_changed() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Shared);
    let dev_commit = add_payments_db(&sb, &envs.dev);
    let base = sb.head(&envs.staging);
    // The folder given as --from is the path promoted.
    let p = promote(
        &sb,
        &["--from", "infra-dev/databases", "--to", "infra-staging"],
    );
    assert_eq!(p.branch, format!("promote/databases-{}", &dev_commit[..12]));
    assert_promotion(
        &sb,
        &envs.staging,
        &base,
        &p,
        &Expect {
            source: &envs.dev,
            source_commit: &dev_commit,
            path: "databases",
            repo_trailer: display(&envs.dev),
            how: How::FastForward,
            author: &format!("{BOT_NAME} <{BOT_EMAIL}>"),
        },
    );
}

#[test]
fn promote_force_makes_the_folder_exactly_the_source() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Independent);
    // Staging has drifted: a claim dev does not have, an edited claim, an apps change.
    fs::write(
        envs.staging.join("databases/legacy-db.yaml"),
        PAYMENTS_DB.replace("payments-db", "legacy-db"),
    )
    .unwrap();
    let orders_db = envs.staging.join("databases/orders-db.yaml");
    let text = fs::read_to_string(&orders_db).unwrap();
    fs::write(&orders_db, text.replace("storageGB: 20", "storageGB: 30")).unwrap();
    fs::write(envs.staging.join("apps/staging-only.yaml"), "# staging\n").unwrap();
    let base = sb.commit_all(&envs.staging, "staging drift");
    let dev_commit = add_payments_db(&sb, &envs.dev);

    // Without a recorded promotion or shared history, staging's drift cannot be told from
    // dev's changes: refused, unless --force.
    let out = sb.kg(&[
        "promote",
        "--from",
        "infra-dev",
        "--to",
        "infra-staging",
        "--path",
        "databases",
    ]);
    out.refused(&["share no history", "--force"]);
    assert_eq!(sb.branches(&envs.staging), ["main"]);

    let p = promote(
        &sb,
        &[
            "--from",
            "infra-dev",
            "--to",
            "infra-staging",
            "--path",
            "databases",
            "--force",
        ],
    );
    assert_promotion(
        &sb,
        &envs.staging,
        &base,
        &p,
        &Expect {
            source: &envs.dev,
            source_commit: &dev_commit,
            path: "databases",
            repo_trailer: display(&envs.dev),
            how: How::Mirror,
            author: &format!("{BOT_NAME} <{BOT_EMAIL}>"),
        },
    );
    assert_eq!(
        sb.changes(&envs.staging, &base, &p.branch),
        [
            "A\tdatabases/payments-db.yaml",
            "D\tdatabases/legacy-db.yaml",
            "M\tdatabases/orders-db.yaml",
        ]
    );
    assert_eq!(
        sb.git(
            &envs.staging,
            &["show", &format!("{}:apps/staging-only.yaml", p.branch)]
        ),
        "# staging"
    );
}

#[test]
fn promote_of_what_an_independent_target_already_has_creates_no_branch() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Independent);
    let before = sb.branches(&envs.staging);
    let out = sb.kg(&["promote", "--from", "infra-dev", "--to", "infra-staging"]);
    out.ok();
    assert!(out.stdout.starts_with("nothing to promote"), "{out}");
    assert_eq!(sb.branches(&envs.staging), before);
}

#[test]
fn promote_of_what_a_clone_already_has_creates_no_branch() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Shared);
    let before = sb.branches(&envs.staging);
    let out = sb.kg(&["promote", "--from", "infra-dev", "--to", "infra-staging"]);
    out.ok();
    assert!(out.stdout.starts_with("nothing to promote"), "{out}");
    assert_eq!(sb.branches(&envs.staging), before);
}

#[test]
fn promote_takes_the_source_commit_not_its_uncommitted_changes() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Independent);
    let dev_commit = add_payments_db(&sb, &envs.dev);
    let claim = envs.dev.join("databases/payments-db.yaml");
    fs::write(
        &claim,
        PAYMENTS_DB.replace("storageGB: 10", "storageGB: 999"),
    )
    .unwrap();
    fs::write(envs.dev.join("databases/draft-db.yaml"), "# draft\n").unwrap();

    let base = sb.head(&envs.staging);
    let p = promote(
        &sb,
        &["--from", "infra-dev", "--to", "infra-staging", "--force"],
    );
    assert!(
        p.out.stderr.starts_with("warning: ") && p.out.stderr.contains("uncommitted changes"),
        "{}",
        p.out
    );
    assert_promotion(
        &sb,
        &envs.staging,
        &base,
        &p,
        &Expect {
            source: &envs.dev,
            source_commit: &dev_commit,
            path: ".",
            repo_trailer: display(&envs.dev),
            how: How::Mirror,
            author: &format!("{BOT_NAME} <{BOT_EMAIL}>"),
        },
    );
    assert_eq!(
        sb.changes(&envs.staging, &base, &p.branch),
        ["A\tdatabases/payments-db.yaml"]
    );
    // The source's own checkout is left as it was.
    assert_eq!(
        sb.status(&envs.dev),
        " M databases/payments-db.yaml\n?? databases/draft-db.yaml"
    );
}

// ---------------------------------------------------------------------------------------------
// Refused promotions
// ---------------------------------------------------------------------------------------------

/// Dirties infra-staging with `dirty`, then checks that promoting into it is refused and
/// changes nothing.
fn assert_dirty_target_refused(dirty: impl FnOnce(&Sandbox, &Path)) {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Shared);
    add_payments_db(&sb, &envs.dev);
    dirty(&sb, &envs.staging);
    let status = sb.status(&envs.staging);
    assert_ne!(status, "");
    let head = sb.head(&envs.staging);

    let out = sb.kg(&["promote", "--from", "infra-dev", "--to", "infra-staging"]);
    out.refused(&["uncommitted changes"]);
    assert_eq!(sb.branches(&envs.staging), ["main"]);
    assert_eq!(sb.head(&envs.staging), head);
    assert_eq!(
        sb.status(&envs.staging),
        status,
        "the changes are left alone"
    );
    assert_eq!(sb.worktrees(&envs.staging), 1);
}

#[test]
fn promote_refuses_a_target_with_a_modified_tracked_file() {
    assert_dirty_target_refused(|_, staging| {
        let f = staging.join("gitops.yaml");
        let text = fs::read_to_string(&f).unwrap();
        fs::write(&f, text + "# a local edit\n").unwrap();
    });
}

#[test]
fn promote_refuses_a_target_with_an_untracked_file() {
    assert_dirty_target_refused(|_, staging| {
        fs::write(staging.join("databases/scratch.yaml"), "# wip\n").unwrap();
    });
}

#[test]
fn promote_refuses_a_target_with_a_staged_change() {
    assert_dirty_target_refused(|sb, staging| {
        fs::write(staging.join("notes.md"), "# notes\n").unwrap();
        sb.git(staging, &["add", "notes.md"]);
    });
}

#[test]
fn promote_refuses_an_existing_branch() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Shared);
    add_payments_db(&sb, &envs.dev);
    let args = ["promote", "--from", "infra-dev", "--to", "infra-staging"];
    let first = promote(&sb, &args[1..]);
    let branches = sb.branches(&envs.staging);

    // The same promotion again: its branch exists.
    let out = sb.kg(&args);
    out.refused(&["already exists", &first.branch]);
    // A branch named explicitly that exists.
    let out = sb.kg(&[
        "promote",
        "--from",
        "infra-dev",
        "--to",
        "infra-staging",
        "--branch",
        "main",
    ]);
    out.refused(&["branch main already exists"]);
    assert_eq!(sb.branches(&envs.staging), branches);
    assert_eq!(
        sb.git(&envs.staging, &["rev-parse", &first.branch]),
        first.commit,
        "the existing branch is left alone"
    );
    assert_eq!(sb.status(&envs.staging), "");
}

#[test]
fn promote_with_an_invalid_branch_name_fails_cleanly() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Shared);
    add_payments_db(&sb, &envs.dev);
    let out = sb.kg(&[
        "promote",
        "--from",
        "infra-dev",
        "--to",
        "infra-staging",
        "--branch",
        "not a branch",
    ]);
    out.refused(&["not a branch"]);
    assert_eq!(sb.branches(&envs.staging), ["main"]);
    assert_eq!(sb.status(&envs.staging), "");
    assert_eq!(sb.worktrees(&envs.staging), 1);
    assert_eq!(fs::read_dir(sb.tmp()).unwrap().count(), 0);
}

#[test]
fn promote_refuses_a_source_or_target_outside_git() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Shared);
    add_payments_db(&sb, &envs.dev);
    sandbox::copy_dir(&testdata("infra-dev"), &sb.path("loose"));

    let out = sb.kg(&["promote", "--from", "loose", "--to", "infra-staging"]);
    out.refused(&["loose", "not inside a git repository"]);
    let out = sb.kg(&["promote", "--from", "infra-dev", "--to", "loose"]);
    out.refused(&["loose", "not inside a git repository"]);
    let out = sb.kg(&["promote", "--from", "infra-dev", "--to", "infra-dev"]);
    out.refused(&["same repository"]);
    let out = sb.kg(&[
        "promote",
        "--from",
        "infra-dev",
        "--to",
        "infra-staging",
        "--path",
        "nowhere",
    ]);
    out.refused(&["nowhere does not exist"]);
    assert_eq!(sb.branches(&envs.staging), ["main"]);
    assert_eq!(sb.branches(&envs.dev), ["main"]);
}

// ---------------------------------------------------------------------------------------------
// Git identity
// ---------------------------------------------------------------------------------------------

#[test]
fn promote_and_preview_work_without_any_git_identity() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Shared);
    let dev_commit = add_payments_db(&sb, &envs.dev);
    // Nothing to find an identity in: an empty HOME, no system config, no GIT_* variables.
    assert_eq!(fs::read_dir(sb.home()).unwrap().count(), 0);
    assert_eq!(sb.configured_email(&envs.staging), None);

    let base = sb.head(&envs.staging);
    let p = promote_as(
        &sb,
        Identity::None,
        &["--from", "infra-dev", "--to", "infra-staging"],
    );
    assert_promotion(
        &sb,
        &envs.staging,
        &base,
        &p,
        &Expect {
            source: &envs.dev,
            source_commit: &dev_commit,
            path: ".",
            repo_trailer: display(&envs.dev),
            how: How::FastForward,
            author: "kubectl-gitops <kubectl-gitops@localhost>",
        },
    );

    let infra = infra_pr(&sb);
    let app = testdata("my-microservice").display().to_string();
    let out = sb.kg_as(
        Identity::None,
        &["preview", "up", &app, "--pr", "5", "--repo", "infra-pr"],
    );
    out.ok();
    assert_eq!(
        sb.git(&infra, &["log", "-1", "--format=%an <%ae>|%cn <%ce>|%s"]),
        "kubectl-gitops <kubectl-gitops@localhost>|kubectl-gitops <kubectl-gitops@localhost>|preview up: my-microservice-pr-5"
    );
}

#[test]
fn promote_keeps_the_identity_git_is_configured_with() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Independent);
    fs::write(
        sb.home().join(".gitconfig"),
        "[user]\n\tname = Ada Lovelace\n\temail = ada@example.com\n",
    )
    .unwrap();
    assert_eq!(
        sb.configured_email(&envs.staging).as_deref(),
        Some("ada@example.com")
    );
    let dev_commit = add_payments_db(&sb, &envs.dev);
    let base = sb.head(&envs.staging);
    let p = promote_as(
        &sb,
        Identity::None,
        &["--from", "infra-dev", "--to", "infra-staging", "--force"],
    );
    assert_promotion(
        &sb,
        &envs.staging,
        &base,
        &p,
        &Expect {
            source: &envs.dev,
            source_commit: &dev_commit,
            path: ".",
            repo_trailer: display(&envs.dev),
            how: How::Mirror,
            author: "Ada Lovelace <ada@example.com>",
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Pattern 3: previews in an infra-pr repository
// ---------------------------------------------------------------------------------------------

/// An `infra-pr` checkout with a README.
fn infra_pr(sb: &Sandbox) -> PathBuf {
    let dir = sb.path("infra-pr");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("README.md"), "# Pull request environments\n").unwrap();
    sb.git(&dir, &["init", "-q", "-b", "main"]);
    sb.commit_all(&dir, "infra-pr");
    dir
}

/// The documents of a YAML stream as their texts (each ending with a newline).
fn document_texts(stream: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in stream.lines() {
        if line == "---" {
            docs.push(String::new());
        } else {
            let last = docs.last_mut().unwrap();
            last.push_str(line);
            last.push('\n');
        }
    }
    docs.retain(|d| !d.trim().is_empty());
    docs
}

/// The preview directory holds one file per object of `render <app> --pr <pr>`, named after
/// its kind and name, each byte-identical to that object's document.
fn assert_preview_is_the_render(sb: &Sandbox, dir: &Path, app: &str, pr: &str, objects: usize) {
    let out = sb.kg(&["render", app, "--pr", pr]);
    out.ok();
    let mut expected = document_texts(&out.stdout);
    expected.sort();
    assert_eq!(expected.len(), objects, "{out}");

    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let manifests: Vec<&String> = names.iter().filter(|n| n.ends_with(".yaml")).collect();
    // Nothing else that Argo CD's directory source would read (.yml, .json).
    assert!(
        names
            .iter()
            .all(|n| !n.ends_with(".yml") && !n.ends_with(".json")),
        "{names:?}"
    );
    let mut found = Vec::new();
    let namespace = dir.file_name().unwrap().to_str().unwrap();
    for name in manifests {
        let text = fs::read_to_string(dir.join(name)).unwrap();
        let docs = yaml::documents(&text);
        assert_eq!(docs.len(), 1, "{name}: one object per file");
        let (kind, object) = (&docs[0]["kind"], &docs[0]["metadata.name"]);
        assert_eq!(
            *name,
            format!("{}-{object}.yaml", kind.to_lowercase()),
            "file name"
        );
        if kind == "Namespace" {
            assert_eq!(object, namespace);
        } else {
            assert_eq!(docs[0]["metadata.namespace"], namespace, "{name}");
        }
        found.push(text);
    }
    found.sort();
    assert_eq!(found, expected, "the files are not the render's objects");
}

/// `(status, path)` of the files a commit changed, all of which must be under `dir`.
fn commit_changes(sb: &Sandbox, repo: &Path, from: &str, dir: &str) -> Vec<String> {
    let changes = sb.changes(repo, from, "HEAD");
    assert_eq!(
        sb.git(repo, &["rev-parse", "HEAD~1"]),
        from,
        "exactly one commit"
    );
    for c in &changes {
        assert!(
            c.split_once('\t')
                .unwrap()
                .1
                .starts_with(&format!("{dir}/")),
            "{c} is outside {dir}/"
        );
    }
    changes
}

/// How many of `changes` are manifests (the preview directory may hold a marker file too).
fn yaml_files(changes: &[String]) -> usize {
    changes.iter().filter(|c| c.ends_with(".yaml")).count()
}

fn subject(sb: &Sandbox, repo: &Path) -> String {
    sb.git(repo, &["log", "-1", "--format=%s"])
}

#[test]
fn preview_lifecycle_up_update_list_down() {
    let sb = Sandbox::new();
    let infra = infra_pr(&sb);
    let testdata_app = testdata("my-microservice").display().to_string();
    let preview = infra.join("my-microservice-pr-123");
    let up = |app: &str| sb.kg(&["preview", "up", app, "--pr", "123", "--repo", "infra-pr"]);

    // Up: one file per object (the Namespace included), one commit touching only them.
    let before = sb.head(&infra);
    up(&testdata_app).ok();
    assert_preview_is_the_render(&sb, &preview, &testdata_app, "123", 6);
    let changes = commit_changes(&sb, &infra, &before, "my-microservice-pr-123");
    assert!(changes.iter().all(|c| c.starts_with("A\t")), "{changes:?}");
    assert_eq!(yaml_files(&changes), 6, "{changes:?}");
    assert_eq!(subject(&sb, &infra), "preview up: my-microservice-pr-123");
    assert_eq!(sb.status(&infra), "");

    // Again, unchanged: nothing to commit.
    let head = sb.head(&infra);
    let out = up(&testdata_app);
    out.ok();
    assert!(out.stdout.contains("up to date"), "{out}");
    assert_eq!(sb.head(&infra), head);
    assert_eq!(sb.status(&infra), "");

    // A second push to the pull request: more replicas, no Service.
    let app = sb.init_repo("my-microservice", &testdata("my-microservice"), "app");
    let deployment = app.join("kubernetes/deployment.yaml");
    let text = fs::read_to_string(&deployment).unwrap();
    assert!(text.contains("  replicas: 2\n"));
    fs::write(
        &deployment,
        text.replace("  replicas: 2\n", "  replicas: 3\n"),
    )
    .unwrap();
    fs::remove_file(app.join("kubernetes/service.yaml")).unwrap();
    let app_commit = sb.commit_all(&app, "3 replicas, no Service");
    let out = up("my-microservice");
    out.ok();
    assert_eq!(out.stderr, "", "{out}");
    assert_preview_is_the_render(&sb, &preview, "my-microservice", "123", 5);
    assert_eq!(
        commit_changes(&sb, &infra, &head, "my-microservice-pr-123"),
        [
            "D\tmy-microservice-pr-123/service-my-microservice-pr-123.yaml",
            "M\tmy-microservice-pr-123/deployment-my-microservice-pr-123.yaml",
        ]
    );
    let deployment = fs::read_to_string(preview.join("deployment-my-microservice-pr-123.yaml"));
    assert!(deployment.unwrap().contains("\n  replicas: 3\n"));
    assert_eq!(
        trailers(&sb, &infra, "HEAD"),
        [
            ("Preview-of-repo".to_string(), display(&app)),
            ("Preview-of-commit".to_string(), app_commit.clone()),
        ]
    );
    assert_eq!(sb.status(&infra), "");

    let out = sb.kg(&["preview", "list", "--repo", "infra-pr"]);
    out.ok();
    assert_eq!(
        out.stdout,
        format!(
            "PREVIEW                 APP              PR   OBJECTS  SOURCE COMMIT\n\
             my-microservice-pr-123  my-microservice  123  5        {}\n",
            &app_commit[..12]
        )
    );

    // Another app's preview for the same pull request makes `down` without --app ambiguous.
    let web = sb.path("web");
    fs::create_dir(&web).unwrap();
    fs::write(
        web.join("settings.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-settings\ndata:\n  greeting: hello\n",
    )
    .unwrap();
    up("web").ok();
    assert_preview_is_the_render(&sb, &infra.join("web-pr-123"), "web", "123", 2);
    let out = sb.kg(&["preview", "list", "--repo", "infra-pr"]);
    out.ok();
    assert_eq!(
        out.stdout,
        format!(
            "PREVIEW                 APP              PR   OBJECTS  SOURCE COMMIT\n\
             my-microservice-pr-123  my-microservice  123  5        {}\n\
             web-pr-123              web              123  2        -\n",
            &app_commit[..12]
        )
    );
    let head = sb.head(&infra);
    let out = sb.kg(&["preview", "down", "--pr", "123", "--repo", "infra-pr"]);
    out.refused(&["my-microservice-pr-123", "web-pr-123"]);
    assert_eq!(sb.head(&infra), head);
    assert!(preview.is_dir() && infra.join("web-pr-123").is_dir());

    // Down: the directory goes, in one commit.
    let down = |app: &str| {
        sb.kg(&[
            "preview", "down", "--pr", "123", "--app", app, "--repo", "infra-pr",
        ])
    };
    down("my-microservice").ok();
    assert!(!preview.exists());
    let changes = commit_changes(&sb, &infra, &head, "my-microservice-pr-123");
    assert!(changes.iter().all(|c| c.starts_with("D\t")), "{changes:?}");
    assert_eq!(yaml_files(&changes), 5, "{changes:?}");
    assert_eq!(subject(&sb, &infra), "preview down: my-microservice-pr-123");
    assert_eq!(sb.status(&infra), "");

    // Again: nothing to do.
    let head = sb.head(&infra);
    let out = down("my-microservice");
    out.ok();
    assert!(out.stdout.contains("nothing to remove"), "{out}");
    assert_eq!(sb.head(&infra), head);

    // The one preview left for the pull request needs no --app.
    let out = sb.kg(&["preview", "down", "--pr", "123", "--repo", "infra-pr"]);
    out.ok();
    assert_eq!(subject(&sb, &infra), "preview down: web-pr-123");

    // Nothing of the pull request is left.
    let out = sb.kg(&["preview", "list", "--repo", "infra-pr"]);
    out.ok();
    assert_eq!(out.stdout, "");
    let mut entries: Vec<String> = fs::read_dir(&infra)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(entries, [".git", "README.md"]);
    assert_eq!(sb.git(&infra, &["ls-files"]), "README.md");
    assert_eq!(sb.status(&infra), "");
}

#[test]
fn preview_commits_only_its_own_directory() {
    let sb = Sandbox::new();
    let infra = infra_pr(&sb);
    // Other work in progress in the checkout: a modified file and a staged one.
    fs::write(infra.join("README.md"), "# edited\n").unwrap();
    fs::write(infra.join("notes.md"), "# notes\n").unwrap();
    sb.git(&infra, &["add", "notes.md"]);
    let work = sb.status(&infra);
    assert_eq!(work, " M README.md\nA  notes.md");

    let app = testdata("my-microservice").display().to_string();
    let head = sb.head(&infra);
    sb.kg(&["preview", "up", &app, "--pr", "7", "--repo", "infra-pr"])
        .ok();
    commit_changes(&sb, &infra, &head, "my-microservice-pr-7");
    assert_eq!(sb.status(&infra), work);

    // Down, naming the preview by the app's directory.
    let head = sb.head(&infra);
    sb.kg(&["preview", "down", &app, "--pr", "7", "--repo", "infra-pr"])
        .ok();
    assert!(!infra.join("my-microservice-pr-7").exists());
    commit_changes(&sb, &infra, &head, "my-microservice-pr-7");
    assert_eq!(sb.status(&infra), work);
}

// ---------------------------------------------------------------------------------------------
// diff between an environment and its preview
// ---------------------------------------------------------------------------------------------

#[test]
fn diff_between_an_environment_and_its_preview_differs_only_in_identity() {
    let sb = Sandbox::new();
    sb.init_repo("infra-dev", &testdata("infra-dev"), "infra-dev");
    // gitops.yaml: `preview: {from: dev}`, so a preview is dev with a preview's identity.
    let d = sb.kg(&["diff", "infra-dev", "--from-env", "dev", "--to-pr", "7"]);
    assert_eq!(change_lines(&d.stdout), Vec::<&str>::new(), "{d}");
    assert_eq!(d.code, Some(0), "{d}");
}

#[test]
fn diff_between_two_previews_differs_only_in_identity() {
    let sb = Sandbox::new();
    sb.init_repo("infra-dev", &testdata("infra-dev"), "infra-dev");
    let d = sb.kg(&["diff", "infra-dev", "--from-pr", "7", "--to-pr", "1234"]);
    assert_eq!(d.code, Some(0), "{d}");
    assert_eq!(change_lines(&d.stdout), Vec::<&str>::new(), "{d}");
    assert!(
        d.stdout
            .starts_with("# identity: namespace orders-pr-7 -> orders-pr-1234, pr 7 -> 1234\n"),
        "{d}"
    );
    assert!(d.stdout.ends_with("nothing else differs\n"), "{d}");
}

// ---------------------------------------------------------------------------------------------
// Pattern 1: diverged targets (issue 10, items 6 to 8)
// ---------------------------------------------------------------------------------------------

/// Replaces `from` by `to` in a file of a repository (the text must hold `from` once).
fn edit(repo: &Path, file: &str, from: &str, to: &str) {
    let path = repo.join(file);
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches(from).count(), 1, "{file}: {from:?}");
    fs::write(&path, text.replace(from, to)).unwrap();
}

fn show(sb: &Sandbox, repo: &Path, rev: &str, file: &str) -> String {
    sb.git(repo, &["show", &format!("{rev}:{file}")])
}

const HOTFIX: &str = "hotfix: orders-db needs 30 GB now";
const CODEOWNERS: &str = "* @example/orders-oncall\n";

/// Staging's own changes: a hotfix to a promoted claim and a staging-only file.
fn staging_hotfix(sb: &Sandbox, staging: &Path) -> String {
    edit(
        staging,
        "databases/orders-db.yaml",
        "storageGB: 20",
        "storageGB: 30",
    );
    fs::create_dir_all(staging.join(".github")).unwrap();
    fs::write(staging.join(".github/CODEOWNERS"), CODEOWNERS).unwrap();
    sb.commit_all(staging, HOTFIX)
}

/// Environments where staging already records a promotion from dev: clones (the merge
/// base is the base) or independent repositories after a first `--force` promotion.
fn recorded_environments(sb: &Sandbox, history: History) -> Envs {
    let envs = environments(sb, history);
    if history == History::Independent {
        add_payments_db(sb, &envs.dev);
        let p = promote(
            sb,
            &["--from", "infra-dev", "--to", "infra-staging", "--force"],
        );
        merge(sb, &envs.staging, &p.branch, history);
    }
    envs
}

fn diverged_target_keeps_its_own_changes(history: History) {
    let sb = Sandbox::new();
    let envs = recorded_environments(&sb, history);
    let hotfix = staging_hotfix(&sb, &envs.staging);
    let orders_before = show(&sb, &envs.staging, "HEAD", "databases/orders-db.yaml");
    // dev: a new claim and another line of the hotfixed one.
    fs::write(
        envs.dev.join("databases/billing-db.yaml"),
        PAYMENTS_DB.replace("payments-db", "billing-db"),
    )
    .unwrap();
    edit(
        &envs.dev,
        "databases/orders-db.yaml",
        "name: postgres-aws\n",
        "name: postgres-aws-v2\n",
    );
    let dev_commit = sb.commit_all(&envs.dev, "databases: billing-db; orders-db on v2");

    let base = sb.head(&envs.staging);
    let p = promote(
        &sb,
        &[
            "--from",
            "infra-dev",
            "--to",
            "infra-staging",
            "--to-env",
            "staging",
        ],
    );
    assert_promotion(
        &sb,
        &envs.staging,
        &base,
        &p,
        &Expect {
            source: &envs.dev,
            source_commit: &dev_commit,
            path: ".",
            repo_trailer: display(&envs.dev),
            how: How::Merge,
            author: &format!("{BOT_NAME} <{BOT_EMAIL}>"),
        },
    );
    let out = &p.out.stdout;
    assert!(
        out.lines()
            .next()
            .unwrap()
            .contains("infra-staging has diverged"),
        "{out}"
    );
    // The report lists the target's own files and commits.
    let diverged = section(
        out,
        "diverged: infra-staging changed . since it was last promoted",
    );
    assert!(
        diverged.contains("\n  files: .github/CODEOWNERS, databases/orders-db.yaml\n"),
        "{diverged}"
    );
    assert!(
        diverged.contains(&format!("\n  commits: {} {HOTFIX}\n", &hotfix[..12])),
        "{diverged}"
    );
    // The branch: dev's changes on top of staging's own, nothing reverted.
    assert_eq!(
        sb.changes(&envs.staging, &base, &p.branch),
        [
            "A\tdatabases/billing-db.yaml",
            "M\tdatabases/orders-db.yaml"
        ]
    );
    assert_eq!(
        show(&sb, &envs.staging, &p.branch, "databases/orders-db.yaml"),
        orders_before.replace("name: postgres-aws\n", "name: postgres-aws-v2\n")
    );
    assert_eq!(
        show(&sb, &envs.staging, &p.branch, ".github/CODEOWNERS"),
        CODEOWNERS.trim_end()
    );
    // What the promotion changes in staging: the new claim and the composition, never the
    // hotfix's storage.
    let changes = section(
        out,
        &format!(
            "\nwhat the promotion changes in staging (infra-staging main -> {}):\n",
            p.branch
        ),
    );
    assert_eq!(
        diff_objects(changes, "main"),
        ["(absent)", "PostgreSQLInstance/orders-db"],
        "{changes}"
    );
    let orders = &changes[changes
        .find("--- main: PostgreSQLInstance/orders-db")
        .unwrap()..];
    assert_eq!(
        change_lines(orders),
        ["+    name: postgres-aws-v2", "-    name: postgres-aws"],
        "{changes}"
    );
    assert!(
        changes.ends_with("# 1 added, 0 removed, 1 changed, 4 unchanged")
            || changes.ends_with("# 1 added, 0 removed, 1 changed, 5 unchanged"),
        "{changes}"
    );

    // Merged, the same promotion again has nothing to do, and still says why the trees
    // differ.
    merge(&sb, &envs.staging, &p.branch, History::Independent);
    let again = sb.kg(&["promote", "--from", "infra-dev", "--to", "infra-staging"]);
    again.ok();
    assert!(again.stdout.starts_with("nothing to promote: "), "{again}");
    assert!(
        again.stdout.contains(
            "infra-staging has diverged: its own changes to .github/CODEOWNERS, databases/orders-db.yaml are kept"
        ),
        "{again}"
    );
}

#[test]
fn promote_into_a_diverged_clone_keeps_its_hotfix_and_its_own_files() {
    diverged_target_keeps_its_own_changes(History::Shared);
}

#[test]
fn promote_into_a_diverged_independent_repository_keeps_its_hotfix_and_its_own_files() {
    diverged_target_keeps_its_own_changes(History::Independent);
}

#[test]
fn promote_refuses_a_conflict_listing_the_files_and_force_mirrors_the_source() {
    // A line both changed, and a file dev deleted that staging changed.
    type Change = fn(&Sandbox, &Path);
    let cases: [(&str, Change, &str); 2] = [
        (
            "both changed storageGB",
            |_, dev| {
                edit(
                    dev,
                    "databases/orders-db.yaml",
                    "storageGB: 20",
                    "storageGB: 25",
                )
            },
            "databases/orders-db.yaml",
        ),
        (
            "dev deleted what staging changed",
            |_, dev| fs::remove_file(dev.join("databases/orders-db.yaml")).unwrap(),
            "databases/orders-db.yaml",
        ),
    ];
    for (case, dev_change, file) in cases {
        let sb = Sandbox::new();
        let envs = environments(&sb, History::Shared);
        let hotfix = staging_hotfix(&sb, &envs.staging);
        dev_change(&sb, &envs.dev);
        let dev_commit = sb.commit_all(&envs.dev, "dev change");
        let base = sb.head(&envs.staging);
        let fingerprint = sb.fingerprint(&envs.staging);

        let out = sb.kg(&["promote", "--from", "infra-dev", "--to", "infra-staging"]);
        out.refused(&[
            "has diverged",
            "conflict",
            file,
            &hotfix[..12],
            HOTFIX,
            "--force",
            "no conflict markers were written and nothing was created",
        ]);
        assert_eq!(sb.branches(&envs.staging), ["main"], "{case}");
        assert_eq!(
            sb.fingerprint(&envs.staging),
            fingerprint,
            "{case}: a refused promotion wrote objects or refs"
        );
        assert_eq!(sb.head(&envs.staging), base, "{case}");
        assert_eq!(sb.status(&envs.staging), "", "{case}");
        assert_eq!(sb.worktrees(&envs.staging), 1, "{case}");
        assert_eq!(fs::read_dir(sb.tmp()).unwrap().count(), 0, "{case}");

        // --force: the path becomes exactly dev's, and the report says what was dropped.
        let p = promote(
            &sb,
            &["--from", "infra-dev", "--to", "infra-staging", "--force"],
        );
        assert_promotion(
            &sb,
            &envs.staging,
            &base,
            &p,
            &Expect {
                source: &envs.dev,
                source_commit: &dev_commit,
                path: ".",
                repo_trailer: display(&envs.dev),
                how: How::Mirror,
                author: &format!("{BOT_NAME} <{BOT_EMAIL}>"),
            },
        );
        let out = &p.out.stdout;
        assert!(
            out.lines()
                .next()
                .unwrap()
                .contains("infra-staging has diverged and its own changes are dropped"),
            "{case}: {out}"
        );
        assert!(out.contains("\n  dropped (--force)\n"), "{case}: {out}");
        assert!(
            !sb.git_ok(
                &envs.staging,
                &[
                    "cat-file",
                    "-e",
                    &format!("{}:.github/CODEOWNERS", p.branch)
                ]
            ),
            "{case}: a mirror drops the target-only file"
        );
    }
}

/// Repositories holding folders whose names are pattern characters.
fn pattern_named_folders(sb: &Sandbox) -> Envs {
    let dev = sb.path("infra-dev");
    sandbox::copy_dir(&testdata("infra-dev"), &dev);
    let cm = |name: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: \"1\"\n")
    };
    for (dir, name) in [
        ("x*", "star"),
        ("xa", "xa"),
        ("xb", "xb"),
        ("x?", "question"),
    ] {
        fs::create_dir_all(dev.join(dir)).unwrap();
        fs::write(dev.join(dir).join("cm.yaml"), cm(name)).unwrap();
    }
    sb.git(&dev, &["init", "-q", "-b", "main"]);
    sb.commit_all(&dev, "infra-dev with pattern-named folders");
    let staging = sb.clone_repo(&dev, "infra-staging", STAGING_URL);
    let prod = sb.clone_repo(&dev, "infra-prod", PROD_URL);
    Envs { dev, staging, prod }
}

#[test]
fn promote_path_is_a_path_never_a_pattern() {
    let sb = Sandbox::new();
    let envs = pattern_named_folders(&sb);
    // dev changes every folder and removes one.
    for dir in ["x*", "xa", "x?"] {
        edit(&envs.dev, &format!("{dir}/cm.yaml"), "v: \"1\"", "v: \"2\"");
    }
    fs::remove_file(envs.dev.join("xb/cm.yaml")).unwrap();
    let dev_commit = sb.commit_all(&envs.dev, "every folder");

    let base = sb.head(&envs.staging);
    let p = promote(
        &sb,
        &[
            "--from",
            "infra-dev",
            "--to",
            "infra-staging",
            "--path",
            "x*",
        ],
    );
    assert_promotion(
        &sb,
        &envs.staging,
        &base,
        &p,
        &Expect {
            source: &envs.dev,
            source_commit: &dev_commit,
            path: "x*",
            repo_trailer: display(&envs.dev),
            how: How::Copy,
            author: &format!("{BOT_NAME} <{BOT_EMAIL}>"),
        },
    );
    assert_eq!(
        sb.changes(&envs.staging, &base, &p.branch),
        ["M\tx*/cm.yaml"],
        "only the folder named x* changes"
    );
    assert_eq!(p.branch, format!("promote/x-{}", &dev_commit[..12]));

    // Pathspec magic and patterns are names of folders that do not exist.
    for path in [":(glob)x?", "x[ab]", ":/", "*"] {
        let out = sb.kg(&[
            "promote",
            "--from",
            "infra-dev",
            "--to",
            "infra-staging",
            "--path",
            path,
        ]);
        out.refused(&["does not exist"]);
    }
    // The folder named x? is one folder too.
    let p = promote(
        &sb,
        &[
            "--from",
            "infra-dev",
            "--to",
            "infra-staging",
            "--path",
            "x?",
            "--branch",
            "promote/question",
        ],
    );
    assert_eq!(
        sb.changes(&envs.staging, &base, &p.branch),
        ["M\tx?/cm.yaml"]
    );
}

#[test]
fn promote_refuses_paths_that_leave_the_repository() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Shared);
    add_payments_db(&sb, &envs.dev);
    for path in [
        "../infra-prod",
        "databases/../../infra-prod",
        "/etc",
        ".git",
        "databases/.git",
        "a\nPromoted-from-commit: 0000000000000000000000000000000000000000",
    ] {
        let out = sb.kg(&[
            "promote",
            "--from",
            "infra-dev",
            "--to",
            "infra-staging",
            "--path",
            path,
        ]);
        out.refused(&["--path"]);
    }
    assert_eq!(sb.branches(&envs.staging), ["main"]);
}

#[test]
fn promote_refuses_branch_names_that_are_not_branch_names() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Shared);
    add_payments_db(&sb, &envs.dev);
    for branch in [
        "refs/heads/main",
        "refs/heads/promote/x",
        "-f",
        "@{-1}",
        "HEAD",
        "a..b",
        "x.lock",
        "promote/",
        "",
    ] {
        let flag = format!("--branch={branch}");
        let out = sb.kg(&[
            "promote",
            "--from",
            "infra-dev",
            "--to",
            "infra-staging",
            &flag,
        ]);
        out.refused(&["is not a valid branch name"]);
    }
    assert_eq!(sb.branches(&envs.staging), ["main"]);
    assert_eq!(
        sb.git(&envs.staging, &["for-each-ref", "--format=%(refname)"]),
        "refs/heads/main\nrefs/remotes/origin/HEAD\nrefs/remotes/origin/main",
        "no ref was created"
    );
}

#[test]
fn promote_commit_promotes_a_given_source_commit_and_rolls_back() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Shared);
    let first = add_payments_db(&sb, &envs.dev);
    edit(
        &envs.dev,
        "apps/orders-api.yaml",
        "orders-api:3.12.0",
        "orders-api:3.13.0",
    );
    let second = sb.commit_all(&envs.dev, "apps: orders-api 3.13.0");

    // The older commit, not HEAD.
    let base = sb.head(&envs.staging);
    let p = promote(
        &sb,
        &[
            "--from",
            "infra-dev",
            "--to",
            "infra-staging",
            "--commit",
            "HEAD~1",
        ],
    );
    assert_promotion(
        &sb,
        &envs.staging,
        &base,
        &p,
        &Expect {
            source: &envs.dev,
            source_commit: &first,
            path: ".",
            repo_trailer: display(&envs.dev),
            how: How::FastForward,
            author: &format!("{BOT_NAME} <{BOT_EMAIL}>"),
        },
    );
    merge(&sb, &envs.staging, &p.branch, History::Shared);

    // HEAD, then back to the first commit: a rollback is a promotion of an older commit.
    let p = promote(&sb, &["--from", "infra-dev", "--to", "infra-staging"]);
    merge(&sb, &envs.staging, &p.branch, History::Shared);
    assert!(show(&sb, &envs.staging, "HEAD", "apps/orders-api.yaml").contains("3.13.0"));
    let base = sb.head(&envs.staging);
    let p = promote(
        &sb,
        &[
            "--from",
            "infra-dev",
            "--to",
            "infra-staging",
            "--commit",
            &first,
        ],
    );
    // The branch name of the first promotion of that commit is taken (merged): numbered.
    assert_eq!(p.branch, format!("promote/infra-dev-{}-2", &first[..12]));
    assert_promotion(
        &sb,
        &envs.staging,
        &base,
        &p,
        &Expect {
            source: &envs.dev,
            source_commit: &first,
            path: ".",
            repo_trailer: display(&envs.dev),
            how: How::Copy,
            author: &format!("{BOT_NAME} <{BOT_EMAIL}>"),
        },
    );
    assert!(
        p.out
            .stdout
            .contains(&format!("last promoted: {} (", &second[..12])),
        "{}",
        p.out
    );
    assert_eq!(
        sb.changes(&envs.staging, &base, &p.branch),
        ["M\tapps/orders-api.yaml"]
    );

    // Not a commit of the source: refused.
    for rev in [
        "no-such-branch",
        "--all",
        "0000000000000000000000000000000000000000",
    ] {
        let flag = format!("--commit={rev}");
        let out = sb.kg(&[
            "promote",
            "--from",
            "infra-dev",
            "--to",
            "infra-staging",
            &flag,
        ]);
        out.refused(&["not a"]);
    }
}

#[test]
fn promote_dry_run_creates_and_writes_nothing() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Shared);
    staging_hotfix(&sb, &envs.staging);
    edit(
        &envs.dev,
        "databases/orders-db.yaml",
        "name: postgres-aws\n",
        "name: postgres-aws-v2\n",
    );
    sb.commit_all(&envs.dev, "orders-db on v2");
    let fingerprint = sb.fingerprint(&envs.staging);
    let args = [
        "promote",
        "--from",
        "infra-dev",
        "--to",
        "infra-staging",
        "--from-env",
        "dev",
        "--to-env",
        "staging",
    ];
    let mut dry_args = args.to_vec();
    dry_args.push("--dry-run");
    let dry = sb.kg(&dry_args);
    dry.ok();
    assert!(
        dry.stdout.starts_with("dry run: would promote . from "),
        "{dry}"
    );
    assert!(!dry.stdout.contains("\ncommit: "), "{dry}");
    assert_eq!(
        sb.fingerprint(&envs.staging),
        fingerprint,
        "a dry run wrote objects or refs"
    );
    assert_eq!(sb.status(&envs.staging), "");
    assert_eq!(fs::read_dir(sb.tmp()).unwrap().count(), 0);

    // The real run reports the same promotion.
    let real = sb.kg(&args);
    real.ok();
    let commit = real.report_value("commit");
    assert_eq!(
        dry.stdout.replacen("dry run: would promote", "promoted", 1),
        real.stdout.replace(&format!("commit: {commit}\n"), "")
    );

    // On a dirty target a dry run warns instead of refusing.
    fs::write(envs.staging.join("scratch.md"), "wip\n").unwrap();
    let out = sb.kg(&[
        "promote",
        "--from",
        "infra-dev",
        "--to",
        "infra-staging",
        "--branch",
        "promote/other",
        "--dry-run",
    ]);
    out.ok();
    assert!(out.stderr.contains("uncommitted changes"), "{out}");
    assert!(!sb.branches(&envs.staging).contains(&"promote/other".into()));
}

#[test]
fn promote_folder_promotions_are_the_base_of_their_files() {
    let sb = Sandbox::new();
    let envs = recorded_environments(&sb, History::Independent);
    // databases travels alone first ...
    edit(
        &envs.dev,
        "databases/orders-db.yaml",
        "storageGB: 20",
        "storageGB: 25",
    );
    edit(
        &envs.dev,
        "apps/orders-api.yaml",
        "orders-api:3.12.0",
        "orders-api:3.13.0",
    );
    let databases_commit = sb.commit_all(&envs.dev, "orders-db 25 GB, orders-api 3.13.0");
    let p = promote(
        &sb,
        &[
            "--from",
            "infra-dev",
            "--to",
            "infra-staging",
            "--path",
            "databases",
        ],
    );
    assert!(p.out.stdout.contains(" as a copy\n"), "{}", p.out);
    merge(&sb, &envs.staging, &p.branch, History::Independent);
    // ... then the whole repository, with the same line changed again: the folder's own
    // promotion is its base, so this is no conflict and staging has not diverged.
    edit(
        &envs.dev,
        "databases/orders-db.yaml",
        "storageGB: 25",
        "storageGB: 40",
    );
    let dev_commit = sb.commit_all(&envs.dev, "orders-db 40 GB");
    let databases_status = sb.kg(&[
        "status",
        "infra-dev",
        "infra-staging",
        "--path",
        "databases",
    ]);
    databases_status.ok();
    assert!(
        databases_status.stdout.contains(&format!(
            "  last promoted: {} orders-db 25 GB, orders-api 3.13.0 (Promoted-from-commit in infra-staging@",
            &databases_commit[..12]
        )),
        "{databases_status}"
    );
    // The whole repository's status names the folder promoted on its own.
    let j = status_json(&sb, &["infra-dev", "infra-staging"]);
    assert_eq!(
        j["pairs"][0]["promotedInside"],
        serde_json::json!([{"path": "databases", "commit": databases_commit, "recordedIn": sb.git(&envs.staging, &["rev-parse", "HEAD^2"])}]),
        "{j}"
    );
    assert!(
        status(&sb, &["infra-dev", "infra-staging"]).contains(&format!(
            "\n  promoted on their own since: databases at {}\n",
            &databases_commit[..12]
        ))
    );
    let base = sb.head(&envs.staging);
    let p = promote(&sb, &["--from", "infra-dev", "--to", "infra-staging"]);
    assert_promotion(
        &sb,
        &envs.staging,
        &base,
        &p,
        &Expect {
            source: &envs.dev,
            source_commit: &dev_commit,
            path: ".",
            repo_trailer: display(&envs.dev),
            how: How::Copy,
            author: &format!("{BOT_NAME} <{BOT_EMAIL}>"),
        },
    );
    assert!(!p.out.stdout.contains("diverged"), "{}", p.out);
    assert_eq!(
        sb.changes(&envs.staging, &base, &p.branch),
        ["M\tapps/orders-api.yaml", "M\tdatabases/orders-db.yaml"]
    );
}

#[test]
fn promote_refuses_a_branch_that_does_not_render_in_the_target_environment() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Shared);
    fs::write(
        envs.dev.join("apps/broken.yaml"),
        "kind: ConfigMap\nmetadata:\n  name: no-api-version\n",
    )
    .unwrap();
    sb.commit_all(&envs.dev, "a broken manifest");
    let out = sb.kg(&[
        "promote",
        "--from",
        "infra-dev",
        "--to",
        "infra-staging",
        "--to-env",
        "staging",
    ]);
    out.refused(&["does not render as staging", "no branch was created"]);
    assert!(out.first_stderr_line().contains("broken.yaml"), "{out}");
    assert!(!out.stderr.contains(".tmp"), "temporary paths leak: {out}");
    assert_eq!(sb.branches(&envs.staging), ["main"]);
    // Without an environment to render, the promotion is made: rendering is the reviewer's
    // request, not a gate of its own.
    promote(&sb, &["--from", "infra-dev", "--to", "infra-staging"]);
}

// ---------------------------------------------------------------------------------------------
// status (issue 10, item 9)
// ---------------------------------------------------------------------------------------------

fn status(sb: &Sandbox, args: &[&str]) -> String {
    let mut argv = vec!["status"];
    argv.extend_from_slice(args);
    let out = sb.kg(&argv);
    out.ok();
    assert_eq!(out.stderr, "", "{out}");
    out.stdout
}

fn status_json(sb: &Sandbox, args: &[&str]) -> serde_json::Value {
    let mut argv = args.to_vec();
    argv.extend(["-o", "json"]);
    serde_json::from_str(&status(sb, &argv)).unwrap()
}

#[test]
fn status_of_a_promotion_chain() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Shared);
    let chain = ["infra-dev", "infra-staging", "infra-prod"];
    let initial = sb.head(&envs.dev);
    let fingerprints =
        |sb: &Sandbox| [&envs.dev, &envs.staging, &envs.prod].map(|r| sb.fingerprint(r));

    // Clones, nothing changed: in sync, from the merge base.
    let s = status(&sb, &chain);
    assert_eq!(
        s,
        format!(
            "infra-dev -> infra-staging\n  path: .\n  last promoted: {i} infra-dev: the orders environment (no promotion recorded; the merge base of their histories)\n  pending: 0 source commits\n  diverged: no\n  in sync: yes, the path is identical\n\n\
             infra-staging -> infra-prod\n  path: .\n  last promoted: {i} infra-dev: the orders environment (no promotion recorded; the merge base of their histories)\n  pending: 0 source commits\n  diverged: no\n  in sync: yes, the path is identical\n",
            i = &initial[..12]
        )
    );

    // Two dev commits: pending for staging, newest first, with their subjects.
    let first = add_payments_db(&sb, &envs.dev);
    edit(
        &envs.dev,
        "apps/orders-api.yaml",
        "orders-api:3.12.0",
        "orders-api:3.13.0",
    );
    let second = sb.commit_all(&envs.dev, "apps: orders-api 3.13.0");
    let before = fingerprints(&sb);
    let s = status(&sb, &chain);
    assert!(
        s.starts_with(&format!(
            "infra-dev -> infra-staging\n  path: .\n  last promoted: {} infra-dev: the orders environment (no promotion recorded; the merge base of their histories)\n  pending: 2 source commits\n    {} apps: orders-api 3.13.0\n    {} databases: payments-db for the payments service\n  diverged: no\n  in sync: no\n",
            &initial[..12],
            &second[..12],
            &first[..12]
        )),
        "{s}"
    );
    // status reads only.
    assert_eq!(fingerprints(&sb), before, "status wrote into a repository");
    assert_eq!(fs::read_dir(sb.tmp()).unwrap().count(), 0);

    // Only the databases folder: one pending commit.
    let j = status_json(&sb, &["infra-dev", "infra-staging", "--path", "databases"]);
    assert_eq!(j["path"], "databases");
    let pair = &j["pairs"][0];
    assert_eq!(pair["source"]["name"], "infra-dev");
    assert_eq!(pair["target"]["name"], "infra-staging");
    assert_eq!(pair["source"]["head"], second.as_str());
    assert_eq!(pair["lastPromoted"]["commit"], initial.as_str());
    assert_eq!(pair["lastPromoted"]["from"], "merge-base");
    assert_eq!(
        pair["pending"],
        serde_json::json!([{"commit": first, "subject": "databases: payments-db for the payments service"}])
    );
    assert_eq!(pair["diverged"], false);
    assert_eq!(pair["inSync"], false);

    // Promoted and merged: staging is up to date and records it; prod now has pending
    // commits (the trailer commit is empty and not one of them).
    let p = promote(&sb, &["--from", "infra-dev", "--to", "infra-staging"]);
    let staging_head = merge(&sb, &envs.staging, &p.branch, History::Shared);
    let j = status_json(&sb, &chain);
    let (dev_staging, staging_prod) = (&j["pairs"][0], &j["pairs"][1]);
    assert_eq!(dev_staging["lastPromoted"]["commit"], second.as_str());
    assert_eq!(dev_staging["lastPromoted"]["from"], "trailer");
    assert_eq!(
        dev_staging["lastPromoted"]["recordedIn"],
        staging_head.as_str()
    );
    assert_eq!(dev_staging["pending"], serde_json::json!([]));
    assert_eq!(dev_staging["inSync"], true);
    assert_eq!(staging_prod["source"]["head"], staging_head.as_str());
    let pending: Vec<&str> = staging_prod["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["commit"].as_str().unwrap())
        .collect();
    assert_eq!(pending, [second.as_str(), first.as_str()]);

    // A hotfix in staging: diverged, with its file and commit.
    let hotfix = staging_hotfix(&sb, &envs.staging);
    let s = status(&sb, &chain);
    assert!(
        s.contains(&format!(
            "  diverged: yes, infra-staging changed 2 files since: .github/CODEOWNERS, databases/orders-db.yaml\n    commits: {} {HOTFIX}\n  in sync: no\n",
            &hotfix[..12]
        )),
        "{s}"
    );
    let j = status_json(&sb, &chain);
    assert_eq!(j["pairs"][0]["diverged"], true);
    assert_eq!(
        j["pairs"][0]["targetChanges"]["files"],
        serde_json::json!([".github/CODEOWNERS", "databases/orders-db.yaml"])
    );
    assert_eq!(
        j["pairs"][0]["targetChanges"]["commits"][0]["commit"],
        hotfix.as_str()
    );
    // The apps folder did not diverge.
    let j = status_json(&sb, &["infra-dev", "infra-staging", "--path", "apps"]);
    assert_eq!(j["pairs"][0]["diverged"], false);
    assert_eq!(j["pairs"][0]["inSync"], true);
}

#[test]
fn status_reads_promotions_merged_by_squash() {
    let sb = Sandbox::new();
    let envs = recorded_environments(&sb, History::Independent);
    edit(
        &envs.dev,
        "apps/orders-api.yaml",
        "orders-api:3.12.0",
        "orders-api:3.13.0",
    );
    let dev_commit = sb.commit_all(&envs.dev, "apps: orders-api 3.13.0");
    fs::write(
        envs.dev.join("databases/billing-db.yaml"),
        PAYMENTS_DB.replace("payments-db", "billing-db"),
    )
    .unwrap();
    let dev_commit2 = sb.commit_all(&envs.dev, "databases: billing-db");
    let p = promote(
        &sb,
        &[
            "--from",
            "infra-dev",
            "--to",
            "infra-staging",
            "--commit",
            &dev_commit,
        ],
    );
    // A squash merge keeps the promotion commit's message in the new commit's body.
    sb.git(&envs.staging, &["merge", "-q", "--squash", &p.branch]);
    sb.git(&envs.staging, &["commit", "-q", "--no-edit"]);
    let squash = sb.head(&envs.staging);
    let j = status_json(&sb, &["infra-dev", "infra-staging"]);
    let pair = &j["pairs"][0];
    assert_eq!(pair["lastPromoted"]["commit"], dev_commit.as_str(), "{j}");
    assert_eq!(pair["lastPromoted"]["recordedIn"], squash.as_str());
    assert_eq!(pair["pending"][0]["commit"], dev_commit2.as_str());
    assert_eq!(pair["diverged"], false);
}

#[test]
fn status_without_a_recorded_promotion_or_shared_history() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Independent);
    let s = status(&sb, &["infra-dev", "infra-staging"]);
    assert!(
        s.contains("  last promoted: never (no Promoted-from-commit trailer and no shared history; the first promotion needs --force)\n  pending: unknown\n  diverged: unknown\n  in sync: yes, the path is identical\n"),
        "{s}"
    );
    let j = status_json(&sb, &["infra-dev", "infra-staging"]);
    assert_eq!(j["pairs"][0]["lastPromoted"], serde_json::Value::Null);
    assert_eq!(j["pairs"][0]["pending"], serde_json::Value::Null);
    assert_eq!(j["pairs"][0]["diverged"], serde_json::Value::Null);
    add_payments_db(&sb, &envs.dev);
    let j = status_json(&sb, &["infra-dev", "infra-staging"]);
    assert_eq!(j["pairs"][0]["inSync"], false);

    // Refusals: one repository, one given twice in a row, a path that leaves, not git.
    sb.kg(&["status", "infra-dev"]).refused(&[]);
    sb.kg(&["status", "infra-dev", "infra-dev"])
        .refused(&["given twice"]);
    sb.kg(&["status", "infra-dev", "infra-staging", "--path", "../x"])
        .refused(&["--path"]);
    fs::create_dir(sb.path("loose")).unwrap();
    sb.kg(&["status", "infra-dev", "loose"])
        .refused(&["not inside a git repository"]);
}

// ---------------------------------------------------------------------------------------------
// Pattern 3 in CI: pushes, prune, list (issue 10, item 10; issue 8)
// ---------------------------------------------------------------------------------------------

/// A ConfigMap-only app named `name` (its folder's name is the app name).
fn small_app(sb: &Sandbox, name: &str) -> String {
    let dir = sb.path(&format!("apps/{name}"));
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("settings.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-settings\ndata:\n  greeting: hello\n"),
    )
    .unwrap();
    format!("apps/{name}")
}

/// The infra-pr remote: a bare repository holding a README.
fn infra_pr_remote(sb: &Sandbox) -> PathBuf {
    sb.bare_repo(
        "infra-pr.git",
        &[("README.md", "# Pull request environments\n")],
    )
}

/// Top-level entries of a commit's tree.
fn top_level(sb: &Sandbox, repo: &Path, rev: &str) -> Vec<String> {
    sb.git(repo, &["ls-tree", "--name-only", rev])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Every commit of `main` in the remote touches one preview directory and nothing else;
/// the history is linear. Returns the subjects, oldest first.
fn remote_history(sb: &Sandbox, bare: &Path) -> Vec<String> {
    let commits = sb.git(bare, &["rev-list", "--reverse", "--parents", "main"]);
    let mut subjects = Vec::new();
    for line in commits.lines().skip(1) {
        let ids: Vec<&str> = line.split(' ').collect();
        assert_eq!(
            ids.len(),
            2,
            "a merge commit in {line}: the history must be linear"
        );
        let subject = sb.git(bare, &["log", "-1", "--format=%s", ids[0]]);
        let dir = subject.rsplit(' ').next().unwrap().to_string();
        for change in sb.changes(bare, ids[1], ids[0]) {
            let file = change.split_once('\t').unwrap().1;
            assert!(
                file.starts_with(&format!("{dir}/")),
                "{subject}: {file} is outside {dir}/"
            );
        }
        subjects.push(subject);
    }
    subjects
}

#[test]
fn preview_push_lands_every_concurrent_writer() {
    let sb = Sandbox::new();
    let bare = infra_pr_remote(&sb);
    // Every push takes a while on the server, so the writers overlap and all but one of
    // each round are rejected.
    let hook = bare.join("hooks/pre-receive");
    fs::write(&hook, "#!/bin/sh\ncat >/dev/null\nsleep 0.3\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    }
    const WRITERS: usize = 6;
    let mut runs = Vec::new();
    let mut names = Vec::new();
    for i in 0..WRITERS {
        let app = small_app(&sb, &format!("app{i}"));
        let checkout = sb.clone_shallow(&bare, &format!("ci-{i}"));
        // Other work in the checkout is never committed or pushed.
        fs::write(checkout.join("README.md"), format!("# edited by job {i}\n")).unwrap();
        let pr = (100 + i).to_string();
        names.push(format!("app{i}-pr-{pr}"));
        runs.push(
            [
                "preview",
                "up",
                &app,
                "--pr",
                &pr,
                "--repo",
                &format!("ci-{i}"),
                "--push",
            ]
            .map(str::to_string)
            .to_vec(),
        );
    }
    let outs = sb.kg_concurrently(&runs);
    let mut retried = 0;
    for (i, out) in outs.iter().enumerate() {
        out.ok();
        assert!(out.stdout.contains("pushed "), "{out}");
        if out.stdout.contains("rejected by concurrent updates first") {
            retried += 1;
        }
        let checkout = sb.path(&format!("ci-{i}"));
        assert_eq!(
            sb.status(&checkout),
            " M README.md",
            "job {i}: local work kept"
        );
    }
    assert!(
        retried > 0,
        "no writer was ever rejected: the test did not test the retry"
    );
    let mut expected: Vec<String> = names.clone();
    expected.push("README.md".into());
    expected.sort();
    assert_eq!(top_level(&sb, &bare, "main"), expected);
    let subjects = remote_history(&sb, &bare);
    assert_eq!(subjects.len(), WRITERS, "{subjects:?}");
    assert_eq!(
        sb.git(&bare, &["show", "main:README.md"]),
        "# Pull request environments",
        "no local edit was pushed"
    );

    // The same jobs again: every preview is up to date, nothing is pushed.
    let outs = sb.kg_concurrently(&runs);
    for out in &outs {
        out.ok();
        assert!(
            out.stdout.contains("nothing to push") || out.stdout.contains("up to date"),
            "{out}"
        );
    }
    assert_eq!(remote_history(&sb, &bare).len(), WRITERS);

    // Half of them close at once.
    let downs: Vec<Vec<String>> = (0..WRITERS / 2)
        .map(|i| {
            [
                "preview",
                "down",
                "--pr",
                &(100 + i).to_string(),
                "--app",
                &format!("app{i}"),
                "--repo",
                &format!("ci-{i}"),
                "--push",
            ]
            .map(str::to_string)
            .to_vec()
        })
        .collect();
    for out in sb.kg_concurrently(&downs) {
        out.ok();
        assert!(out.stdout.contains("pushed "), "{out}");
    }
    let mut expected: Vec<String> = names[WRITERS / 2..].to_vec();
    expected.push("README.md".into());
    expected.sort();
    assert_eq!(top_level(&sb, &bare, "main"), expected);
    assert_eq!(remote_history(&sb, &bare).len(), WRITERS + WRITERS / 2);
}

#[test]
fn preview_push_rebases_onto_a_concurrent_update_and_keeps_local_work() {
    let sb = Sandbox::new();
    let bare = infra_pr_remote(&sb);
    let a = sb.clone_shallow(&bare, "job-a");
    let a_head = sb.head(&a);
    let b = sb.clone_shallow(&bare, "job-b");
    let (web, api) = (small_app(&sb, "web"), small_app(&sb, "api"));
    // Job b has work of its own: a modified file and a staged one.
    fs::write(b.join("README.md"), "# edited\n").unwrap();
    fs::write(b.join("notes.md"), "# notes\n").unwrap();
    sb.git(&b, &["add", "notes.md"]);

    let out = sb.kg(&[
        "preview", "up", &web, "--pr", "7", "--repo", "job-a", "--push",
    ]);
    out.ok();
    assert!(out.stdout.contains("pushed "), "{out}");
    assert!(!out.stdout.contains("rebased"), "{out}");
    assert_ne!(sb.head(&a), a_head, "job a's checkout follows its push");
    // Job b started from the same commit: its push is rejected once, then rebased.
    let out = sb.kg(&[
        "preview", "up", &api, "--pr", "9", "--repo", "job-b", "--push",
    ]);
    out.ok();
    assert!(
        out.stdout.contains(", which others pushed meanwhile)"),
        "{out}"
    );
    assert_eq!(out.stderr, "", "{out}");
    let pushed = sb.git(&bare, &["rev-parse", "main"]);
    assert!(out.stdout.contains(&format!("pushed {pushed}")), "{out}");
    assert_eq!(out.report_value("upstream"), pushed);
    assert_eq!(
        top_level(&sb, &bare, "main"),
        ["README.md", "api-pr-9", "web-pr-7"]
    );
    assert_eq!(
        remote_history(&sb, &bare),
        ["preview up: web-pr-7", "preview up: api-pr-9"]
    );
    // Job b's checkout follows the pushed commit, with its own work as it was.
    assert_eq!(sb.head(&b), pushed);
    assert_eq!(sb.status(&b), " M README.md\nA  notes.md");
    assert!(b.join("web-pr-7").is_dir());
    assert_eq!(
        sb.git(&bare, &["show", "main:README.md"]),
        "# Pull request environments"
    );
}

#[test]
fn preview_push_stops_at_a_rejection_a_fetch_cannot_fix() {
    let sb = Sandbox::new();
    let bare = infra_pr_remote(&sb);
    let hook = bare.join("hooks/pre-receive");
    fs::write(&hook, "#!/bin/sh\necho 'previews are frozen' >&2\nexit 1\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    }
    sb.clone_shallow(&bare, "job");
    let web = small_app(&sb, "web");
    let start = std::time::Instant::now();
    let out = sb.kg(&[
        "preview", "up", &web, "--pr", "7", "--repo", "job", "--push",
    ]);
    out.refused(&[
        "git push origin refs/heads/main",
        "was refused: [remote rejected] (pre-receive hook declined); remote: previews are frozen",
    ]);
    // Not retried: a retry would pause between rounds.
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(top_level(&sb, &bare, "main"), ["README.md"]);

    // A checkout without a remote cannot push: refused before anything is written.
    let local = infra_pr(&sb);
    let out = sb.kg(&[
        "preview", "up", &web, "--pr", "7", "--repo", "infra-pr", "--push",
    ]);
    out.refused(&["no remote to push to"]);
    assert!(!local.join("web-pr-7").exists());
}

/// An infra-pr checkout with previews of `app` for `prs`, committed.
fn with_previews(sb: &Sandbox, infra: &Path, app: &str, prs: &[&str]) {
    let dir = if sb.path(&format!("apps/{app}")).exists() {
        format!("apps/{app}")
    } else {
        small_app(sb, app)
    };
    let repo = infra.file_name().unwrap().to_str().unwrap();
    for pr in prs {
        sb.kg(&["preview", "up", &dir, "--pr", pr, "--repo", repo])
            .ok();
    }
}

#[test]
fn preview_prune_removes_the_previews_of_closed_pull_requests() {
    let sb = Sandbox::new();
    let infra = infra_pr(&sb);
    with_previews(&sb, &infra, "web", &["3", "12", "15", "40"]);
    with_previews(&sb, &infra, "api", &["3"]);

    // Two apps: pull request numbers are per repository, so the app must be named.
    let out = sb.kg(&["preview", "prune", "--keep", "12,15", "--repo", "infra-pr"]);
    out.refused(&["several apps", "api", "web", "--app"]);

    // A dry run changes nothing.
    let head = sb.head(&infra);
    let out = sb.kg(&[
        "preview",
        "prune",
        "--keep",
        "12,15",
        "--app",
        "web",
        "--repo",
        "infra-pr",
        "--dry-run",
    ]);
    out.ok();
    assert!(out.stdout.contains("would remove"), "{out}");
    assert_eq!(sb.head(&infra), head);
    assert!(infra.join("web-pr-3").is_dir());

    let out = sb.kg(&[
        "preview", "prune", "--keep", "12,15", "--app", "web", "--repo", "infra-pr",
    ]);
    out.ok();
    assert_eq!(subject(&sb, &infra), "preview prune: web-pr-3 web-pr-40");
    let mut changes = sb.changes(&infra, &head, "HEAD");
    changes.retain(|c| c.ends_with(".yaml"));
    assert!(!changes.is_empty());
    for c in &changes {
        let file = c.split_once('\t').unwrap().1;
        assert!(
            c.starts_with("D\t")
                && (file.starts_with("web-pr-3/") || file.starts_with("web-pr-40/")),
            "{c}"
        );
    }
    let mut left: Vec<String> = fs::read_dir(&infra)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [".git", "README.md", "api-pr-3", "web-pr-12", "web-pr-15"]
    );
    assert_eq!(sb.status(&infra), "");

    // Again: nothing to prune. The app named by its directory works too.
    let head = sb.head(&infra);
    let out = sb.kg(&[
        "preview", "prune", "apps/web", "--keep", "15,12", "--repo", "infra-pr",
    ]);
    out.ok();
    assert!(out.stdout.contains("nothing to prune"), "{out}");
    assert_eq!(sb.head(&infra), head);

    // No pull request open: every preview of the app goes; api's stays.
    sb.kg(&[
        "preview", "prune", "--keep", "", "--app", "web", "--repo", "infra-pr",
    ])
    .ok();
    assert!(!infra.join("web-pr-12").exists() && !infra.join("web-pr-15").exists());
    assert!(infra.join("api-pr-3").is_dir());

    // Bad numbers and names are refused.
    for keep in ["12,abc", "012", "1/../2"] {
        sb.kg(&[
            "preview", "prune", "--keep", keep, "--app", "api", "--repo", "infra-pr",
        ])
        .refused(&["--keep"]);
    }
    sb.kg(&[
        "preview", "prune", "--keep", "1", "--app", "../api", "--repo", "infra-pr",
    ])
    .refused(&["--app"]);
    assert!(infra.join("api-pr-3").is_dir());
}

#[test]
fn preview_prune_push_publishes_the_removal() {
    let sb = Sandbox::new();
    let bare = infra_pr_remote(&sb);
    let job = sb.clone_shallow(&bare, "job");
    with_previews(&sb, &job, "web", &["3", "12"]);
    sb.git(&job, &["push", "-q", "origin", "main"]);
    // Another job pushes a preview meanwhile: the prune is rebased onto it.
    let other = sb.clone_shallow(&bare, "other");
    let api = small_app(&sb, "api");
    sb.kg(&[
        "preview", "up", &api, "--pr", "5", "--repo", "other", "--push",
    ])
    .ok();
    let out = sb.kg(&[
        "preview", "prune", "--keep", "12", "--app", "web", "--repo", "job", "--push",
    ]);
    out.ok();
    assert!(
        out.stdout.contains(", which others pushed meanwhile)"),
        "{out}"
    );
    assert_eq!(
        top_level(&sb, &bare, "main"),
        ["README.md", "api-pr-5", "web-pr-12"]
    );
    assert!(other.join("api-pr-5").is_dir());
}

#[test]
fn preview_list_has_a_header_numeric_order_and_json() {
    let sb = Sandbox::new();
    let infra = infra_pr(&sb);
    with_previews(&sb, &infra, "web", &["100", "9", "10"]);
    with_previews(&sb, &infra, "api", &["2"]);
    let out = sb.kg(&["preview", "list", "--repo", "infra-pr"]);
    out.ok();
    let rows: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows.iter().map(|r| r[0]).collect::<Vec<_>>(),
        ["PREVIEW", "api-pr-2", "web-pr-9", "web-pr-10", "web-pr-100"],
        "{out}"
    );
    assert_eq!(
        rows[0],
        ["PREVIEW", "APP", "PR", "OBJECTS", "SOURCE", "COMMIT"]
    );
    // Columns align: every cell starts where its header does.
    let header = out.stdout.lines().next().unwrap();
    let pr_col = header.find("PR ").unwrap();
    for line in out.stdout.lines().skip(1) {
        assert_ne!(line.as_bytes()[pr_col], b' ', "{line}");
        assert_eq!(line.as_bytes()[pr_col - 1], b' ', "{line}");
    }
    // The apps are folders outside any repository: no source commit.
    assert_eq!(rows[1], ["api-pr-2", "api", "2", "2", "-"]);

    let out = sb.kg(&["preview", "list", "--repo", "infra-pr", "-o", "json"]);
    out.ok();
    let j: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let previews = j["previews"].as_array().unwrap();
    let prs: Vec<u64> = previews.iter().map(|p| p["pr"].as_u64().unwrap()).collect();
    assert_eq!(prs, [2, 9, 10, 100]);
    assert_eq!(previews[1]["name"], "web-pr-9");
    assert_eq!(previews[1]["app"], "web");
    assert_eq!(previews[1]["objects"], 2);
    assert_eq!(previews[1]["sourceCommit"], serde_json::Value::Null);

    // Nothing there: an empty table says so on stderr, JSON is an empty list.
    let empty = sb.path("empty-pr");
    fs::create_dir(&empty).unwrap();
    sb.git(&empty, &["init", "-q", "-b", "main"]);
    let out = sb.kg(&["preview", "list", "--repo", "empty-pr"]);
    out.ok();
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("no previews"), "{out}");
    let out = sb.kg(&["preview", "list", "--repo", "empty-pr", "-o", "json"]);
    out.ok();
    assert_eq!(out.stdout, "{\n  \"previews\": []\n}\n");
}

#[test]
fn preview_down_refuses_an_app_or_number_that_is_not_a_name() {
    let sb = Sandbox::new();
    let infra = infra_pr(&sb);
    with_previews(&sb, &infra, "keep", &["3"]);
    with_previews(&sb, &infra, "other-app", &["3"]);
    // `keep/../other-app-pr-3` would be another app's preview.
    let head = sb.head(&infra);
    for app in [
        "keep/../other-app",
        "../other-app",
        "other-app/",
        "Other-App",
        "",
    ] {
        sb.kg(&[
            "preview", "down", "--pr", "3", "--app", app, "--repo", "infra-pr",
        ])
        .refused(&["--app"]);
    }
    for pr in ["3/../../x", "03", "-1"] {
        let flag = format!("--pr={pr}");
        sb.kg(&[
            "preview", "down", &flag, "--app", "keep", "--repo", "infra-pr",
        ])
        .refused(&["--pr"]);
    }
    assert_eq!(sb.head(&infra), head);
    assert!(infra.join("keep-pr-3").is_dir() && infra.join("other-app-pr-3").is_dir());
}

// ---------------------------------------------------------------------------------------------
// The GitHub Actions examples
// ---------------------------------------------------------------------------------------------

/// Splits a shell command line into words: single and double quotes, no expansion.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut started = false;
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                started = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            (_, c) => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

/// Every `kubectl-gitops ...` command of the `run:` scripts of a workflow, with GitHub
/// expressions and shell variables replaced by plausible values.
fn kubectl_gitops_commands(workflow: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    for doc in yaml::documents(workflow) {
        for (path, script) in &doc {
            if !path.ends_with(".run") {
                continue;
            }
            let script = script.replace("\\\n", " ");
            for line in script.lines() {
                let line = line.trim();
                let Some(start) = line.find("kubectl-gitops ") else {
                    continue;
                };
                if line.starts_with('#') || line.starts_with("cargo install") {
                    continue;
                }
                let mut command = line[start..].to_string();
                // Up to the end of the command: a pipe, a redirection, a list.
                for stop in [" | ", " > ", " && ", " ; "] {
                    if let Some(i) = command.find(stop) {
                        command.truncate(i);
                    }
                }
                let mut expanded = command.clone();
                while let Some(i) = expanded.find("${{") {
                    let end = expanded[i..].find("}}").unwrap() + i + 2;
                    expanded.replace_range(i..end, "12,15");
                }
                let expanded = expanded
                    .replace("$PR", "7")
                    .replace("$APP", "my-microservice");
                commands.push(shell_words(&expanded));
            }
        }
    }
    commands
}

#[test]
fn github_actions_examples_run_real_commands() {
    use clap::Parser as _;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/github-actions");
    let mut seen = std::collections::BTreeSet::new();
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        for argv in kubectl_gitops_commands(&text) {
            let parsed = kubectl_gitops::cli::Cli::try_parse_from(&argv);
            assert!(
                parsed.is_ok(),
                "{}: {argv:?} does not parse: {}",
                file.display(),
                parsed.err().unwrap()
            );
            let flags: Vec<&str> = argv
                .iter()
                .filter(|a| a.starts_with("--"))
                .map(String::as_str)
                .collect();
            // The subcommand: one word, two for `preview`.
            let n = if argv[1] == "preview" { 2 } else { 1 };
            let words: Vec<&str> = argv[1..=n].iter().map(String::as_str).collect();
            seen.insert(format!("{} {}", words.join(" "), flags.join(" ")));
        }
    }
    let seen: Vec<&str> = seen.iter().map(String::as_str).collect();
    // What the examples must show: pushes that survive concurrent jobs, pruning, the
    // chain's status, a promotion with the target environment's diff.
    for wanted in [
        "preview up --pr --repo --push",
        "preview down --app --pr --repo --push",
        "preview prune --app --keep --repo --push",
        "preview list --repo",
        "status ",
        "promote --from --to --from-env --to-env",
        "check --pr",
    ] {
        assert!(
            seen.contains(&wanted),
            "no `{wanted}` in the examples: {seen:#?}"
        );
    }
}

#[test]
fn shell_words_split_like_a_shell() {
    assert_eq!(
        shell_words(r#"a "b c" 'd e' "" f"g"h"#),
        ["a", "b c", "d e", "", "fgh"]
    );
}

#[test]
fn promote_carries_a_removal_over() {
    let sb = Sandbox::new();
    let envs = environments(&sb, History::Shared);
    // dev retires the apps folder; staging still runs it.
    fs::remove_dir_all(envs.dev.join("apps")).unwrap();
    fs::write(envs.dev.join("databases/note.yaml"), "# unrelated\n").unwrap();
    let dev_commit = sb.commit_all(&envs.dev, "retire apps");
    let base = sb.head(&envs.staging);
    let p = promote(
        &sb,
        &[
            "--from",
            "infra-dev",
            "--to",
            "infra-staging",
            "--path",
            "apps",
        ],
    );
    assert!(p.out.stdout.contains(" as a copy\n"), "{}", p.out);
    assert_eq!(
        sb.changes(&envs.staging, &base, &p.branch),
        ["D\tapps/orders-api.yaml"]
    );
    assert_eq!(
        trailers(&sb, &envs.staging, &p.branch)[1].1,
        dev_commit,
        "the removal is recorded like any promotion"
    );
    // Gone on both sides, the path names nothing (most likely a typo): refused.
    merge(&sb, &envs.staging, &p.branch, History::Shared);
    let again = sb.kg(&[
        "promote",
        "--from",
        "infra-dev",
        "--to",
        "infra-staging",
        "--path",
        "apps",
    ]);
    again.refused(&["apps does not exist"]);
}

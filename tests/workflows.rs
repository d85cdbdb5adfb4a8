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
        let source_commits = sb.git(e.source, &["rev-list", &format!("{base}..HEAD")]);
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
        assert!(!sb.git_ok(
            target,
            &["merge-base", "--is-ancestor", e.source_commit, &p.branch]
        ));
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
    rest.split("\n\n").next().unwrap()
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
    let branches = sb.branches(to);
    let out = sb.kg(&["promote", "--from", from, "--to", to.to_str().unwrap()]);
    out.refused(&["share no history", "--force", "Promoted-from-commit"]);
    assert_eq!(sb.branches(to), branches);
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

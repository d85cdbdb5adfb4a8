//! kubectl-gitops: per-environment and per-pull-request identity for Kubernetes manifests
//! and Crossplane claims, as an Argo CD Config Management Plugin and a kubectl plugin.
//!
//! `render(files, identity) -> manifests` (DESIGN.md §1). The crate is laid out as the
//! render's steps:
//!
//! - [`cli`]: the command line, as data.
//! - [`config`]: gitops.yaml and the identity, validated once.
//! - [`source`]: step 1, reading files into objects ([`model`]), through [`yaml`].
//! - [`transform`]: steps 2–9, in a fixed order, joined by an explicit rename map.
//! - [`output`]: step 10, bytes for stdout or a directory.
//! - [`render`]: one render from request to documents, shared by every command.
//! - [`cmp`]: the Argo CD plugin's environment (`generate`, `parameters`).
//! - [`check`]: rules that find what would break, one module per rule.
//! - [`diff`], [`promote`], [`status`], [`preview`] (over [`git`]): the GitOps workflows.
//! - [`collections`]: the hash maps every module indexes with (their hasher, per build).
//! - [`completion`], [`version`], [`color`]: shell completion, build metadata, terminal
//!   colour.
//!
//! [`run`] is the binary's whole behaviour, with its streams passed in so tests can drive it.

pub mod check;
pub mod cli;
pub mod cmp;
pub mod collections;
pub mod color;
pub mod completion;
pub mod config;
pub mod diag;
pub mod diff;
pub mod error;
pub mod git;
pub mod krm;
pub mod model;
pub mod naming;
pub mod output;
pub mod packs;
pub mod preview;
pub mod promote;
pub mod render;
pub mod source;
pub mod status;
pub mod transform;
pub mod version;
pub mod yaml;

use std::io::{Read, Write};

use cli::{
    CheckArgs, Cli, Command, DiffArgs, IdentityArgs, ParametersArgs, PreviewCommand, PromoteArgs,
    RenderArgs, ReportFormat, StatusArgs,
};
use config::{IdentityRequest, Sourced};
use diag::Warning;
use error::Error;

/// How the process ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: success.
    Success,
    /// 1: `check` findings, `diff` differences.
    Failure,
    /// 2: every error and refusal; nothing was printed on stdout.
    Error,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Error => 2,
        }
    }
}

/// The process's streams and environment.
pub struct Io<'a> {
    pub stdin: &'a mut dyn Read,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
    /// The process environment (`std::env::vars()` in the binary).
    pub env: Vec<(String, String)>,
    /// Whether stdout is a terminal (for `--color auto`).
    pub stdout_is_terminal: bool,
}

/// Runs a parsed command line.
pub fn run(cli: Cli, io: &mut Io<'_>) -> ExitStatus {
    let mut warnings = Vec::new();
    let color = color::enabled(cli.color, io.stdout_is_terminal, &io.env);
    let result = match cli.command {
        Command::Render(args) => cmd_render(&args, io, &mut warnings),
        Command::Generate => cmd_generate(io, &mut warnings),
        Command::Parameters(args) => cmd_parameters(&args, io, &mut warnings),
        Command::Check(args) => cmd_check(&args, io, color, &mut warnings),
        Command::Diff(args) => cmd_diff(&args, io, color, &mut warnings),
        Command::Promote(args) => cmd_promote(&args, io, &mut warnings),
        Command::Status(args) => cmd_status(&args, io),
        Command::Preview(cmd) => cmd_preview(cmd, io, &mut warnings),
        Command::Version(args) => {
            let text = match args.output {
                cli::VersionFormat::Text => version::text(),
                cli::VersionFormat::Json => version::json(),
            };
            write_stdout(io, text.as_bytes()).map(|()| ExitStatus::Success)
        }
        Command::Fn(args) => cmd_fn(&args, io, &mut warnings),
        Command::Completion(args) => write_stdout(io, completion::script(args.shell).as_bytes())
            .map(|()| ExitStatus::Success),
        Command::Complete(args) => {
            let root = cli::command(cli::Invocation::Direct);
            let text = completion::answer(&root, &args.words);
            write_stdout(io, text.as_bytes()).map(|()| ExitStatus::Success)
        }
    };
    finish(result, &warnings, color, io)
}

/// Prints the error (first line of stderr) and then the warnings. An error that has no
/// location says `error:` first, as clap's do; located ones start with `path:line:col:`.
fn finish(
    result: Result<ExitStatus, Error>,
    warnings: &[Warning],
    color: bool,
    io: &mut Io<'_>,
) -> ExitStatus {
    let status = match &result {
        Ok(s) => *s,
        Err(e) if e.is_located() => {
            let _ = writeln!(io.stderr, "{e}");
            ExitStatus::Error
        }
        Err(e) => {
            let _ = writeln!(io.stderr, "{} {e}", color::error_prefix(color));
            ExitStatus::Error
        }
    };
    for w in warnings {
        let _ = writeln!(io.stderr, "{w}");
    }
    status
}

fn write_stdout(io: &mut Io<'_>, bytes: &[u8]) -> Result<(), Error> {
    match io.stdout.write_all(bytes).and_then(|()| io.stdout.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not an error (ripgrep's rule).
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(Error::Io {
            path: "<stdout>".into(),
            source,
        }),
        Ok(()) => Ok(()),
    }
}

/// The command-line layer of the identity.
pub fn identity_from_flags(args: &IdentityArgs) -> IdentityRequest {
    let one = |v: &Option<String>, flag: &str| {
        v.iter()
            .map(|v| Sourced::new(v.clone(), flag.to_string()))
            .collect()
    };
    IdentityRequest {
        app: one(&args.app, "--app"),
        env: one(&args.env, "--env"),
        pr: one(&args.pr, "--pr"),
        namespace: one(&args.namespace, "--namespace"),
        ..IdentityRequest::default()
    }
}

fn cmd_render(
    args: &RenderArgs,
    io: &mut Io<'_>,
    warnings: &mut Vec<Warning>,
) -> Result<ExitStatus, Error> {
    let mut identity = identity_from_flags(&args.identity);
    // The shell's GITOPS_* variables are the lowest layer, as the sidecar's are in Argo CD;
    // an unknown GITOPS_* name is a warning here (an error in generate).
    let layer = cmp::process_env_layer(&io.env, cmp::Strictness::Warn, warnings)?;
    for field in cmp::FIELDS {
        identity
            .field_mut(field)
            .extend(layer.field(field).cloned());
    }
    let req = render::Request {
        path: args.path.clone(),
        identity,
        tools: source::build::ToolEnv::from_vars(&io.env),
        policy: args
            .policy
            .as_deref()
            .map(config::policy::load)
            .transpose()?,
        ..render::Request::default()
    };
    let (input, ctx) = render::prepare(&req, io.stdin, warnings)?;
    if let Some(msg) = missing_identity(&ctx) {
        warnings.push(Warning::general(format!(
            "{msg}; rendering a pass-through (Argo CD's generate refuses this unless passThrough: true)"
        )));
    }
    let mut output = transform::run_explained(input, &ctx, args.explain)?;
    warnings.append(&mut output.warnings);
    let rendered = render::Rendered { output, ctx };
    let docs = &rendered.output.docs;
    if rendered.output.input_objects == 0 {
        warnings.push(Warning::file(
            args.path.clone(),
            "no Kubernetes objects found; nothing to render",
        ));
        return Ok(ExitStatus::Success);
    }
    match &args.out_dir {
        Some(dir) => {
            let written = output::write_dir(docs, args.output, dir)?;
            let _ = writeln!(
                io.stderr,
                "wrote {} files to {}",
                written.len(),
                dir.display()
            );
        }
        None => {
            let bytes = output::to_bytes(docs, args.output)?;
            write_stdout(io, &bytes)?;
        }
    }
    for e in &rendered.output.explained {
        let _ = writeln!(io.stderr, "{e}");
    }
    // The process is about to exit: freeing a large tree node by node would cost several
    // percent of the render for nothing (rustc does the same with its own big structures).
    std::mem::forget(rendered);
    Ok(ExitStatus::Success)
}

/// Why a render without identity is suspicious: gitops.yaml declares environments, so an
/// Application with no env and no pr is almost certainly a mistake (DESIGN.md §2), unless
/// gitops.yaml says `passThrough: true`.
fn missing_identity(ctx: &transform::Ctx) -> Option<String> {
    let cfg = &ctx.config;
    (!ctx.identity.is_set() && cfg.found && !cfg.environments.is_empty() && !cfg.pass_through).then(
        || {
            format!(
                "{} declares environments ({}), but no env or pr is given",
                cfg.file,
                cfg.environment_names().join(", ")
            )
        },
    )
}

fn current_dir() -> Result<std::path::PathBuf, Error> {
    std::env::current_dir().map_err(|source| Error::Io {
        path: ".".into(),
        source,
    })
}

/// `generate`: the Argo CD plugin's manifest generation. Same code path as `render .`, with the
/// identity from the Argo CD environment; fails closed.
fn cmd_generate(io: &mut Io<'_>, warnings: &mut Vec<Warning>) -> Result<ExitStatus, Error> {
    let cwd = current_dir()?;
    let mut env = cmp::from_vars(&io.env, &cwd)?;
    warnings.append(&mut env.warnings);
    // Sandboxed: Argo CD renders what a pull request wrote. The policy comes from the
    // sidecar (an absolute path outside the checkout), else its defaults.
    let policy = config::policy::load_for_generate(
        env.policy.as_deref(),
        env.repo_root.as_deref().unwrap_or(&cwd),
    )?;
    let req = render::Request {
        path: ".".into(),
        identity: env.identity,
        repo_root: env.repo_root,
        source_path: env.source_path,
        tools: source::build::ToolEnv::from_vars(&io.env),
        policy: Some(policy),
        app_view: false,
    };
    // The sidecar can log what every generation changed (its stderr goes to the sidecar's
    // log on success): KUBECTL_GITOPS_EXPLAIN=1 in the sidecar's environment.
    let explain = io
        .env
        .iter()
        .any(|(k, v)| k == "KUBECTL_GITOPS_EXPLAIN" && !v.is_empty() && v != "0");
    let (input, ctx) = render::prepare(&req, io.stdin, warnings)?;
    if let Some(msg) = missing_identity(&ctx) {
        return Err(Error::Usage(format!(
            "{msg}: an Application without identity would deploy the files unchanged; set GITOPS_ENV or GITOPS_PR in spec.source.plugin.env (or the env/pr parameter), or passThrough: true in gitops.yaml if a pass-through is intended"
        )));
    }
    let mut output = transform::run_explained(input, &ctx, explain)?;
    warnings.append(&mut output.warnings);
    let rendered = render::Rendered { output, ctx };
    if rendered.output.input_objects == 0 {
        if !rendered.ctx.config.allow_empty {
            return Err(Error::FileRefused {
                path: cwd,
                msg: "no Kubernetes objects to render; refusing to print an empty set, which would make Argo CD prune everything this Application owns (set allowEmpty: true in gitops.yaml if that is intended)".into(),
            });
        }
        warnings.push(Warning::general(
            "no Kubernetes objects to render (allowEmpty: true in gitops.yaml)",
        ));
        return Ok(ExitStatus::Success);
    }
    let bytes = output::to_bytes(&rendered.output.docs, output::Format::Yaml)?;
    write_stdout(io, &bytes)?;
    for e in &rendered.output.explained {
        let _ = writeln!(io.stderr, "{e}");
    }
    std::mem::forget(rendered);
    Ok(ExitStatus::Success)
}

/// `parameters`: the dynamic parameter announcement for Argo CD's UI: env (with the
/// environments of gitops.yaml), pr, app and namespace, each with its current value.
fn cmd_parameters(
    args: &ParametersArgs,
    io: &mut Io<'_>,
    warnings: &mut Vec<Warning>,
) -> Result<ExitStatus, Error> {
    let cwd = current_dir()?;
    let env = cmp::from_vars(&io.env, &cwd)?;
    warnings.extend(env.warnings);
    let config = render::load_config(&cwd, env.repo_root.as_deref())?;
    let first = |c: &[Sourced]| c.first().map(|s| s.value.clone());
    let id = &env.identity;
    let environments = config
        .as_ref()
        .map(|c| c.environment_names().join(", "))
        .filter(|s| !s.is_empty());
    // The same default as a render: gitops.yaml's app:, else a folder name from the
    // repository path.
    let names = render::FolderNames::of(
        &cwd,
        config.as_ref(),
        env.repo_root.as_deref(),
        env.source_path.as_deref(),
    );
    let app_default = first(&id.app)
        .or_else(|| {
            config
                .as_ref()
                .and_then(|c| c.app.as_ref().map(|a| a.0.clone()))
        })
        .or(if config.is_some() {
            names.app_dir
        } else {
            names.dir
        });
    let all = [
        cmp::Announcement {
            name: "env",
            title: "Environment",
            tooltip: match &environments {
                Some(list) => format!("The environment to render: one of {list} (from gitops.yaml). Its namespace, labels, annotations and claim settings apply."),
                None => "The environment to render (a DNS label such as dev or prod); there is no gitops.yaml listing environments.".into(),
            },
            default: first(&id.env),
        },
        cmp::Announcement {
            name: "pr",
            title: "Pull request",
            tooltip: "A pull request number: renders an isolated preview (names suffixed -pr-N, its own namespace). Empty: not a preview.".into(),
            default: first(&id.pr),
        },
        cmp::Announcement {
            name: "app",
            title: "Application name",
            tooltip: "The application's short name, used in identity labels and the preview namespace.".into(),
            default: app_default,
        },
        cmp::Announcement {
            name: "namespace",
            title: "Namespace",
            tooltip: "The target namespace. Empty: the environment's namespace from gitops.yaml, or the preview's, or the Application's destination.".into(),
            default: first(&id.namespace),
        },
    ];
    let list: Vec<serde_json::Value> = all
        .iter()
        .filter(|a| !args.exclude.iter().any(|e| e == a.name))
        .map(cmp::Announcement::to_json)
        .collect();
    let mut text = serde_json::to_string_pretty(&serde_json::Value::Array(list))
        .map_err(|e| Error::Usage(format!("cannot write the parameter announcement: {e}")))?;
    text.push('\n');
    write_stdout(io, text.as_bytes())?;
    Ok(ExitStatus::Success)
}

/// `fn`: the KRM function (a ResourceList; on failure too, with the error as a result, as
/// orchestrators expect) or, with CONFIG, the kustomize exec plugin (a plain stream).
fn cmd_fn(
    args: &cli::FnArgs,
    io: &mut Io<'_>,
    warnings: &mut Vec<Warning>,
) -> Result<ExitStatus, Error> {
    let text = krm::read_input(io.stdin)?;
    if let Some(config) = &args.config {
        let bytes = krm::stream(&text, config, warnings)?;
        write_stdout(io, &bytes)?;
        return Ok(ExitStatus::Success);
    }
    let out = krm::resource_list(&text, warnings);
    write_stdout(io, &out.stdout)?;
    match out.error {
        None => Ok(ExitStatus::Success),
        Some(e) => Err(e),
    }
}

/// `check`: findings on stdout, exit 1 when there are any.
fn cmd_check(
    args: &CheckArgs,
    io: &mut Io<'_>,
    color: bool,
    warnings: &mut Vec<Warning>,
) -> Result<ExitStatus, Error> {
    if args.rules {
        let mut text = String::new();
        for r in check::RULES {
            text.push_str(&format!("{} {:<34} {}\n", r.code, r.name, r.summary));
        }
        write_stdout(io, text.as_bytes())?;
        return Ok(ExitStatus::Success);
    }
    if args.path == "-" {
        return Err(Error::Usage(
            "check reads a directory or a file, not standard input".into(),
        ));
    }
    if let Some(m) = &args.tracking_method {
        if !matches!(m.as_str(), "label" | "annotation" | "annotation+label") {
            return Err(Error::Usage(format!(
                "--tracking-method {m:?}: use label, annotation or annotation+label"
            )));
        }
    }
    for code in &args.ignore {
        if !check::RULES.iter().any(|r| r.code == code) {
            return Err(Error::Usage(format!(
                "--ignore {code:?}: no such rule (see check --rules)"
            )));
        }
    }
    let mut identity = identity_from_flags(&args.identity);
    // Previews checked as Argo CD renders them under this policy.
    if let Some(p) = &args.policy {
        identity.policy = Some(std::sync::Arc::new(config::policy::load(p)?));
    }
    let req = check::CheckRequest {
        path: args.path.clone(),
        identity,
        all_environments: args.all_environments,
        max_pr: args.max_pr,
        argocd: args.argocd.clone(),
        tracking_method: args.tracking_method.clone(),
        ignore: args.ignore.clone(),
        env: io.env.clone(),
    };
    let findings = check::check(&req, io.stdin, warnings)?;
    let text = check::report::render(&findings, args.output, color);
    write_stdout(io, text.as_bytes())?;
    Ok(if findings.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

fn side(
    env: &Option<String>,
    pr: &Option<String>,
    app: &Option<String>,
    which: &str,
) -> Result<diff::Side, Error> {
    if env.is_none() && pr.is_none() {
        return Err(Error::Usage(format!(
            "diff needs --{which}-env or --{which}-pr"
        )));
    }
    let label = match (env, pr) {
        (Some(e), Some(p)) => format!("{e}/pr-{p}"),
        (Some(e), None) => e.clone(),
        (None, Some(p)) => format!("pr-{p}"),
        (None, None) => String::new(),
    };
    let args = IdentityArgs {
        app: app.clone(),
        env: env.clone(),
        pr: pr.clone(),
        namespace: None,
    };
    let mut identity = identity_from_flags(&args);
    for s in identity.env.iter_mut().chain(identity.pr.iter_mut()) {
        s.source = format!("--{which}-{}", s.source.trim_start_matches("--"));
    }
    Ok(diff::Side { label, identity })
}

/// `diff`: stdout is the diff; exit 1 when anything beyond identity differs.
fn cmd_diff(
    args: &DiffArgs,
    io: &mut Io<'_>,
    color: bool,
    warnings: &mut Vec<Warning>,
) -> Result<ExitStatus, Error> {
    let from = side(&args.from_env, &args.from_pr, &args.app, "from")?;
    let to = side(&args.to_env, &args.to_pr, &args.app, "to")?;
    let d = diff::diff(&args.path, &from, &to, warnings)?;
    if color {
        write_stdout(io, color::diff(&d.text).as_bytes())?;
    } else {
        write_stdout(io, d.text.as_bytes())?;
    }
    Ok(if d.differs {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// `promote`: the report (and the diff, with --from-env/--to-env) on stdout.
fn cmd_promote(
    args: &PromoteArgs,
    io: &mut Io<'_>,
    warnings: &mut Vec<Warning>,
) -> Result<ExitStatus, Error> {
    let req = promote::PromoteRequest {
        from: args.from.clone(),
        to: args.to.clone(),
        path: args.path.clone(),
        branch: args.branch.clone(),
        commit: args.commit.clone(),
        from_env: args.from_env.clone(),
        to_env: args.to_env.clone(),
        force: args.force,
        dry_run: args.dry_run,
    };
    let p = promote::promote(&req, warnings)?;
    write_stdout(io, p.report.as_bytes())?;
    Ok(ExitStatus::Success)
}

/// `status`: where each environment repository stands, as text or JSON.
fn cmd_status(args: &StatusArgs, io: &mut Io<'_>) -> Result<ExitStatus, Error> {
    let (path, pairs) = status::status(&args.repos, args.path.as_deref())?;
    let text = match args.output {
        ReportFormat::Text => status::text(&path, &pairs),
        ReportFormat::Json => status::json(&path, &pairs)?,
    };
    write_stdout(io, text.as_bytes())?;
    Ok(ExitStatus::Success)
}

fn cmd_preview(
    cmd: PreviewCommand,
    io: &mut Io<'_>,
    warnings: &mut Vec<Warning>,
) -> Result<ExitStatus, Error> {
    let report = match cmd {
        PreviewCommand::Up(a) => {
            let flags = IdentityArgs {
                app: a.app.clone(),
                env: a.env.clone(),
                pr: Some(a.pr.clone()),
                namespace: None,
            };
            // CI renders what a pull request wrote: the platform policy always applies,
            // from --policy, else GITOPS_POLICY, else its defaults.
            let from_env = io
                .env
                .iter()
                .find(|(k, v)| k == config::policy::POLICY_ENV && !v.is_empty())
                .map(|(_, v)| std::path::PathBuf::from(v));
            let policy = match a.policy.clone().or(from_env) {
                Some(p) => config::policy::load(&p)?,
                None => config::Policy::default(),
            };
            let identity = identity_from_flags(&flags);
            preview::up(&a.dir, identity, policy, &a.repo, a.push, warnings)?
        }
        PreviewCommand::Down(a) => {
            preview::check_pr(&a.pr, "--pr")?;
            let app = preview_app(a.app.as_ref(), a.dir.as_ref(), Some(&a.pr), warnings)?;
            preview::down(&a.pr, app, &a.repo, a.push, warnings)?
        }
        PreviewCommand::List(a) => {
            preview::list(&a.repo, a.output == ReportFormat::Json, warnings)?
        }
        PreviewCommand::Prune(a) => {
            let app = preview_app(a.app.as_ref(), a.dir.as_ref(), None, warnings)?;
            preview::prune(&a.keep, app, &a.repo, a.dry_run, a.push, warnings)?
        }
    };
    write_stdout(io, report.as_bytes())?;
    Ok(ExitStatus::Success)
}

/// The app whose previews a command means: `--app` (validated like every app name), else
/// the app of the directory given, else none.
fn preview_app(
    app: Option<&String>,
    dir: Option<&String>,
    pr: Option<&String>,
    warnings: &mut Vec<Warning>,
) -> Result<Option<String>, Error> {
    match (app, dir) {
        (Some(app), _) => {
            preview::check_app(app)?;
            Ok(Some(app.clone()))
        }
        (None, Some(dir)) => {
            // The app a preview of the directory would have: rendering it as a preview
            // resolves the app exactly as `preview up` did.
            let flags = IdentityArgs {
                pr: Some(pr.cloned().unwrap_or_else(|| "1".into())),
                ..IdentityArgs::default()
            };
            let req = render::Request {
                path: dir.clone(),
                identity: identity_from_flags(&flags),
                ..render::Request::default()
            };
            let (_, ctx) = render::prepare(&req, &mut std::io::empty(), warnings)?;
            Ok(ctx.identity.app)
        }
        (None, None) => Ok(None),
    }
}

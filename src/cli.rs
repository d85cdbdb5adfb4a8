//! The command line, as data: clap derive, no cross-flag logic (that lives in `config` and
//! `render`). Doc comments are the help text; every subcommand's help ends with examples
//! (`after_help`), written as `kubectl gitops ...` and shown as the program was invoked
//! ([`command`]).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::output::Format;

/// Per-environment and per-pull-request identity for Kubernetes manifests and Crossplane
/// claims: the same files render as dev, staging, prod or an isolated pull-request copy.
#[derive(Debug, Parser)]
#[command(name = "kubectl-gitops", version, propagate_version = true)]
#[command(after_help = "Examples:
  kubectl gitops render testdata/my-microservice --env dev
  kubectl gitops render testdata/my-microservice --pr 123 | kubectl apply -f -
  kubectl gitops check testdata/my-microservice
  kubectl gitops completion bash > /etc/bash_completion.d/kubectl-gitops")]
pub struct Cli {
    /// When to colour output: auto (a terminal, unless NO_COLOR is set), always, never
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// How the program was invoked: `kubectl gitops` (kubectl found it on PATH as a plugin) or
/// `kubectl-gitops`, for usage lines and examples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invocation {
    Direct,
    KubectlPlugin,
}

impl Invocation {
    /// kubectl execs a plugin with its absolute path as `argv[0]` and leaves the environment
    /// as it was; a shell that started kubectl set `$_` to kubectl's path. So: an absolute
    /// `argv[0]` named `kubectl-gitops` and a `$_` naming a kubectl binary (`kubectl`,
    /// `kubectl.1.33`). Run directly from a shell, `$_` names kubectl-gitops itself; run by
    /// another program (Argo CD), `argv[0]` is usually not absolute or `$_` is absent. Without
    /// `$_` the answer is `Direct`: the usage line then says `kubectl-gitops`, which is always
    /// a correct command.
    pub fn detect(argv0: Option<&std::ffi::OsStr>, underscore: Option<&std::ffi::OsStr>) -> Self {
        let file_name = |p: &std::ffi::OsStr| {
            std::path::Path::new(p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        };
        let Some(argv0) = argv0 else {
            return Invocation::Direct;
        };
        let absolute = std::path::Path::new(argv0).is_absolute();
        let named = file_name(argv0).is_some_and(|n| n == "kubectl-gitops");
        let by_kubectl = underscore
            .and_then(file_name)
            .is_some_and(|n| n == "kubectl" || n.starts_with("kubectl."));
        if absolute && named && by_kubectl {
            Invocation::KubectlPlugin
        } else {
            Invocation::Direct
        }
    }

    /// The program as the user typed it.
    pub fn program(self) -> &'static str {
        match self {
            Invocation::Direct => "kubectl-gitops",
            Invocation::KubectlPlugin => "kubectl gitops",
        }
    }
}

/// The clap command for an invocation: usage lines and examples name the program as it was
/// invoked.
pub fn command(how: Invocation) -> clap::Command {
    let program = how.program();
    let mut cmd = Cli::command().bin_name(program);
    rename_examples(&mut cmd, program);
    cmd
}

/// Examples are written as `kubectl gitops ...`; run directly they say `kubectl-gitops ...`.
fn rename_examples(cmd: &mut clap::Command, program: &str) {
    if let Some(text) = cmd.get_after_help() {
        let text = text.to_string().replace("kubectl gitops", program);
        *cmd = std::mem::take(cmd).after_help(text);
    }
    for sub in cmd.get_subcommands_mut() {
        rename_examples(sub, program);
    }
}

/// Names the binary answers to besides `kubectl-gitops` (a symlink or copy with that name),
/// for programs that run an executable without arguments of its own: kustomize's exec
/// plugins (named after the configuration's kind), KRM `exec:` functions, and kubectl's
/// plugin completion.
const MULTI_CALL: [(&str, &str); 3] = [
    ("KubectlGitops", "fn"),
    ("kubectl-gitops-fn", "fn"),
    ("kubectl_complete-gitops", "__complete"),
];

/// Parses a command line (`argv[0]` first).
pub fn parse(mut args: Vec<OsString>, how: Invocation) -> Result<Cli, clap::Error> {
    let called = args.first().and_then(|a| {
        std::path::Path::new(a)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
    });
    if let Some((_, sub)) = MULTI_CALL
        .iter()
        .find(|(name, _)| called.as_deref() == Some(*name))
    {
        args.insert(1.min(args.len()), OsString::from(sub));
    }
    let mut cmd = command(how);
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let matches = match cmd.try_get_matches_from_mut(args) {
        Ok(m) => m,
        Err(e) => return Err(suggest_flag(e, &cmd, &words)),
    };
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

/// "did you mean `--env`": clap suggests a similar flag only when the subcommand has no
/// positional argument (otherwise it suggests `-- --evn`); this suggests the closest long flag
/// of the subcommand the typo was given to, whenever one is close.
fn suggest_flag(mut e: clap::Error, root: &clap::Command, words: &[String]) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument || e.get(ContextKind::SuggestedArg).is_some() {
        return e;
    }
    let Some(ContextValue::String(invalid)) = e.get(ContextKind::InvalidArg) else {
        return e;
    };
    let Some(typed) = invalid.strip_prefix("--") else {
        return e;
    };
    let typed = typed.split('=').next().unwrap_or(typed).to_string();
    let mut cmd = root;
    for w in words {
        if let Some(sub) = cmd.find_subcommand(w) {
            cmd = sub;
        }
    }
    let best = cmd
        .get_arguments()
        .chain(root.get_arguments().filter(|a| a.is_global_set()))
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long())
        .map(|long| (edit_distance(&typed, long), long))
        .filter(|(d, long)| *d <= (long.len().max(typed.len()) / 3).max(1))
        .min();
    if let Some((_, long)) = best {
        e.remove(ContextKind::Suggested);
        e.insert(
            ContextKind::SuggestedArg,
            ContextValue::String(format!("--{long}")),
        );
    }
    e
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbours (`--evn` -> `--env` is one edit).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render manifests for an environment or a pull request, to stdout or a directory.
    ///
    /// Without --env, --pr or --namespace the input is passed through unchanged.
    #[command(after_help = "Examples:
  kubectl gitops render testdata/my-microservice --env prod
  kubectl gitops render testdata/my-microservice --pr 123 -n shop-pr-123
  kubectl gitops render testdata/my-microservice --env dev -o json | jq '.items[].metadata.name'
  helm template my-chart | kubectl gitops render - --pr 7 --app shop
  kubectl gitops render . --env staging --out-dir rendered/")]
    Render(RenderArgs),
    /// Argo CD plugin entry point: render the current directory for the Application in the
    /// environment (ARGOCD_APP_*, ARGOCD_ENV_GITOPS_*, ARGOCD_APP_PARAMETERS, GITOPS_*).
    ///
    /// Prints YAML on stdout; refuses to print zero objects unless gitops.yaml says
    /// allowEmpty: true.
    #[command(
        after_help = "Examples (as Argo CD runs it, from the Application's source directory):
  ARGOCD_ENV_GITOPS_ENV=prod kubectl gitops generate
  ARGOCD_APP_PARAMETERS='[{\"name\":\"pr\",\"string\":\"123\"}]' kubectl gitops generate"
    )]
    Generate,
    /// Argo CD plugin dynamic parameters: print the parameter announcement (JSON) for the UI.
    #[command(after_help = "Examples:
  kubectl gitops parameters
  kubectl gitops parameters --exclude pr,namespace")]
    Parameters(ParametersArgs),
    /// Find what would break a render or a deployment, in every environment and in previews.
    ///
    /// Prints findings as `path:line:col: CODE message` (or JSON, SARIF, GitHub Actions
    /// annotations: -o). Exit 0: none; 1: findings; 2: the input cannot be read or a flag is
    /// wrong.
    #[command(after_help = "Examples:
  kubectl gitops check testdata/my-microservice
  kubectl gitops check testdata/my-microservice --argocd examples/applicationsets/
  kubectl gitops check . --env prod --ignore KG005
  kubectl gitops check . -o sarif > kubectl-gitops.sarif
  kubectl gitops check . -o github          # annotations in a GitHub Actions job
  kubectl gitops check --rules")]
    Check(CheckArgs),
    /// Show what changes between two identities' renders; identity-only changes are
    /// summarised on one line. Exit 0: nothing beyond identity differs; 1: something does.
    #[command(after_help = "Examples:
  kubectl gitops diff testdata/my-microservice --from-env dev --to-env prod
  kubectl gitops diff . --from-env dev --to-pr 123")]
    Diff(DiffArgs),
    /// Promote an environment repository's files to another one, exactly, on a new branch
    /// with an audit trail (pattern 1).
    ///
    /// The target's own changes since its last promotion are kept (three-way merge on the
    /// path) or, on a conflict, the promotion is refused listing the files; --force mirrors
    /// the source exactly. Nothing outside --path is touched.
    #[command(after_help = "Examples:
  kubectl gitops promote --from ../infra-dev --to ../infra-staging
  kubectl gitops promote --from ../infra-dev --to ../infra-staging --from-env dev --to-env staging")]
    Promote(PromoteArgs),
    /// Where each environment repository of a promotion chain stands: for each adjacent
    /// pair, the source commit last promoted, the source commits pending, and whether the
    /// target has diverged.
    #[command(after_help = "Examples:
  kubectl gitops status ../infra-dev ../infra-staging ../infra-prod")]
    Status(StatusArgs),
    /// Pull request environments in an infra-pr repository (pattern 3).
    #[command(subcommand)]
    #[command(after_help = "Examples:
  kubectl gitops preview up testdata/my-microservice --pr 123 --repo ../infra-pr
  kubectl gitops preview list --repo ../infra-pr
  kubectl gitops preview down --pr 123 --app my-microservice --repo ../infra-pr")]
    Preview(PreviewCommand),
    /// A KRM function for kpt and kustomize: a ResourceList on stdin, rendered, on stdout.
    ///
    /// The identity comes from the functionConfig: a ConfigMap whose data holds env, pr,
    /// namespace, app, or a kubectl-gitops.io/v1alpha1 KubectlGitops object with gitops.yaml's
    /// keys and an identity: mapping. No gitops.yaml is read from disk. Warnings and errors
    /// are results in the ResourceList. With CONFIG, it is a kustomize exec plugin instead:
    /// CONFIG is the plugin's configuration, stdin and stdout plain YAML streams.
    #[command(after_help = "Examples:
  kpt fn eval my-package --exec 'kubectl gitops fn' -- env=dev app=web
  kpt fn eval my-package --exec 'kubectl gitops fn' -- pr=123 app=web
  kubectl gitops fn < resource-list.yaml

As a kustomize exec plugin (kubectl kustomize --enable-alpha-plugins), the binary linked as
$XDG_CONFIG_HOME/kustomize/plugin/kubectl-gitops.io/v1alpha1/kubectlgitops/KubectlGitops runs
`fn CONFIG` for a transformers: entry of kind KubectlGitops (see the README).")]
    Fn(FnArgs),
    /// Print the version, the commit it was built from and the build date.
    #[command(after_help = "Examples:
  kubectl gitops version
  kubectl gitops version -o json")]
    Version(VersionArgs),
    /// Print a shell completion script (subcommands, flags, and gitops.yaml's environments
    /// for --env).
    #[command(after_help = "Examples:
  source <(kubectl gitops completion bash)                     # bash, this shell
  kubectl gitops completion bash > /etc/bash_completion.d/kubectl-gitops
  kubectl gitops completion zsh > \"${fpath[1]}/_kubectl-gitops\"
  kubectl gitops completion fish > ~/.config/fish/completions/kubectl-gitops.fish

`kubectl gitops <TAB>` (kubectl 1.26 or newer) needs the kubectl_complete-gitops script on PATH:
  kubectl gitops completion kubectl-plugin > ~/.local/bin/kubectl_complete-gitops
  chmod +x ~/.local/bin/kubectl_complete-gitops")]
    Completion(CompletionArgs),
    /// The completion protocol the shell scripts and kubectl call (cobra's `__complete`).
    #[command(name = "__complete", hide = true)]
    Complete(CompleteArgs),
}

#[derive(Debug, Clone, Args)]
pub struct FnArgs {
    /// A kustomize exec plugin's configuration file: read the functionConfig from it and a
    /// plain YAML stream from stdin
    #[arg(value_name = "CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct VersionArgs {
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value_t = VersionFormat::Text)]
    pub output: VersionFormat,
}

/// `version -o`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VersionFormat {
    /// `kubectl-gitops 0.1.0 (commit 0123456789ab, built 2026-01-02T03:04:05Z)`
    Text,
    /// One JSON object: version, gitCommit, buildDate, platform
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionArgs {
    /// The shell, or kubectl-plugin for the kubectl_complete-gitops script kubectl runs
    #[arg(value_enum)]
    pub shell: crate::completion::Shell,
}

#[derive(Debug, Clone, Args)]
pub struct CompleteArgs {
    /// The words after the program name; the last one is the word being completed
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub words: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// A directory or a manifest file
    #[arg(default_value = ".", value_name = "PATH")]
    pub path: String,
    /// The environment to compare from
    #[arg(long, value_name = "ENV")]
    pub from_env: Option<String>,
    /// A pull request to compare from (its preview)
    #[arg(long, value_name = "N")]
    pub from_pr: Option<String>,
    /// The environment to compare to
    #[arg(long, value_name = "ENV")]
    pub to_env: Option<String>,
    /// A pull request to compare to (its preview)
    #[arg(long, value_name = "N")]
    pub to_pr: Option<String>,
    /// The application's short name for both sides
    #[arg(long, value_name = "APP")]
    pub app: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PromoteArgs {
    /// The source: a directory inside an environment repository (its path in the repository
    /// is what is promoted, unless --path says otherwise)
    #[arg(long, value_name = "PATH_OR_GIT_DIR")]
    pub from: PathBuf,
    /// The target repository's checkout
    #[arg(long, value_name = "GIT_DIR")]
    pub to: PathBuf,
    /// The path to promote, relative to both repositories' roots (a path, never a pattern)
    #[arg(long, value_name = "P")]
    pub path: Option<String>,
    /// The branch to create [default: promote/<path>-<commit>]
    #[arg(long, value_name = "B")]
    pub branch: Option<String>,
    /// The source commit to promote (any revision of the source repository) [default: HEAD]
    #[arg(long, value_name = "REF")]
    pub commit: Option<String>,
    /// Show what the promotion changes in this environment: its render at the target's
    /// HEAD versus the same render of the promotion branch
    #[arg(long, value_name = "ENV")]
    pub to_env: Option<String>,
    /// Also show the configuration difference between this environment and --to-env
    #[arg(long, value_name = "ENV", requires = "to_env")]
    pub from_env: Option<String>,
    /// Make the path exactly the source's, dropping the target's own changes (also: the
    /// first promotion between repositories that share no history and record none)
    #[arg(long)]
    pub force: bool,
    /// Print what would be promoted and the diff; create nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// Output formats of `status` and `preview list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// For people: aligned text.
    Text,
    /// For scripts: one JSON document.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The environment repositories' checkouts, in promotion order (e.g. infra-dev
    /// infra-staging infra-prod)
    #[arg(value_name = "REPO", num_args = 2.., required = true)]
    pub repos: Vec<PathBuf>,
    /// One app's path inside the repositories [default: the whole repository]
    #[arg(long, value_name = "P")]
    pub path: Option<String>,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value_t = ReportFormat::Text)]
    pub output: ReportFormat,
}

#[derive(Debug, Subcommand)]
pub enum PreviewCommand {
    /// Render a pull request's environment into <repo>/<app>-pr-<N>/ and commit it.
    #[command(after_help = "Examples:
  kubectl gitops preview up testdata/my-microservice --pr 123 --repo ../infra-pr
  kubectl gitops preview up . --pr 123 --env staging --repo ../infra-pr")]
    Up(PreviewUpArgs),
    /// Remove a pull request's environment from the infra-pr checkout and commit that.
    #[command(after_help = "Examples:
  kubectl gitops preview down --pr 123 --app my-microservice --repo ../infra-pr
  kubectl gitops preview down testdata/my-microservice --pr 123 --repo ../infra-pr")]
    Down(PreviewDownArgs),
    /// List the previews in the infra-pr checkout.
    #[command(after_help = "Examples:
  kubectl gitops preview list --repo ../infra-pr")]
    List(PreviewListArgs),
    /// Remove the previews of pull requests that are no longer open (a missed close event).
    #[command(after_help = "Examples:
  kubectl gitops preview prune testdata/my-microservice --keep 123,130 --repo ../infra-pr
  kubectl gitops preview prune --app my-microservice --keep \"\" --repo ../infra-pr --dry-run")]
    Prune(PreviewPruneArgs),
}

#[derive(Debug, Clone, Args)]
pub struct PreviewUpArgs {
    /// The app's directory
    #[arg(default_value = ".", value_name = "DIR")]
    pub dir: String,
    /// The pull request number
    #[arg(long, value_name = "N")]
    pub pr: String,
    /// The infra-pr repository's checkout
    #[arg(long, value_name = "INFRA_PR_CHECKOUT")]
    pub repo: PathBuf,
    /// The application's short name
    #[arg(long, value_name = "APP")]
    pub app: Option<String>,
    /// The environment the preview inherits from [default: preview.from]
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// Push the commit to the checkout's upstream, fetching and rebasing it onto concurrent
    /// updates (a bounded number of times)
    #[arg(long)]
    pub push: bool,
    /// The platform policy that limits what the pull request's gitops.yaml may allow
    /// [default: $GITOPS_POLICY, else nothing is widened]
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct PreviewDownArgs {
    /// The app's directory (names the preview through its app name)
    #[arg(value_name = "DIR")]
    pub dir: Option<String>,
    /// The pull request number
    #[arg(long, value_name = "N")]
    pub pr: String,
    /// The application's short name (instead of DIR)
    #[arg(long, value_name = "APP")]
    pub app: Option<String>,
    /// The infra-pr repository's checkout
    #[arg(long, value_name = "INFRA_PR_CHECKOUT")]
    pub repo: PathBuf,
    /// Push the removal to the checkout's upstream, fetching and rebasing it onto concurrent
    /// updates (a bounded number of times)
    #[arg(long)]
    pub push: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PreviewListArgs {
    /// The infra-pr repository's checkout
    #[arg(long, value_name = "INFRA_PR_CHECKOUT")]
    pub repo: PathBuf,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value_t = ReportFormat::Text)]
    pub output: ReportFormat,
}

#[derive(Debug, Clone, Args)]
pub struct PreviewPruneArgs {
    /// The app's directory (names the previews through its app name)
    #[arg(value_name = "DIR")]
    pub dir: Option<String>,
    /// The pull requests that are still open (comma-separated; may be empty): every other
    /// preview of the app is removed
    #[arg(long, value_name = "N,...", value_delimiter = ',', num_args = 0.., required = true)]
    pub keep: Vec<String>,
    /// The application's short name (instead of DIR); needed when the checkout holds
    /// several apps' previews
    #[arg(long, value_name = "APP")]
    pub app: Option<String>,
    /// The infra-pr repository's checkout
    #[arg(long, value_name = "INFRA_PR_CHECKOUT")]
    pub repo: PathBuf,
    /// Print what would be removed; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Push the removal to the checkout's upstream, fetching and rebasing it onto concurrent
    /// updates (a bounded number of times)
    #[arg(long, conflicts_with = "dry_run")]
    pub push: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// A directory or a manifest file
    #[arg(default_value = ".", value_name = "PATH")]
    pub path: String,
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// Check every environment of gitops.yaml and a preview, besides the identity given
    /// (the default when no identity is given)
    #[arg(long)]
    pub all_environments: bool,
    /// The largest pull request number previews must handle (for name lengths)
    #[arg(long, value_name = "N", default_value_t = crate::check::DEFAULT_MAX_PR)]
    pub max_pr: u64,
    /// Argo CD Applications or ApplicationSets (files or directories) that deploy PATH:
    /// check what splitting it across Applications breaks
    #[arg(long, value_name = "FILE|DIR")]
    pub argocd: Vec<PathBuf>,
    /// Argo CD's resource tracking method (label, annotation, annotation+label), when no
    /// argocd-cm in the input or --argocd says it
    #[arg(long, value_name = "METHOD")]
    pub tracking_method: Option<String>,
    /// Rules to skip (comma-separated codes, e.g. KG004,KG009)
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// List the rules and exit
    #[arg(long)]
    pub rules: bool,
    /// Output format: text (`path:line:col: CODE message`), json, sarif (SARIF 2.1.0, for
    /// code scanning), github (GitHub Actions workflow annotations)
    #[arg(short = 'o', long = "output", value_enum, default_value_t = CheckFormat::Text)]
    pub output: CheckFormat,
    /// Check previews under this platform policy, as Argo CD's `generate` renders them
    /// [default: gitops.yaml is trusted]
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

/// `check -o`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    Sarif,
    Github,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ParametersArgs {
    /// Leave these parameters out (comma-separated), e.g. the ones plugin.yaml announces
    /// statically
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub exclude: Vec<String>,
}

/// Who the render is for (DESIGN.md §2). Each overrides gitops.yaml.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Identity")]
pub struct IdentityArgs {
    /// The application's short name [default: app: in gitops.yaml, else the directory's name]
    #[arg(long, value_name = "APP")]
    pub app: Option<String>,
    /// The environment (one of gitops.yaml's environments)
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// A pull request number: render an isolated preview
    #[arg(long, value_name = "N")]
    pub pr: Option<String>,
    /// The target namespace [default: the environment's, or the preview's]
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RenderArgs {
    /// A directory, a manifest file, or - for standard input
    #[arg(default_value = ".", value_name = "PATH")]
    pub path: String,
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Yaml, help_heading = "Output")]
    pub output: Format,
    /// Write one file per object into this directory instead of stdout (replaced as a whole)
    #[arg(long, value_name = "DIR", help_heading = "Output")]
    pub out_dir: Option<PathBuf>,
    /// List every edit of the render on stderr: file:line:col: Kind/name: path: old -> new (rule)
    #[arg(long, help_heading = "Output")]
    pub explain: bool,
    /// Apply this platform policy as Argo CD's `generate` does: gitops.yaml may then only
    /// narrow a preview's sandbox [default: gitops.yaml is trusted]
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn clap_configuration_is_valid() {
        Cli::command().debug_assert();
    }

    /// Every subcommand's help ends with examples, and every example names the program.
    #[test]
    fn every_subcommand_has_examples() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            if !cmd.is_hide_set() {
                let ok = cmd.get_after_help().is_some_and(|h| {
                    let h = h.to_string();
                    h.starts_with("Examples") && h.contains("kubectl gitops ")
                });
                if !ok {
                    missing.push(path.to_string());
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() != "help" {
                    walk(sub, &format!("{path} {}", sub.get_name()), missing);
                }
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "kubectl-gitops", &mut missing);
        assert!(
            missing.is_empty(),
            "add an `after_help = \"Examples:\\n  kubectl gitops ...\"` to: {missing:?}"
        );
    }

    #[test]
    fn flag_typos_suggest_the_closest_flag() {
        let parse = |line: &str| {
            let args = std::iter::once("kubectl-gitops")
                .chain(line.split(' '))
                .map(std::ffi::OsString::from)
                .collect();
            super::parse(args, super::Invocation::Direct)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        for (line, want) in [
            ("render --evn dev", "'--env'"),
            ("render . --namspace x", "'--namespace'"),
            ("check --all-enviroments", "'--all-environments'"),
            ("diff --from-evn dev", "'--from-env'"),
            ("render --colour never", "'--color'"),
        ] {
            let err = parse(line);
            assert!(
                err.contains(&format!("tip: a similar argument exists: {want}")),
                "{line}: {err}"
            );
        }
        assert!(!parse("render --zzzzzz").contains("similar argument"));
    }

    #[test]
    fn invocation_is_a_kubectl_plugin_only_when_kubectl_ran_it() {
        use super::Invocation::{self, *};
        let os = |s: &'static str| Some(std::ffi::OsStr::new(s));
        for (argv0, underscore, want) in [
            (
                "/usr/local/bin/kubectl-gitops",
                Some("/usr/bin/kubectl"),
                KubectlPlugin,
            ),
            (
                "/usr/local/bin/kubectl-gitops",
                Some("/opt/sdk/bin/kubectl.1.33"),
                KubectlPlugin,
            ),
            (
                "/usr/local/bin/kubectl-gitops",
                Some("/usr/local/bin/kubectl-gitops"),
                Direct,
            ),
            ("kubectl-gitops", Some("/usr/bin/kubectl"), Direct),
            ("/usr/local/bin/kubectl-gitops", None, Direct),
            (
                "/usr/local/bin/kubectl-gitops",
                Some("/usr/bin/env"),
                Direct,
            ),
            ("/tmp/other-name", Some("/usr/bin/kubectl"), Direct),
        ] {
            let got = Invocation::detect(os(argv0), underscore.and_then(os));
            assert_eq!(got, want, "argv0 {argv0}, $_ {underscore:?}");
        }
    }
}

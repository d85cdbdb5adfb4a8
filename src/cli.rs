//! The command line, as data: clap derive only, no environment reads and no cross-flag logic
//! (that lives in `config` and `render`). Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::Format;

/// Per-environment and per-pull-request identity for Kubernetes manifests and Crossplane
/// claims: the same files render as dev, staging, prod or an isolated pull-request copy.
#[derive(Debug, Parser)]
#[command(name = "kubectl-gitops", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render manifests for an environment or a pull request, to stdout or a directory.
    ///
    /// Without --env, --pr or --namespace the input is passed through unchanged.
    Render(RenderArgs),
    /// Argo CD plugin entry point: render the current directory for the Application in the
    /// environment (ARGOCD_APP_*, ARGOCD_ENV_GITOPS_*, ARGOCD_APP_PARAMETERS, GITOPS_*).
    ///
    /// Prints YAML on stdout; refuses to print zero objects unless gitops.yaml says
    /// allowEmpty: true.
    Generate,
    /// Argo CD plugin dynamic parameters: print the parameter announcement (JSON) for the UI.
    Parameters(ParametersArgs),
    /// Find what would break a render or a deployment, in every environment and in previews.
    ///
    /// Prints findings as `path:line:col: CODE message`. Exit 0: none; 1: findings; 2: the
    /// input cannot be read or a flag is wrong.
    Check(CheckArgs),
    /// Show what changes between two identities' renders; identity-only changes are
    /// summarised on one line. Exit 0: nothing beyond identity differs; 1: something does.
    Diff(DiffArgs),
    /// Promote an environment repository's files to another one, exactly, on a new branch
    /// with an audit trail (pattern 1).
    ///
    /// The target's own changes since its last promotion are kept (three-way merge on the
    /// path) or, on a conflict, the promotion is refused listing the files; --force mirrors
    /// the source exactly. Nothing outside --path is touched.
    Promote(PromoteArgs),
    /// Where each environment repository of a promotion chain stands: for each adjacent
    /// pair, the source commit last promoted, the source commits pending, and whether the
    /// target has diverged.
    Status(StatusArgs),
    /// Pull request environments in an infra-pr repository (pattern 3).
    #[command(subcommand)]
    Preview(PreviewCommand),
    /// Print the version.
    Version,
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
    Up(PreviewUpArgs),
    /// Remove a pull request's environment from the infra-pr checkout and commit that.
    Down(PreviewDownArgs),
    /// List the previews in the infra-pr checkout.
    List(PreviewListArgs),
    /// Remove the previews of pull requests that are no longer open (a missed close event).
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
    #[arg(long, value_name = "NS")]
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
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn clap_configuration_is_valid() {
        Cli::command().debug_assert();
    }
}

//! The `kubectl-gitops` binary: parse the command line, run, map the outcome to an exit code.
//! Everything else is in the library (`src/lib.rs`).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = kubectl_gitops::cli::Cli::parse();
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let mut io = kubectl_gitops::Io {
        stdin: &mut stdin,
        stdout: &mut stdout,
        stderr: &mut stderr,
        env: std::env::vars().collect(),
    };
    ExitCode::from(kubectl_gitops::run(cli, &mut io).code())
}

//! The `kubectl-gitops` binary: parse the command line, run, map the outcome to an exit code.
//! Everything else is in the library (`src/lib.rs`).

use std::io::IsTerminal;
use std::process::ExitCode;

use kubectl_gitops::cli::{self, Invocation};

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    let how = Invocation::detect(
        args.first().map(|a| a.as_os_str()),
        std::env::var_os("_").as_deref(),
    );
    let cli = match cli::parse(args, how) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let mut stdin = std::io::stdin().lock();
    let stdout = std::io::stdout();
    let stdout_is_terminal = stdout.is_terminal();
    let mut stdout = stdout.lock();
    let mut stderr = std::io::stderr().lock();
    let mut io = kubectl_gitops::Io {
        stdin: &mut stdin,
        stdout: &mut stdout,
        stderr: &mut stderr,
        env: std::env::vars().collect(),
        stdout_is_terminal,
    };
    ExitCode::from(kubectl_gitops::run(cli, &mut io).code())
}

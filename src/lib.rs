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
//!
//! [`run`] is the binary's whole behaviour, with its streams passed in so tests can drive it.

pub mod cli;
pub mod config;
pub mod diag;
pub mod error;
pub mod model;
pub mod naming;
pub mod output;
pub mod render;
pub mod source;
pub mod transform;
pub mod yaml;

use std::io::{Read, Write};

use cli::{Cli, Command, IdentityArgs, RenderArgs};
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
}

/// Runs a parsed command line.
pub fn run(cli: Cli, io: &mut Io<'_>) -> ExitStatus {
    let mut warnings = Vec::new();
    let result = match cli.command {
        Command::Render(args) => cmd_render(&args, io, &mut warnings),
        Command::Version => {
            let line = format!("kubectl-gitops {}\n", env!("CARGO_PKG_VERSION"));
            write_stdout(io, line.as_bytes()).map(|()| ExitStatus::Success)
        }
    };
    finish(result, &warnings, io)
}

/// Prints the error (first line of stderr) and then the warnings.
fn finish(result: Result<ExitStatus, Error>, warnings: &[Warning], io: &mut Io<'_>) -> ExitStatus {
    let status = match &result {
        Ok(s) => *s,
        Err(e) => {
            let _ = writeln!(io.stderr, "{e}");
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
    let req = render::Request {
        path: args.path.clone(),
        identity: identity_from_flags(&args.identity),
        repo_root: None,
    };
    let rendered = render::render(&req, io.stdin, warnings)?;
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
    // The process is about to exit: freeing a large tree node by node would cost several
    // percent of the render for nothing (rustc does the same with its own big structures).
    std::mem::forget(rendered);
    Ok(ExitStatus::Success)
}

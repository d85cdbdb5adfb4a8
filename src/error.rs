//! Errors: every failure of a render or a command, each carrying where it happened.
//!
//! `Display` puts the location first (`path:line:col: message`), so the first line of stderr
//! is always "where, then what", the form editors, CI logs and Argo CD's UI show best.
//! Every variant is a refusal to produce output: the binary exits 2 and prints nothing on
//! stdout (DESIGN.md §5).

use std::path::PathBuf;

use crate::model::Loc;
use crate::yaml::parse::ParseError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file is not valid YAML (or exceeds the alias or depth limits).
    #[error("{loc}: {source}")]
    Yaml { loc: Loc, source: ParseError },
    /// A file is not UTF-8.
    #[error("{loc}: the file is not UTF-8 text")]
    NotUtf8 { loc: Loc },
    /// A document that is not a Kubernetes object.
    #[error(
        "{loc}: {reason} (if this file is not a manifest, list it under `exclude:` in gitops.yaml)"
    )]
    NotAnObject { loc: Loc, reason: String },
    /// A file over the size limit.
    #[error("{}: the file is {size} bytes, over the limit of {limit} bytes", path.display())]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    /// A symlink that leaves the rendered directory.
    #[error("{}: symlink to {} leaves the rendered directory; kubectl-gitops reads only files inside it", link.display(), target.display())]
    Symlink { link: PathBuf, target: PathBuf },
    /// A file the render refuses as a whole.
    #[error("{}: {msg}", path.display())]
    FileRefused { path: PathBuf, msg: String },
    /// gitops.yaml is invalid.
    #[error("{loc}: {msg}")]
    Config { loc: Loc, msg: String },
    /// A bad identity value or flag (no file involved).
    #[error("{0}")]
    Usage(String),
    /// Two objects that end with the same kind, namespace and name.
    #[error("{loc}: {what} collides with {first_what} at {first}: both end up as {id}")]
    Collision {
        loc: Loc,
        what: String,
        first: Loc,
        first_what: String,
        id: String,
    },
    /// The render refuses an object (a cluster-scoped object in a preview, a name that cannot
    /// be made valid, ...).
    #[error("{loc}: {msg}")]
    Refused { loc: Loc, msg: String },
}

impl Error {
    /// Whether the message starts with where it happened (`path:` or `path:line:col:`).
    /// Those that do not are printed after `error:`.
    pub fn is_located(&self) -> bool {
        !matches!(self, Error::Usage(_))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

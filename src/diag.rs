//! Warnings: findings that do not stop a render. They go to stderr after the output is
//! complete (and after the error, when there is one), as `path:line:col: warning: message`.

use std::fmt;

use crate::model::Loc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub loc: Option<Loc>,
    /// A file or directory the warning is about, when it has no position.
    pub path: Option<String>,
    pub msg: String,
}

impl Warning {
    pub fn at(loc: Loc, msg: impl Into<String>) -> Self {
        Warning {
            loc: Some(loc),
            path: None,
            msg: msg.into(),
        }
    }

    /// A warning about a file or directory as a whole.
    pub fn file(path: impl Into<String>, msg: impl Into<String>) -> Self {
        Warning {
            loc: None,
            path: Some(path.into()),
            msg: msg.into(),
        }
    }

    pub fn general(msg: impl Into<String>) -> Self {
        Warning {
            loc: None,
            path: None,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.loc, &self.path) {
            (Some(loc), _) => write!(f, "{loc}: warning: {}", self.msg),
            (None, Some(path)) => write!(f, "{path}: warning: {}", self.msg),
            (None, None) => write!(f, "warning: {}", self.msg),
        }
    }
}

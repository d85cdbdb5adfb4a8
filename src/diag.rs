//! Warnings: findings that do not stop a render. They go to stderr after the output is
//! complete (and after the error, when there is one), as `path:line:col: warning: message`.

use std::fmt;

use crate::model::Loc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub loc: Option<Loc>,
    pub msg: String,
}

impl Warning {
    pub fn at(loc: Loc, msg: impl Into<String>) -> Self {
        Warning {
            loc: Some(loc),
            msg: msg.into(),
        }
    }

    pub fn general(msg: impl Into<String>) -> Self {
        Warning {
            loc: None,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.loc {
            Some(loc) => write!(f, "{loc}: warning: {}", self.msg),
            None => write!(f, "warning: {}", self.msg),
        }
    }
}

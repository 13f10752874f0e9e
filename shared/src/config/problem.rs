//! A config problem (error or warning) with its JSON path, endpoint and position, and the
//! error type that carries all of them at once.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    /// JSON path such as `endpoints[2].backend[0].timeout` (empty for the root).
    pub path: String,
    /// The endpoint concerned, as `GET /users/{id}`.
    pub endpoint: Option<String>,
    pub line_col: Option<(usize, usize)>,
    pub message: String,
}

impl Problem {
    pub(crate) fn error(path: impl Into<String>, endpoint: Option<&str>, message: impl Into<String>) -> Self {
        Problem {
            severity: Severity::Error,
            path: path.into(),
            endpoint: endpoint.map(str::to_owned),
            line_col: None,
            message: message.into(),
        }
    }

    pub(crate) fn warning(path: impl Into<String>, endpoint: Option<&str>, message: impl Into<String>) -> Self {
        Problem { severity: Severity::Warning, ..Problem::error(path, endpoint, message) }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let path = if self.path.is_empty() { "(root)" } else { &self.path };
        write!(f, "{kind}: `{path}`")?;
        let mut extra = Vec::new();
        if let Some(e) = &self.endpoint {
            extra.push(format!("endpoint `{e}`"));
        }
        if let Some((l, c)) = self.line_col {
            extra.push(format!("line {l}, column {c}"));
        }
        if !extra.is_empty() {
            write!(f, " ({})", extra.join(", "))?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every error found in a config (and the warnings gathered before them).
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl ConfigError {
    pub(crate) fn new(errors: Vec<Problem>, warnings: Vec<Problem>) -> Self {
        ConfigError { errors, warnings }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

//! Prometheus's rules for metric and label names, written once: the `#[derive(MetricGroup)]` checks a
//! declaration against them at compile time and hubble's runtime checks every collected series against the
//! same rules.

use std::fmt;

/// Whether `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Whether `name` has the syntax of a label name: `[a-zA-Z_][a-zA-Z0-9_]*` (`__` names included).
pub fn is_label_name_syntax(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `name` is a valid label name for a series: the syntax, and not starting with `__`.
pub fn is_valid_label_name(name: &str) -> bool {
    is_label_name_syntax(name) && !name.starts_with("__")
}

/// Whether a collector may not set label `name` on its series: `le` and `quantile` belong to histograms and
/// summaries, names starting with `__` to Prometheus.
pub fn is_reserved_label_name(name: &str) -> bool {
    name == "le" || name == "quantile" || name.starts_with("__")
}

/// Why a collector's label name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelNameError {
    /// Not `[a-zA-Z_][a-zA-Z0-9_]*`.
    Invalid,
    /// Starts with `__`: Prometheus's own.
    Internal,
    /// `le` or `quantile`: histograms' and summaries'.
    HistogramOrSummary,
}

impl fmt::Display for LabelNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LabelNameError::Invalid => "names must match [a-zA-Z_][a-zA-Z0-9_]*",
            LabelNameError::Internal => "names starting with `__` are for Prometheus' internal use",
            LabelNameError::HistogramOrSummary => "it is reserved for histograms and summaries",
        })
    }
}

/// Checks a label name a collector sets on its series.
pub fn check_label_name(name: &str) -> Result<(), LabelNameError> {
    if name.starts_with("__") {
        Err(LabelNameError::Internal)
    } else if name == "le" || name == "quantile" {
        Err(LabelNameError::HistogramOrSummary)
    } else if !is_label_name_syntax(name) {
        Err(LabelNameError::Invalid)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        for good in ["pg_up", ":recorded:rule", "_x", "a1"] {
            assert!(is_valid_metric_name(good), "{good}");
        }
        for bad in ["", "2xx", "a-b", "a b", "é"] {
            assert!(!is_valid_metric_name(bad), "{bad}");
        }
    }

    #[test]
    fn label_names() {
        assert!(is_valid_label_name("datname"));
        assert!(!is_valid_label_name("__name__"));
        assert!(is_label_name_syntax("__param_dbname"));
        assert!(!is_label_name_syntax("a:b"));
        assert!(!is_label_name_syntax("9"));
        assert_eq!(check_label_name("datname"), Ok(()));
        assert_eq!(
            check_label_name("le"),
            Err(LabelNameError::HistogramOrSummary)
        );
        assert_eq!(
            check_label_name("quantile"),
            Err(LabelNameError::HistogramOrSummary)
        );
        assert_eq!(check_label_name("__x"), Err(LabelNameError::Internal));
        assert_eq!(check_label_name("a-b"), Err(LabelNameError::Invalid));
        assert!(is_reserved_label_name("le") && !is_reserved_label_name("level"));
    }
}

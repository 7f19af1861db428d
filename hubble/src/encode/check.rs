//! What a run must satisfy before it is stored: label names and no clash with the constant labels.

use super::*;

/// A series' own labels: valid names, none that is also a constant label.
pub(crate) fn check_labels(
    metric: &str,
    labels: &Labels,
    const_labels: &Labels,
) -> Result<(), CollectError> {
    for (n, _) in labels.iter() {
        if let Err(why) = hubble_names::check_label_name(n) {
            return Err(CollectError::Other(format!(
                "metric `{metric}` sets label `{n}`, which a collector may not: {why}"
            )));
        }
        if const_labels.contains(n) {
            return Err(CollectError::Other(format!(
                "metric `{metric}` sets label `{n}`, which is a constant label of the exporter"
            )));
        }
    }
    Ok(())
}

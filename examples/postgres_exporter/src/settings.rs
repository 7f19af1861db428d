//! `pg_settings_*`: one gauge per numeric or boolean server setting, units converted to base units as
//! postgres_exporter converts them. The family names come from the data, so this collector is written by hand.

use hubble::{CollectError, Collector, Metric};
use sqlx::FromRow;

use super::connection::PgConnections;

/// The `pg_settings` collector.
pub struct PgSettings {
    connections: PgConnections,
}

impl PgSettings {
    /// Over a target's shared `connections`.
    pub fn new(connections: PgConnections) -> Self {
        PgSettings { connections }
    }
}

/// Factor to the base unit and the name suffix, for a `pg_settings.unit`; `None` for an unknown unit.
pub fn unit_conversion(unit: &str) -> Option<(f64, &'static str)> {
    Some(match unit {
        "" => (1.0, ""),
        "ms" => (1e-3, "_seconds"),
        "s" => (1.0, "_seconds"),
        "min" => (60.0, "_seconds"),
        "h" => (3600.0, "_seconds"),
        "d" => (86400.0, "_seconds"),
        "B" => (1.0, "_bytes"),
        "kB" => (1024.0, "_bytes"),
        "MB" => (1024.0 * 1024.0, "_bytes"),
        "GB" => (1024.0 * 1024.0 * 1024.0, "_bytes"),
        "TB" => (1024.0 * 1024.0 * 1024.0 * 1024.0, "_bytes"),
        "8kB" => (8192.0, "_bytes"),
        "16kB" => (16384.0, "_bytes"),
        "32kB" => (32768.0, "_bytes"),
        "16MB" => (16.0 * 1024.0 * 1024.0, "_bytes"),
        "32MB" => (32.0 * 1024.0 * 1024.0, "_bytes"),
        "64MB" => (64.0 * 1024.0 * 1024.0, "_bytes"),
        _ => return None,
    })
}

impl Collector for PgSettings {
    fn name(&self) -> &str {
        "pg_settings"
    }

    async fn collect(&self) -> Result<Vec<Metric>, CollectError> {
        let rows = self
            .connections
            .fetch_all(sqlx::query(
                "SELECT name, setting, COALESCE(unit, ''), short_desc, vartype FROM pg_settings
                 WHERE vartype IN ('bool', 'integer', 'real') AND name != 'sync_commit_cancel_wait'",
            ))
            .await
            .map_err(|e| CollectError::Source(format!("group `pg_settings`: {e}").into()))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let (name, setting, unit, desc, vartype) =
                <(String, String, String, String, String)>::from_row(row)
                    .map_err(|e| CollectError::Decode(format!("group `pg_settings`: {e}")))?;
            let raw = match (vartype.as_str(), setting.as_str()) {
                ("bool", "on") => 1.0,
                ("bool", "off") => 0.0,
                (_, s) => match s.parse::<f64>() {
                    Ok(v) => v,
                    Err(_) => continue,
                },
            };
            // An unknown unit would give a wrongly scaled value: skip the setting rather than guess.
            let Some((factor, suffix)) = unit_conversion(&unit) else {
                continue;
            };
            let help = match suffix {
                "_seconds" => format!("{desc} [Units converted to seconds.]"),
                "_bytes" => format!("{desc} [Units converted to bytes.]"),
                _ => desc,
            };
            let metric = format!("pg_settings_{}{suffix}", name.replace('.', "_"));
            out.push(Metric::gauge(metric, help, raw * factor));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(unit_conversion("8kB"), Some((8192.0, "_bytes")));
        assert_eq!(unit_conversion("ms"), Some((1e-3, "_seconds")));
        assert_eq!(unit_conversion("min"), Some((60.0, "_seconds")));
        assert_eq!(unit_conversion(""), Some((1.0, "")));
        assert_eq!(unit_conversion("parsecs"), None);
    }
}

//! Errors that a grant would fix say which grant: a collector that lacks a privilege fails alone, and its
//! error names what to run (`GRANT pg_monitor TO ...`, or the narrower grant for the one object).

use hubble::{CollectError, Sample};

/// `inner`, its permission errors completed with the grant that fixes them.
pub struct WithGrantHint<C>(pub C);

impl<C: hubble::Collector> hubble::Collector for WithGrantHint<C> {
    described_by!(0);

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        self.0.collect().await.map_err(|e| match e {
            CollectError::Source(source) => match hint(&source.to_string()) {
                Some(hint) => CollectError::Source(format!("{source}; {hint}").into()),
                None => CollectError::Source(source),
            },
            other => other,
        })
    }
}

/// The grant that fixes a "permission denied" error, if `message` is one.
pub fn hint(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("permission denied for ")?;
    let mut words = rest.split_whitespace();
    let kind = words.next()?;
    let object = words
        .next()
        .map(|o| o.trim_matches(|c| c == '"' || c == ','));
    let role = "the exporter's role";
    Some(match (kind, object) {
        ("function", Some(f)) => {
            format!("grant GRANT EXECUTE ON FUNCTION {f} TO {role}, or GRANT pg_monitor TO {role}")
        }
        ("table" | "view" | "relation", Some(t)) => {
            format!("grant GRANT SELECT ON {t} TO {role}, or GRANT pg_monitor TO {role}")
        }
        _ => format!("grant GRANT pg_monitor TO {role}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_grant() {
        assert_eq!(
            hint("error returned from database: permission denied for function pg_ls_waldir").unwrap(),
            "grant GRANT EXECUTE ON FUNCTION pg_ls_waldir TO the exporter's role, or GRANT pg_monitor TO the exporter's role"
        );
        assert!(hint("permission denied for table secrets")
            .unwrap()
            .starts_with("grant GRANT SELECT ON secrets TO"));
        assert!(hint("permission denied for schema x")
            .unwrap()
            .contains("GRANT pg_monitor"));
        assert_eq!(hint("relation \"x\" does not exist"), None);
    }
}

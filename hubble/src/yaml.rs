//! YAML files users write by hand (web config, `file_sd`, an exporter's own files), with errors that say where.
//!
//! The YAML parser leaves the position out of some errors, most visibly "more than one document", which is
//! what a stray `{` or `---` after the first document gives. A user needs the line either way.

use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Why a YAML text could not be read: `line L column C: message` wherever the position can be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct YamlError(String);

/// Parses `text` as a `T`; the error says where in the text it went wrong.
///
/// ```
/// let e = hubble::yaml::from_str::<std::collections::BTreeMap<String, u32>>("a: 1\nb: [x]\n").unwrap_err();
/// assert!(e.to_string().starts_with("line 2 column "), "{e}");
/// ```
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    yaml_serde::from_str(text).map_err(|e| YamlError(error_message(text, &e)))
}

/// `line L column C: message` wherever the position can be found, else the parser's message alone.
pub(crate) fn error_message(text: &str, e: &yaml_serde::Error) -> String {
    let message = e.to_string();
    let at = e
        .location()
        .map(|l| (l.line(), l.column()))
        .or_else(|| second_document(text));
    match at {
        // Position first, as compilers do; libyaml's messages carry it already, serde's own ones do not.
        Some((line, column)) => {
            let message = message.replacen(&format!(" at line {line} column {column}"), "", 1);
            format!("line {line} column {column}: {message}")
        }
        None => message,
    }
}

/// Where the second document of `text` goes wrong or begins.
fn second_document(text: &str) -> Option<(usize, usize)> {
    let mut documents = yaml_serde::Deserializer::from_str(text);
    documents.next()?;
    let second = documents.next()?;
    match yaml_serde::Value::deserialize(second) {
        // A syntax error after the first document: libyaml knows where.
        Err(e) => e.location().map(|l| (l.line(), l.column())),
        // A well-formed second document: it starts at its `---` marker.
        Ok(_) => {
            let mut markers = text
                .lines()
                .enumerate()
                .filter(|(_, l)| l.starts_with("---"))
                .map(|(i, _)| (i + 1, 1));
            let first_content = text
                .lines()
                .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))?;
            let first = markers.next()?;
            if first.0 == first_content + 1 {
                // The file opens with `---`: that one starts the first document.
                markers.next()
            } else {
                Some(first)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> String {
        let e = yaml_serde::from_str::<yaml_serde::Value>(text).unwrap_err();
        error_message(text, &e)
    }

    #[test]
    fn text_after_the_first_document_has_a_position() {
        let m = message("[]{");
        assert!(m.starts_with("line 1 column "), "{m}");
    }

    #[test]
    fn a_second_document_is_found_at_its_marker() {
        assert!(message("a: 1\n---\nb: 2\n").starts_with("line 2 column 1: "));
        assert!(message("---\na: 1\n---\nb: 2\n").starts_with("line 3 column 1: "));
    }

    #[test]
    fn positions_are_not_repeated() {
        let m = message("a: [1\n");
        assert_eq!(m.matches("line 2 column 1").count(), 1, "{m}");
        let text = "a: 1\nb: [x]\n";
        let e = yaml_serde::from_str::<std::collections::BTreeMap<String, u32>>(text).unwrap_err();
        let m = error_message(text, &e);
        assert_eq!(m.matches("line 2 column ").count(), 1, "{m}");
    }
}

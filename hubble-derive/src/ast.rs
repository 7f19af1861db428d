//! The input as a model: a container (the struct) and its fields, with their parsed attributes.

use proc_macro2::Span;
use syn::{Ident, LitStr, Type};

/// What a field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Counter,
    Gauge,
    Untyped,
    /// The bucket bounds; the counts, sum and count are the fields `<name>_bucket`, `_sum`, `_count`.
    Histogram,
    Label,
    /// Names the family of the row's value field: `<prefix>_<this field's value>`.
    FamilyName,
    /// Holds the help text of the row's family (with a family name field).
    FamilyHelp,
    Skip,
}

impl Role {
    pub fn is_value(self) -> bool {
        matches!(
            self,
            Role::Counter | Role::Gauge | Role::Untyped | Role::Histogram
        )
    }
}

/// The target role a group applies to (`role = "..."` on the struct).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetRole {
    Primary,
    Replica,
}

/// A duration attribute, already parsed, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Millis(pub u64, pub proc_macro2::Span);

pub struct Container<'a> {
    pub ident: &'a Ident,
    pub generics: &'a syn::Generics,
    pub query: Option<LitStr>,
    pub prefix: Option<LitStr>,
    pub name: Option<LitStr>,
    pub interval: Option<Millis>,
    pub timeout: Option<Millis>,
    /// `min_version` and `max_version`: the condition's version range, with their spans.
    pub min_version: Option<(u64, proc_macro2::Span)>,
    pub max_version: Option<(u64, proc_macro2::Span)>,
    /// `role = "primary"` or `"replica"`, checked.
    pub target_role: Option<TargetRole>,
    /// `per_database`: the query reads one database's objects.
    pub per_database: bool,
    /// `simple_query`: the query goes over the simple query protocol, with its span.
    pub simple_query: Option<proc_macro2::Span>,
    /// `names_as_declared`: names promtool objects to are kept (an established exporter's names).
    pub names_as_declared: Option<proc_macro2::Span>,
    pub const_labels: Vec<(LitStr, LitStr)>,
    /// The struct has a `#[sqlx(...)]` attribute (`rename_all`, ...): its columns are sqlx's to name, and
    /// the group is not read from text.
    pub sqlx_container: bool,
    pub fields: Vec<Field<'a>>,
    /// A container attribute was malformed (already reported).
    pub attr_error: bool,
}

pub struct Field<'a> {
    pub ident: &'a Ident,
    pub ty: &'a Type,
    /// `None` when the field has no `#[metric(...)]` role (an error reported by validation).
    pub role: Option<(Role, Span)>,
    pub rename: Option<LitStr>,
    pub help: Option<LitStr>,
    pub doc: Option<String>,
    /// The column the field is read from when the group is read from text: `#[sqlx(rename = "...")]` or
    /// its name; `None` when another `#[sqlx(...)]` attribute (`default`, `flatten`, `try_from`, ...) makes
    /// it sqlx's alone to read.
    pub column: Option<String>,
    /// An attribute of this field was malformed (already reported); skip checks that would only repeat it.
    pub attr_error: bool,
}

impl Field<'_> {
    /// The metric or label name part this field contributes: its rename or its identifier.
    pub fn base_name(&self) -> (String, Span) {
        match &self.rename {
            Some(r) => (r.value(), r.span()),
            None => (
                self.ident.to_string().trim_start_matches("r#").to_owned(),
                self.ident.span(),
            ),
        }
    }

    pub fn help_text(&self) -> Option<String> {
        self.help
            .as_ref()
            .map(LitStr::value)
            .or_else(|| self.doc.clone())
    }
}

impl Container<'_> {
    /// Full metric name of a value field: `<prefix>_<name>` (or `<name>` without a prefix).
    /// The field that names each row's family (`#[metric(family_name)]`), if any.
    pub fn family_field(&self) -> Option<&Field<'_>> {
        self.fields
            .iter()
            .find(|f| matches!(f.role, Some((Role::FamilyName, _))))
    }

    /// The field that holds each row's help text (`#[metric(family_help)]`), if any.
    pub fn help_field(&self) -> Option<&Field<'_>> {
        self.fields
            .iter()
            .find(|f| matches!(f.role, Some((Role::FamilyHelp, _))))
    }

    /// The prefix, empty when there is none.
    pub fn prefix_value(&self) -> String {
        self.prefix.as_ref().map(LitStr::value).unwrap_or_default()
    }

    pub fn metric_name(&self, field: &Field) -> (String, Span) {
        let (base, span) = field.base_name();
        match &self.prefix {
            Some(p) if !p.value().is_empty() => (format!("{}_{base}", p.value()), span),
            _ => (base, span),
        }
    }

    /// The fields holding a histogram field's bucket counts, sum and count (`<field>_bucket`, `_sum`,
    /// `_count`), each `None` if the struct lacks it.
    pub fn histogram_parts(&self, histogram: &Field) -> [(String, Option<&Field<'_>>); 3] {
        HISTOGRAM_PARTS.map(|suffix| {
            let name = format!("{}{suffix}", histogram.ident);
            let field = self.fields.iter().find(|f| f.ident == name.as_str());
            (name, field)
        })
    }

    /// The histogram field whose part `field` is, if any.
    pub fn part_of(&self, field: &Field) -> Option<&Field<'_>> {
        let name = field.ident.to_string();
        self.fields.iter().find(|h| {
            matches!(h.role, Some((Role::Histogram, _)))
                && HISTOGRAM_PARTS
                    .iter()
                    .any(|s| name.strip_suffix(s) == Some(&h.ident.to_string()))
        })
    }

    /// The collector name: `name`, else `prefix`, else the struct name in snake case.
    pub fn collector_name(&self) -> String {
        if let Some(n) = &self.name {
            return n.value();
        }
        if let Some(p) = &self.prefix {
            return p.value();
        }
        snake_case(&self.ident.to_string())
    }
}

/// Suffixes of the fields that complete a histogram field, as postgres_exporter names its columns.
pub const HISTOGRAM_PARTS: [&str; 3] = ["_bucket", "_sum", "_count"];

pub fn snake_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for (i, c) in s.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

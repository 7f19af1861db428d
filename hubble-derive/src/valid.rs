//! Checks a parsed declaration against Prometheus's rules, before any code is generated.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::spanned::Spanned;

use crate::ast::{Container, Field, Role};
use crate::ctxt::Ctxt;

use hubble_names::{check_label_name, is_valid_metric_name as valid_metric_name, LabelNameError};

/// Checks a label name (the runtime applies the same rules); `fix` says what to write instead.
fn check_label(cx: &mut Ctxt, name: &str, span: Span, fix: &str) {
    let message = match check_label_name(name) {
        Ok(()) => return,
        Err(LabelNameError::Internal) => format!(
            "label name `{name}` is reserved: {}",
            LabelNameError::Internal
        ),
        Err(LabelNameError::HistogramOrSummary) => {
            format!("label name `{name}` is reserved for histograms and summaries")
        }
        Err(e @ LabelNameError::Invalid) => format!("label name `{name}` is invalid: {e}"),
    };
    cx.error(span, format!("{message}; {fix}"));
}

pub fn check(cx: &mut Ctxt, c: &Container) {
    if let (Some(span), None) = (c.simple_query, &c.query) {
        cx.error(
            span,
            "`simple_query` says how the query is sent, and this group has none: add query = \"SELECT ...\"",
        );
    }
    let prefix_ok = match &c.prefix {
        Some(p) if !p.value().is_empty() && !valid_metric_name(&p.value()) => {
            cx.error(
                p.span(),
                format!(
                    "prefix `{}` is invalid: metric names must match [a-zA-Z_:][a-zA-Z0-9_:]*",
                    p.value()
                ),
            );
            false
        }
        _ => true,
    };
    let mut const_labels: HashMap<String, Span> = HashMap::new();
    for (name, _) in &c.const_labels {
        check_label(cx, &name.value(), name.span(), "rename the constant label");
        if const_labels.insert(name.value(), name.span()).is_some() {
            cx.error(
                name.span(),
                format!("duplicate constant label `{}`", name.value()),
            );
        }
    }
    let mut metrics: HashMap<String, Span> = HashMap::new();
    let mut labels: HashMap<String, Span> = HashMap::new();
    let mut any_value = false;
    for f in &c.fields {
        if let Some(h) = c.part_of(f) {
            // `<histogram>_bucket`, `_sum`, `_count` are read by the histogram, not exported alone.
            if let Some((role, span)) = f.role {
                cx.error(
                    span,
                    format!(
                        "field `{}` is part of histogram `{}` (its {}): remove #[metric({})]",
                        f.ident,
                        h.ident,
                        part_word(&f.ident.to_string()),
                        role_key(role)
                    ),
                );
            }
            continue;
        }
        let Some((role, _)) = f.role else {
            if f.attr_error {
                continue;
            }
            cx.error(
                f.ident.span(),
                format!(
                    "field `{}` needs a role: #[metric(gauge)], #[metric(counter)], #[metric(untyped)], \
                     #[metric(histogram)], #[metric(label)] or #[metric(skip)]",
                    f.ident
                ),
            );
            continue;
        };
        if role == Role::Histogram {
            let missing: Vec<String> = c
                .histogram_parts(f)
                .into_iter()
                .filter(|(_, field)| field.is_none())
                .map(|(name, _)| format!("`{name}`"))
                .collect();
            if !missing.is_empty() {
                cx.error(
                    f.ident.span(),
                    format!(
                        "histogram `{}` holds the bucket bounds; its cumulative bucket counts, sum and count \
                         are read from fields `{0}_bucket`, `{0}_sum` and `{0}_count`: add {}",
                        f.ident,
                        missing.join(", ")
                    ),
                );
            }
        }
        if role.is_value() {
            any_value = true;
            let (name, span) = c.metric_name(f);
            if c.family_field().is_some() {
                // Its family is named by each row: checked per row at run time.
                if f.help_text().is_none() && c.help_field().is_none() {
                    cx.error(
                        f.ident.span(),
                        format!(
                            "the families of field `{}` have no help text: add a /// doc comment or #[metric(help = \"...\")]",
                            f.ident
                        ),
                    );
                }
                continue;
            }
            if prefix_ok && !valid_metric_name(&name) {
                cx.error(
                    span,
                    format!(
                        "metric name `{name}` is invalid: names must match [a-zA-Z_:][a-zA-Z0-9_:]*; \
                         rename it with #[metric(rename = \"...\")]"
                    ),
                );
            } else if let Some(_first) = metrics.insert(name.clone(), span) {
                cx.error(
                    span,
                    format!("metric name `{name}` is produced by two fields; rename one with #[metric(rename = \"...\")]"),
                );
            }
            if let Some(why) = promtool_objection(role, &name)
                .filter(|_| prefix_ok && valid_metric_name(&name) && c.names_as_declared.is_none())
            {
                cx.error(
                    span,
                    format!(
                        "metric name `{name}`: {why} (promtool check metrics rejects it); rename it with \
                         #[metric(rename = \"...\")], or keep an established exporter's name with \
                         #[hubble(names_as_declared)] on the group"
                    ),
                );
            }
            if f.help_text().is_none() {
                cx.error(
                    f.ident.span(),
                    format!(
                        "metric `{name}` has no help text: add a /// doc comment to field `{}` or #[metric(help = \"...\")]",
                        f.ident
                    ),
                );
            }
        } else {
            if let Some(h) = &f.help {
                cx.error(
                    h.span(),
                    "`help` applies to value fields (gauge, counter, untyped, histogram) only",
                );
            }
            if role == Role::Label {
                if let Some(float) = float_type(f.ty) {
                    // Checked here rather than left to the trait bound, whose error only shows once every
                    // other mistake of the declaration is fixed.
                    cx.error(
                        f.ty.span(),
                        format!(
                            "label `{}` has type `{float}`: a label value must be text-like (a float label \
                             makes a new series whenever its digits change); make it a value field, or \
                             convert it to a String",
                            f.ident
                        ),
                    );
                }
                let (name, span) = f.base_name();
                check_label(
                    cx,
                    &name,
                    span,
                    "rename it with #[metric(rename = \"...\")]",
                );
                if const_labels.contains_key(&name) {
                    cx.error(
                        span,
                        format!("label `{name}` is also a constant label of this group; remove one or rename the field"),
                    );
                } else if labels.insert(name.clone(), span).is_some() {
                    cx.error(span, format!("label `{name}` is produced by two fields"));
                }
            } else if let Some(r) = &f.rename {
                let what = if role == Role::FamilyName {
                    "a family_name field (its value names the family)"
                } else if role == Role::FamilyHelp {
                    "a family_help field (its value is the family's help)"
                } else {
                    "a skipped field"
                };
                cx.error(r.span(), format!("`rename` has no effect on {what}"));
            }
        }
    }
    let families: Vec<_> = c
        .fields
        .iter()
        .filter_map(|f| match f.role {
            Some((Role::FamilyName, span)) => Some(span),
            _ => None,
        })
        .collect();
    if let (
        Some(Field {
            role: Some((_, span)),
            ..
        }),
        None,
    ) = (c.help_field(), c.family_field())
    {
        cx.error(
            *span,
            "family_help gives the help of families named by a #[metric(family_name)] field; this group has none",
        );
    }
    if let Some(&first) = families.first() {
        if let Some(&second) = families.get(1) {
            cx.error(
                second,
                "two family_name fields: one field names each row's family",
            );
        }
        let values: Vec<_> = c
            .fields
            .iter()
            .filter(|f| c.part_of(f).is_none())
            .filter_map(|f| f.role.filter(|(r, _)| r.is_value()))
            .collect();
        if values.len() > 1 || values.iter().any(|(r, _)| *r == Role::Histogram) {
            cx.error(
                first,
                format!(
                    "a family_name group exports one family per row, `<prefix>_<family name>`, from one gauge, \
                     counter or untyped field; this one has {} value fields{}",
                    values.len(),
                    if values.iter().any(|(r, _)| *r == Role::Histogram) { ", a histogram among them" } else { "" }
                ),
            );
        }
    }
    // A field without a role is reported already; it may well be the value field.
    let unexplained = c.attr_error || c.fields.iter().any(|f| f.attr_error || f.role.is_none());
    if !any_value && !unexplained {
        cx.error(
            c.ident.span(),
            format!(
                "metric group `{}` has no value field: mark at least one field #[metric(gauge)], #[metric(counter)] or #[metric(untyped)]",
                c.ident
            ),
        );
    }
    if let (Some((min, _)), Some((max, span))) = (c.min_version, c.max_version) {
        if max <= min {
            cx.error(
                span,
                format!("max_version {max} is not above min_version {min}: no version would be in the range (max_version is the first version excluded)"),
            );
        }
    }
    if let (Some(i), Some(t)) = (c.interval, c.timeout) {
        if t.0 > i.0 {
            cx.error(
                t.1,
                "timeout is longer than interval: a run must end before the next is due",
            );
        }
    }
}

/// Why `promtool check metrics` would reject a family of this type and name, if it would: the suffixes
/// `_count`, `_sum` and `_bucket` belong to histograms and summaries, `_total` to counters, and a counter
/// ends in `_total`.
fn promtool_objection(role: Role, name: &str) -> Option<String> {
    if role == Role::Histogram {
        return None;
    }
    if let Some(suffix) = ["_count", "_sum", "_bucket"]
        .into_iter()
        .find(|s| name.ends_with(s))
    {
        return Some(format!(
            "{} must not end in `{suffix}`, which Prometheus reads as part of a histogram or summary",
            role_word(role)
        ));
    }
    match role {
        Role::Counter if !name.ends_with("_total") => {
            Some("a counter's name ends in `_total`".to_owned())
        }
        Role::Gauge | Role::Untyped if name.ends_with("_total") => Some(format!(
            "`_total` marks a counter, and this is {}",
            role_word(role)
        )),
        _ => None,
    }
}

fn role_word(role: Role) -> &'static str {
    match role {
        Role::Counter => "a counter",
        Role::Gauge => "a gauge",
        _ => "an untyped metric",
    }
}

/// What part of a histogram a field named `name` is.
fn part_word(name: &str) -> &'static str {
    if name.ends_with("_bucket") {
        "cumulative bucket counts"
    } else if name.ends_with("_sum") {
        "sum"
    } else {
        "count"
    }
}

fn role_key(role: Role) -> &'static str {
    match role {
        Role::Counter => "counter",
        Role::Gauge => "gauge",
        Role::Untyped => "untyped",
        Role::Histogram => "histogram",
        Role::Label => "label",
        Role::FamilyName => "family_name",
        Role::FamilyHelp => "family_help",
        Role::Skip => "skip",
    }
}

/// `f32` or `f64`, also inside `Option<...>`, when `ty` is written as one.
fn float_type(ty: &syn::Type) -> Option<&'static str> {
    let syn::Type::Path(p) = ty else {
        return None;
    };
    let last = p.path.segments.last()?;
    if last.ident == "f32" {
        return Some("f32");
    }
    if last.ident == "f64" {
        return Some("f64");
    }
    if last.ident == "Option" {
        if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
            if let Some(syn::GenericArgument::Type(inner)) = args.args.first() {
                return float_type(inner);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::DeriveInput;

    fn errors(src: &str) -> Vec<String> {
        let input: DeriveInput = syn::parse_str(src).unwrap();
        let mut cx = Ctxt::default();
        let c = crate::attr::container(&mut cx, &input).unwrap();
        check(&mut cx, &c);
        match cx.check() {
            Ok(()) => vec![],
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn a_float_label_is_reported_with_the_other_mistakes() {
        let errs = errors(
            r#"#[hubble(prefix = "p")] struct S { #[metric(label)] ratio: Option<f64>, #[metric(gauge)] b: i64 }"#,
        );
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].starts_with("label `ratio` has type `f64`"),
            "{errs:?}"
        );
        assert!(
            errs[1].starts_with("metric `p_b` has no help text"),
            "{errs:?}"
        );
    }

    #[test]
    fn a_field_without_a_role_is_not_also_a_missing_value_field() {
        let errs = errors(
            r#"#[hubble(prefix = "p")] struct S { /// Doc.
            b: i64 }"#,
        );
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with("field `b` needs a role"), "{errs:?}");
    }

    #[test]
    fn a_good_declaration_passes() {
        let errs = errors(
            r#"#[hubble(query = "q", prefix = "pg_db", const_labels(role = "primary"))]
            struct S { #[metric(label)] datname: String, /// Size.
            #[metric(gauge, rename = "size_bytes")] size: i64, #[metric(skip)] x: u8 }"#,
        );
        assert!(errs.is_empty(), "{errs:?}");
    }

    #[test]
    fn prometheus_rules() {
        let errs = errors(
            r#"#[hubble(prefix = "p", const_labels(__x = "1", region = "eu"))]
            struct S {
                #[metric(label)] le: String,
                #[metric(label, rename = "region")] r: String,
                #[metric(label, rename = "a-b")] ab: String,
                /// D.
                #[metric(gauge, rename = "x-y")] two: i64,
                /// D.
                #[metric(gauge)] dup: i64,
                /// D.
                #[metric(counter, rename = "dup")] dup2: i64,
                #[metric(gauge)] nohelp: i64,
                untagged: i64,
            }"#,
        );
        let all = errs.join("\n");
        for needle in [
            "label name `__x` is reserved",
            "label name `le` is reserved for histograms",
            "label `region` is also a constant label",
            "label name `a-b` is invalid",
            "metric name `p_x-y` is invalid",
            "metric name `p_dup` is produced by two fields",
            "metric `p_nohelp` has no help text",
            "field `untagged` needs a role",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
        // And the counter `p_dup` lacks `_total`: all of them in one compile.
        assert_eq!(errs.len(), 9, "{all}");
    }

    #[test]
    fn names_promtool_rejects_unless_declared_as_they_are() {
        let group = |attrs: &str| {
            format!(
                r#"#[hubble(prefix = "shop"{attrs})]
                struct S {{
                    /// D.
                    #[metric(gauge)] orders_count: i64,
                    /// D.
                    #[metric(gauge)] size_sum: i64,
                    /// D.
                    #[metric(counter)] sold: i64,
                    /// D.
                    #[metric(untyped)] seen_total: i64,
                    /// D.
                    #[metric(counter)] refunds_total: i64,
                    /// D.
                    #[metric(gauge)] stock: i64,
                }}"#
            )
        };
        let errs = errors(&group(""));
        let all = errs.join("\n");
        for needle in [
            "metric name `shop_orders_count`: a gauge must not end in `_count`",
            "metric name `shop_size_sum`: a gauge must not end in `_sum`",
            "metric name `shop_sold`: a counter's name ends in `_total`",
            "metric name `shop_seen_total`: `_total` marks a counter, and this is an untyped metric",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
        assert!(all.contains("#[hubble(names_as_declared)]"), "{all}");
        assert_eq!(errs.len(), 4, "{all}");
        assert!(errors(&group(", names_as_declared")).is_empty());
    }

    #[test]
    fn histograms_need_their_parts_and_parts_take_no_role() {
        let ok = errors(
            r#"struct S { /// Waits.
            #[metric(histogram)] wait: Vec<f64>, wait_bucket: Vec<i64>, wait_sum: f64, wait_count: i64 }"#,
        );
        assert!(ok.is_empty(), "{ok:?}");
        let errs = errors(
            r#"struct S { /// Waits.
            #[metric(histogram)] wait: Vec<f64>, #[metric(gauge)] wait_sum: f64 }"#,
        );
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].contains("add `wait_bucket`, `wait_count`"),
            "{errs:?}"
        );
        assert!(
            errs[1].starts_with("field `wait_sum` is part of histogram `wait` (its sum)"),
            "{errs:?}"
        );
    }

    #[test]
    fn no_value_field() {
        let errs = errors(r#"struct S { #[metric(label)] a: String }"#);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].contains("has no value field"), "{errs:?}");
    }
}

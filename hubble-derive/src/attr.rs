//! Parses `#[hubble(...)]` and `#[metric(...)]` attributes into the model, collecting every error.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Expr, ExprLit, Fields, Lit, LitStr, Meta};

use crate::ast::{Container, Field, Millis, Role, TargetRole};
use crate::ctxt::Ctxt;
use crate::symbol::*;

/// Refuses a value after a key that takes none.
fn flag(meta: &ParseNestedMeta, key: &str) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        return Err(meta.error(format!("`{key}` takes no value: write #[hubble({key})]")));
    }
    Ok(())
}

/// Parses the struct; `None` when it is not a struct with named fields (already reported).
pub fn container<'a>(cx: &mut Ctxt, input: &'a DeriveInput) -> Option<Container<'a>> {
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => &named.named,
            other => {
                cx.error(
                    other.span(),
                    "#[derive(MetricGroup)] needs a struct with named fields, one per column",
                );
                return None;
            }
        },
        _ => {
            cx.error(
                input.ident.span(),
                "#[derive(MetricGroup)] works on structs only: one field per column of a query row",
            );
            return None;
        }
    };
    let mut c = Container {
        ident: &input.ident,
        generics: &input.generics,
        query: None,
        prefix: None,
        name: None,
        interval: None,
        timeout: None,
        min_version: None,
        max_version: None,
        target_role: None,
        per_database: false,
        simple_query: None,
        names_as_declared: None,
        const_labels: Vec::new(),
        sqlx_container: input.attrs.iter().any(|a| a.path().is_ident("sqlx")),
        fields: Vec::new(),
        attr_error: false,
    };
    // Keys seen across every #[hubble(...)] of the struct: each holds one value, wherever it is written.
    let mut seen: Vec<String> = Vec::new();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident(HUBBLE)) {
        let res = attr.parse_nested_meta(|meta| {
            let key = key_of(&meta);
            if CONTAINER_KEYS.contains(&key.as_str())
                && !once(cx, &mut seen, &key, meta.path.span())
            {
                // Parse and drop the duplicate's value so the remaining keys are still checked.
                if FLAG_KEYS.contains(&key.as_str()) {
                    return Ok(());
                }
                if key != CONST_LABELS {
                    meta.value()?.parse::<Lit>()?;
                } else {
                    meta.parse_nested_meta(|m| m.value()?.parse::<Lit>().map(drop))?;
                }
                return Ok(());
            }
            match key.as_str() {
                QUERY => c.query = Some(string(&meta)?),
                PREFIX => c.prefix = Some(string(&meta)?),
                NAME => c.name = Some(string(&meta)?),
                INTERVAL => c.interval = duration(cx, &meta)?,
                TIMEOUT => c.timeout = duration(cx, &meta)?,
                MIN_VERSION => c.min_version = Some(version(&meta)?),
                MAX_VERSION => c.max_version = Some(version(&meta)?),
                TARGET_ROLE => c.target_role = target_role(cx, &meta)?,
                PER_DATABASE => {
                    flag(&meta, PER_DATABASE)?;
                    c.per_database = true;
                }
                SIMPLE_QUERY => {
                    flag(&meta, SIMPLE_QUERY)?;
                    c.simple_query = Some(meta.path.span());
                }
                NAMES_AS_DECLARED => {
                    flag(&meta, NAMES_AS_DECLARED)?;
                    c.names_as_declared = Some(meta.path.span());
                }
                CONST_LABELS => meta.parse_nested_meta(|label| {
                    let name = label
                        .path
                        .get_ident()
                        .map(|i| LitStr::new(&i.to_string(), i.span()))
                        .ok_or_else(|| label.error("expected `name = \"value\"`"))?;
                    c.const_labels.push((name, string(&label)?));
                    Ok(())
                })?,
                _ => {
                    c.attr_error = true;
                    unknown(cx, &meta, &key, CONTAINER_KEYS, "#[hubble(...)]")?;
                }
            }
            Ok(())
        });
        if let Err(e) = res {
            c.attr_error = true;
            cx.syn_error(e);
        }
    }
    for f in fields {
        let ident = f.ident.as_ref().expect("named fields");
        let mut field = Field {
            ident,
            ty: &f.ty,
            role: None,
            rename: None,
            help: None,
            doc: doc_comment(&f.attrs),
            column: sqlx_column(ident, &f.attrs),
            attr_error: false,
        };
        // Keys seen across every #[metric(...)] of the field.
        let mut seen: Vec<String> = Vec::new();
        for attr in f.attrs.iter().filter(|a| a.path().is_ident(METRIC)) {
            if let Meta::Path(_) = attr.meta {
                cx.error(
                    attr.span(),
                    "empty #[metric]: write #[metric(gauge)], #[metric(counter)], #[metric(untyped)], \
                     #[metric(histogram)], #[metric(label)] or #[metric(skip)]",
                );
                continue;
            }
            let res = attr.parse_nested_meta(|meta| {
                let key = key_of(&meta);
                let role = match key.as_str() {
                    COUNTER => Some(Role::Counter),
                    GAUGE => Some(Role::Gauge),
                    UNTYPED => Some(Role::Untyped),
                    HISTOGRAM => Some(Role::Histogram),
                    LABEL => Some(Role::Label),
                    FAMILY_NAME => Some(Role::FamilyName),
                    FAMILY_HELP => Some(Role::FamilyHelp),
                    SKIP => Some(Role::Skip),
                    _ => None,
                };
                if let Some(role) = role {
                    match field.role {
                        Some((prev, _)) => cx.error(
                            meta.path.span(),
                            format!(
                                "field `{ident}` is already declared {}: a field has one role",
                                role_word(prev)
                            ),
                        ),
                        None => field.role = Some((role, meta.path.span())),
                    }
                    return Ok(());
                }
                if FIELD_KEYS.contains(&key.as_str())
                    && !once(cx, &mut seen, &key, meta.path.span())
                {
                    meta.value()?.parse::<Lit>()?;
                    return Ok(());
                }
                match key.as_str() {
                    RENAME => field.rename = Some(string(&meta)?),
                    HELP => field.help = Some(string(&meta)?),
                    _ => {
                        field.attr_error = true;
                        unknown(cx, &meta, &key, FIELD_KEYS, "#[metric(...)]")?;
                    }
                }
                Ok(())
            });
            if let Err(e) = res {
                field.attr_error = true;
                cx.syn_error(e);
            }
        }
        c.fields.push(field);
    }
    Some(c)
}

fn role_word(r: Role) -> &'static str {
    match r {
        Role::Counter => "a counter",
        Role::Gauge => "a gauge",
        Role::Untyped => "untyped",
        Role::Histogram => "a histogram",
        Role::Label => "a label",
        Role::FamilyName => "the family name",
        Role::FamilyHelp => "the family help",
        Role::Skip => "skipped",
    }
}

fn key_of(meta: &ParseNestedMeta) -> String {
    let path = &meta.path;
    path.get_ident()
        .map(ToString::to_string)
        .unwrap_or_else(|| quote::quote!(#path).to_string().replace(' ', ""))
}

/// Records `key` as seen; reports and returns false on a repeat.
fn once(cx: &mut Ctxt, seen: &mut Vec<String>, key: &str, span: Span) -> bool {
    if seen.iter().any(|k| k == key) {
        cx.error(span, format!("duplicate attribute `{key}`"));
        false
    } else {
        seen.push(key.to_owned());
        true
    }
}

fn string(meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    let expr: Expr = meta.value()?.parse()?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s),
        other => Err(syn::Error::new(other.span(), "expected a string literal")),
    }
}

/// `min_version = 140000`: a version number as the exporter's facts probe numbers versions.
fn version(meta: &ParseNestedMeta) -> syn::Result<(u64, Span)> {
    let lit: syn::LitInt = meta.value()?.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected a version number, e.g. `min_version = 140000`",
        )
    })?;
    Ok((lit.base10_parse()?, lit.span()))
}

/// `role = "primary"` or `role = "replica"`.
fn target_role(cx: &mut Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<TargetRole>> {
    let s = string(meta)?;
    Ok(match s.value().as_str() {
        "primary" => Some(TargetRole::Primary),
        "replica" => Some(TargetRole::Replica),
        other => {
            cx.error(
                s.span(),
                format!("unknown role {other:?}: expected \"primary\" or \"replica\""),
            );
            None
        }
    })
}

fn duration(cx: &mut Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<Millis>> {
    let s = string(meta)?;
    match parse_duration(&s.value()) {
        Some(ms) if ms > 0 => Ok(Some(Millis(ms, s.span()))),
        _ => {
            cx.error(
                s.span(),
                format!(
                    "invalid duration {:?}: write a positive number with a unit, e.g. \"500ms\", \"15s\", \"2m\", \"1h\"",
                    s.value()
                ),
            );
            Ok(None)
        }
    }
}

/// `"500ms"`, `"15s"`, `"2m"`, `"1h"`, or combinations such as `"1m30s"`, in milliseconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(factor)?)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

fn unknown(
    cx: &mut Ctxt,
    meta: &ParseNestedMeta,
    key: &str,
    known: &[&str],
    attr: &str,
) -> syn::Result<()> {
    let hint = closest(key, known)
        .map(|k| format!("; did you mean `{k}`?"))
        .unwrap_or_else(|| format!("; expected one of: {}", known.join(", ")));
    cx.error(
        meta.path.span(),
        format!("unknown attribute `{key}` in {attr}{hint}"),
    );
    // Skip its value, if any, so parsing continues with the next key.
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _content;
        syn::parenthesized!(_content in meta.input);
    }
    Ok(())
}

fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (levenshtein(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The doc comment of a field, lines trimmed and joined with spaces.
fn doc_comment(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .filter(|l| !l.is_empty())
        .collect();
    (!lines.is_empty()).then(|| lines.join(" "))
}

/// The column sqlx's `FromRow` reads `ident` from: its `#[sqlx(rename = "...")]`, or its name; `None` when
/// any other `#[sqlx(...)]` key is there. Not checked further: sqlx's derive reports its own attributes.
fn sqlx_column(ident: &syn::Ident, attrs: &[syn::Attribute]) -> Option<String> {
    let mut column = Some(syn::ext::IdentExt::unraw(ident).to_string());
    for attr in attrs.iter().filter(|a| a.path().is_ident("sqlx")) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let name: LitStr = meta.value()?.parse()?;
                column = Some(name.value());
                Ok(())
            } else {
                Err(meta.error("not read from text"))
            }
        });
        if parsed.is_err() {
            return None;
        }
    }
    column
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> (Option<(usize, Option<String>)>, Vec<String>) {
        let input: DeriveInput = syn::parse_str(src).unwrap();
        let mut cx = Ctxt::default();
        let c = container(&mut cx, &input).map(|c| (c.fields.len(), c.query.map(|q| q.value())));
        let errs = match cx.check() {
            Ok(()) => vec![],
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        };
        (c, errs)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15s"), Some(15_000));
        assert_eq!(parse_duration("500ms"), Some(500));
        assert_eq!(parse_duration("1m30s"), Some(90_000));
        assert_eq!(parse_duration("2h"), Some(7_200_000));
        assert_eq!(parse_duration("15"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("5 s"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn suggestions() {
        assert_eq!(closest("gauage", FIELD_KEYS), Some("gauge"));
        assert_eq!(closest("quer", CONTAINER_KEYS), Some("query"));
        assert_eq!(closest("xyzzy", FIELD_KEYS), None);
    }

    #[test]
    fn parses_a_declaration() {
        let (c, errs) = parse(
            r#"#[hubble(query = "SELECT 1", prefix = "p")]
            struct S { #[metric(label)] a: String, /// Doc.
            #[metric(gauge)] b: i64 }"#,
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(c, Some((2, Some("SELECT 1".into()))));
    }

    #[test]
    fn collects_every_error_at_once() {
        let (_, errs) = parse(
            r#"#[hubble(quary = "x", prefix = "p", prefix = "q")]
            struct S { #[metric(gauge, counter)] a: i64, #[metric(lable)] b: String }"#,
        );
        assert_eq!(errs.len(), 4, "{errs:?}");
        // No cascade: the field with a misspelt role is not also reported as having no role.
        assert!(
            errs[0].contains("unknown attribute `quary`")
                && errs[0].contains("did you mean `query`?")
        );
        assert!(errs[1].contains("duplicate attribute `prefix`"));
        assert!(errs[2].contains("already declared a gauge"));
        assert!(errs[3].contains("did you mean `label`?"));
    }

    #[test]
    fn doc_comments_are_joined() {
        let input: DeriveInput =
            syn::parse_str("struct S { /// First line.\n/// Second.\n#[metric(gauge)] a: i64 }")
                .unwrap();
        let mut cx = Ctxt::default();
        let c = container(&mut cx, &input).unwrap();
        assert_eq!(c.fields[0].doc.as_deref(), Some("First line. Second."));
        cx.check().unwrap();
    }

    #[test]
    fn a_key_repeated_in_separate_attributes_is_an_error() {
        let (_, errs) = parse(
            r#"#[hubble(query = "SELECT 1", prefix = "a")]
            #[hubble(prefix = "b")]
            struct S { /// Doc.
            #[metric(gauge, rename = "x")] #[metric(rename = "y")] b: i64 }"#,
        );
        assert_eq!(
            errs,
            [
                "duplicate attribute `prefix`",
                "duplicate attribute `rename`"
            ]
        );
    }

    #[test]
    #[should_panic(expected = "Ctxt dropped without check()")]
    fn an_unchecked_context_cannot_be_dropped() {
        let mut cx = Ctxt::default();
        cx.error(Span::call_site(), "lost");
    }
}

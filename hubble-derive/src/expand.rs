//! Code generation from a checked declaration. Generated code names everything by absolute path through
//! `::hubble::__private`, so a user's own `Result`, `Option` or `Vec` cannot capture it.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::DeriveInput;

use crate::ast::{Container, Field, Role};
use crate::ctxt::Ctxt;
use crate::{attr, valid};

pub fn derive(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let container = attr::container(&mut cx, input);
    if let Some(c) = &container {
        valid::check(&mut cx, c);
    }
    match cx.check() {
        Ok(()) => generate(&container.expect("no errors means parsed")),
        Err(e) => {
            // The error plus stub impls, so uses of the type do not add "trait not implemented" noise.
            let error = e.to_compile_error();
            let stub = fallback(input);
            quote! { #error #stub }
        }
    }
}

fn fallback(input: &DeriveInput) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        impl #impl_generics ::hubble::MetricGroup for #ident #ty_generics #where_clause {
            const NAME: &'static str = "";
            fn families() -> ::hubble::__private::Vec<::hubble::Family> {
                ::hubble::__private::unreachable!()
            }
            fn push_samples(
                &self,
                _: &mut ::hubble::__private::Vec<::hubble::Sample>,
            ) -> ::hubble::__private::Result<(), ::hubble::CollectError> {
                ::hubble::__private::unreachable!()
            }
        }
        impl #impl_generics ::hubble::SqlQuery for #ident #ty_generics #where_clause {
            const QUERY: &'static str = "";
        }
    }
}

fn kind(role: Role) -> TokenStream {
    match role {
        Role::Counter => quote!(::hubble::MetricKind::Counter),
        Role::Gauge => quote!(::hubble::MetricKind::Gauge),
        Role::Histogram => quote!(::hubble::MetricKind::Histogram),
        _ => quote!(::hubble::MetricKind::Untyped),
    }
}

fn millis(m: Option<crate::ast::Millis>) -> TokenStream {
    match m {
        Some(crate::ast::Millis(ms, _)) => {
            quote!(::hubble::__private::Option::Some(::hubble::__private::Duration::from_millis(#ms)))
        }
        None => quote!(::hubble::__private::Option::None),
    }
}

/// `Some(Condition { .. })` when the group declares a version range or a role.
fn condition(c: &Container) -> TokenStream {
    if c.min_version.is_none() && c.max_version.is_none() && c.target_role.is_none() {
        return quote!(::hubble::__private::Option::None);
    }
    let version = |v: Option<(u64, proc_macro2::Span)>| match v {
        Some((v, _)) => quote!(::hubble::__private::Option::Some(#v)),
        None => quote!(::hubble::__private::Option::None),
    };
    let (min, max) = (version(c.min_version), version(c.max_version));
    let role = match c.target_role {
        Some(crate::ast::TargetRole::Primary) => {
            quote!(::hubble::__private::Option::Some(::hubble::Role::Primary))
        }
        Some(crate::ast::TargetRole::Replica) => {
            quote!(::hubble::__private::Option::Some(::hubble::Role::Replica))
        }
        None => quote!(::hubble::__private::Option::None),
    };
    quote!(::hubble::__private::Option::Some(::hubble::Condition {
        min_version: #min,
        max_version: #max,
        role: #role,
    }))
}

fn generate(c: &Container) -> TokenStream {
    let ident = c.ident;
    let (impl_generics, ty_generics, where_clause) = c.generics.split_for_impl();
    let name = c.collector_name();
    let interval = millis(c.interval);
    let timeout = millis(c.timeout);
    let condition = condition(c);
    let per_database = c.per_database;

    let label_fields: Vec<_> = c
        .fields
        .iter()
        .filter(|f| matches!(f.role, Some((Role::Label, _))))
        .collect();
    let value_fields: Vec<_> = c
        .fields
        .iter()
        .filter(|f| f.role.is_some_and(|(r, _)| r.is_value()))
        .collect();

    let mut label_names: Vec<String> = label_fields.iter().map(|f| f.base_name().0).collect();
    label_names.extend(c.const_labels.iter().map(|(n, _)| n.value()));
    label_names.sort();

    // With a family_name field the families are named by the rows: none is known in advance.
    let family = c.family_field();
    let described: &[&Field] = if family.is_some() { &[] } else { &value_fields };
    let families = described.iter().map(|f| {
        let (metric, _) = c.metric_name(f);
        let help = f.help_text().unwrap_or_default();
        let kind = kind(f.role.expect("value field").0);
        quote! {
            ::hubble::Family {
                name: ::hubble::__private::Cow::Borrowed(#metric),
                help: ::hubble::__private::Cow::Borrowed(#help),
                kind: #kind,
                label_names: ::hubble::__private::vec![
                    #(::hubble::__private::Cow::Borrowed(#label_names)),*
                ],
            }
        }
    });

    let n_labels = label_names.len();
    // A row's label values: lent (`push_samples(&self)`) or given up (`into_samples(self)`). Spanned at the
    // field's type: an unsupported type is reported where it is written.
    let insert_labels = |give: bool| -> Vec<TokenStream> {
        label_fields
            .iter()
            .map(|f| {
                let field = f.ident;
                let (label, _) = f.base_name();
                let value = if give {
                    quote_spanned!(f.ty.span()=> ::hubble::LabelValue::take_label_value(&mut self.#field))
                } else {
                    quote_spanned!(f.ty.span()=> ::hubble::LabelValue::to_label_value(&self.#field).into_owned())
                };
                quote!(labels.insert(#label, #value);)
            })
            .collect()
    };
    let insert_const: Vec<TokenStream> = c
        .const_labels
        .iter()
        .map(|(n, v)| {
            let n = n.value();
            quote!(labels.insert(#n, #v);)
        })
        .collect();
    let push_values: Vec<TokenStream> = value_fields.iter().map(|f| {
        if matches!(f.role, Some((Role::Histogram, _))) {
            return push_histogram(c, f);
        }
        let field = f.ident;
        let column = field.to_string();
        let (metric, _) = c.metric_name(f);
        let name = match family {
            Some(family) => {
                let prefix = c.prefix_value();
                let row = family.ident;
                let convert = quote_spanned!(family.ty.span()=> ::hubble::LabelValue::to_label_value(&self.#row));
                quote!(::hubble::__private::Cow::Owned(::hubble::__private::family_name(#prefix, &#convert)))
            }
            None => quote!(::hubble::__private::Cow::Borrowed(#metric)),
        };
        let help = match c.help_field() {
            Some(h) => {
                let row = h.ident;
                let convert = quote_spanned!(h.ty.span()=> ::hubble::LabelValue::to_label_value(&self.#row));
                quote!(::hubble::__private::Cow::Owned(#convert.into_owned()))
            }
            None => {
                let help = f.help_text().unwrap_or_default();
                quote!(::hubble::__private::Cow::Borrowed(#help))
            }
        };
        let kind = kind(f.role.expect("value field").0);
        let convert =
            quote_spanned!(f.ty.span()=> ::hubble::MetricValue::to_metric_value(&self.#field));
        quote! {
            match #convert {
                ::hubble::__private::Result::Ok(::hubble::__private::Option::Some(value)) => {
                    out.push(::hubble::Sample {
                        name: #name,
                        help: #help,
                        kind: #kind,
                        value,
                        labels: ::hubble::__private::Clone::clone(&labels),
                        histogram: ::hubble::__private::Option::None,
                        summary: ::hubble::__private::Option::None,
                    });
                }
                ::hubble::__private::Result::Ok(::hubble::__private::Option::None) => {}
                ::hubble::__private::Result::Err(source) => {
                    return ::hubble::__private::Result::Err(::hubble::CollectError::Value {
                        column: ::hubble::__private::Cow::Borrowed(#column),
                        source,
                    });
                }
            }
        }
    }).collect();

    // A row whose family name is empty (NULL) names no family: it has no samples.
    let skip_unnamed = family.map(|family| {
        let row = family.ident;
        let convert =
            quote_spanned!(family.ty.span()=> ::hubble::LabelValue::to_label_value(&self.#row));
        quote! {
            if #convert.is_empty() {
                return ::hubble::__private::Result::Ok(());
            }
        }
    });
    let simple_query = c.simple_query.is_some();
    let from_text = from_text(c);
    let sql = c.query.as_ref().map(|q| {
        quote! {
            impl #impl_generics ::hubble::SqlQuery for #ident #ty_generics #where_clause {
                const QUERY: &'static str = #q;
                const SIMPLE_QUERY: bool = #simple_query;
                #from_text
            }
        }
    });

    // push_samples' and into_samples' body: the same but for how label values are had.
    let samples = |inserts: Vec<TokenStream>| {
        quote! {
            #skip_unnamed
            let mut labels = ::hubble::Labels::with_capacity(#n_labels);
            #(#inserts)*
            #(#insert_const)*
            // The row's samples share one set (the encoder writes it once per run).
            let labels = labels.shared();
            #(#push_values)*
            ::hubble::__private::Result::Ok(())
        }
    };
    let (lent, given) = (samples(insert_labels(false)), samples(insert_labels(true)));

    quote! {
        impl #impl_generics ::hubble::MetricGroup for #ident #ty_generics #where_clause {
            const NAME: &'static str = #name;
            const PER_DATABASE: bool = #per_database;
            const OPTIONS: ::hubble::CollectorOptions = ::hubble::CollectorOptions {
                interval: #interval,
                timeout: #timeout,
                max_series: ::hubble::__private::Option::None,
                condition: #condition,
            };

            fn families() -> ::hubble::__private::Vec<::hubble::Family> {
                ::hubble::__private::vec![#(#families),*]
            }

            fn push_samples(
                &self,
                out: &mut ::hubble::__private::Vec<::hubble::Sample>,
            ) -> ::hubble::__private::Result<(), ::hubble::CollectError> {
                #lent
            }

            // As push_samples, with the row's label values moved rather than copied.
            fn into_samples(
                mut self,
                out: &mut ::hubble::__private::Vec<::hubble::Sample>,
            ) -> ::hubble::__private::Result<(), ::hubble::CollectError> {
                #given
            }
        }

        #sql
    }
}

/// `SqlQuery::TEXT_COLUMNS` and `from_text` when every field is read from text: a type of
/// [`text_type`] and a column named by its name or `#[sqlx(rename)]`. Otherwise nothing: the group is read by
/// its `sqlx::FromRow` alone.
fn from_text(c: &Container) -> Option<TokenStream> {
    if c.sqlx_container || !c.fields.iter().all(|f| text_type(f.ty)) {
        return None;
    }
    let columns: Vec<&str> = c
        .fields
        .iter()
        .map(|f| f.column.as_deref())
        .collect::<Option<_>>()?;
    let name = c.collector_name();
    let fields = c
        .fields
        .iter()
        .zip(&columns)
        .enumerate()
        .map(|(i, (f, column))| {
            let field = f.ident;
            let ty = f.ty;
            quote! {
                #field: <#ty as ::hubble::__private::FromText>::from_text(cells[#i])
                    .map_err(|why| ::hubble::__private::column_error(#name, #column, why))?
            }
        });
    Some(quote! {
        const TEXT_COLUMNS: ::hubble::__private::Option<&'static [&'static str]> =
            ::hubble::__private::Option::Some(&[#(#columns),*]);

        fn from_text(
            cells: &[::hubble::__private::Option<&str>],
        ) -> ::hubble::__private::Result<Self, ::hubble::CollectError> {
            ::hubble::__private::Result::Ok(Self { #(#fields),* })
        }
    })
}

/// Whether a field of type `ty` is read from text (`hubble::__private::FromText`): integers, floats,
/// `bool`, `String`, an `Option` of one, a `Vec` of numbers. Judged by the type's name as written: an alias
/// is not followed, and its group is read by `sqlx::FromRow` alone.
fn text_type(ty: &syn::Type) -> bool {
    const NUMBERS: [&str; 10] = [
        "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64",
    ];
    fn last(ty: &syn::Type) -> Option<&syn::PathSegment> {
        match ty {
            syn::Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
            _ => None,
        }
    }
    fn argument(segment: &syn::PathSegment) -> Option<&syn::Type> {
        match &segment.arguments {
            syn::PathArguments::AngleBracketed(a) if a.args.len() == 1 => match &a.args[0] {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            },
            _ => None,
        }
    }
    fn scalar(ty: &syn::Type) -> bool {
        last(ty).is_some_and(|s| {
            s.arguments.is_none()
                && (NUMBERS.iter().any(|n| s.ident == n)
                    || s.ident == "bool"
                    || s.ident == "String")
        })
    }
    fn number(ty: &syn::Type) -> bool {
        last(ty).is_some_and(|s| s.arguments.is_none() && NUMBERS.iter().any(|n| s.ident == n))
    }
    let Some(segment) = last(ty) else {
        return false;
    };
    match segment.ident.to_string().as_str() {
        "Option" => argument(segment).is_some_and(|t| {
            scalar(t)
                || last(t).is_some_and(|s| s.ident == "Vec" && argument(s).is_some_and(number))
        }),
        "Vec" => argument(segment).is_some_and(number),
        _ => scalar(ty),
    }
}

/// Pushes a histogram field's sample, built from it (the bounds) and its `_bucket`, `_sum` and `_count`
/// fields (checked to exist).
fn push_histogram(c: &Container, f: &crate::ast::Field) -> TokenStream {
    let field = f.ident;
    let column = field.to_string();
    let (metric, _) = c.metric_name(f);
    let help = f.help_text().unwrap_or_default();
    let [bucket, sum, count] = c
        .histogram_parts(f)
        .map(|(_, part)| part.expect("checked by validation").ident);
    let build = quote_spanned!(f.ty.span()=> ::hubble::Histogram::from_columns(
        &self.#field, &self.#bucket, &self.#sum, &self.#count
    ));
    quote! {
        match #build {
            ::hubble::__private::Result::Ok(::hubble::__private::Option::Some(histogram)) => {
                let mut sample = ::hubble::Sample::histogram(#metric, #help, histogram);
                sample.labels = ::hubble::__private::Clone::clone(&labels);
                out.push(sample);
            }
            ::hubble::__private::Result::Ok(::hubble::__private::Option::None) => {}
            ::hubble::__private::Result::Err(source) => {
                return ::hubble::__private::Result::Err(::hubble::CollectError::Value {
                    column: ::hubble::__private::Cow::Borrowed(#column),
                    source,
                });
            }
        }
    }
}

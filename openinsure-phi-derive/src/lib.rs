//! The PHI derive macros: [`PhiRecord`](macro@PhiRecord) and [`EdgeSafe`](macro@EdgeSafe).
//!
//! This crate sits below both crates it serves: `openinsure-core`, whose domain types declare
//! their PHI with `PhiRecord`, and `openinsure-hipaa`, which guards edge stores with `EdgeSafe`.
//! Use them through the `openinsure_core` / `openinsure_hipaa` re-exports. `PhiRecord` expands to
//! `::openinsure_core::phi` paths and `EdgeSafe` to `::openinsure_hipaa` paths, so those crates
//! must be dependencies under those names.
//!
//! Attributes (both derives read `#[phi(...)]`):
//!
//! - on the struct: `#[phi(table = "claims")]`, the table the record is stored in (required by
//!   `PhiRecord`);
//! - on a field: `#[phi]` (the field holds PHI, its column is the field name),
//!   `#[phi(column = "claimant_dob")]` (PHI, stored in that column) or
//!   `#[phi(cleared = "why this is not PHI")]` (the name looks like PHI, it is not).
//!
//! JSON names follow `#[serde(rename = "...")]` and `#[serde(rename_all = "...")]` as serde does.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Expr, ExprLit, Field, Fields, Lit, Meta, Token, Type, parse_macro_input};

/// Derives `openinsure_core::phi::PhiRecord` (re-exported as `openinsure_hipaa::PhiRecord`): the table, every field with its JSON name, column and
/// PHI status, and in-place redaction of the PHI fields.
///
/// Redaction replaces a PHI field whose type is written `String` with `"[REDACTED]"`, one written
/// `Option<..>` with `None` and any other with its `Default` (so the type must implement it).
#[proc_macro_derive(PhiRecord, attributes(phi))]
pub fn derive_phi_record(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    phi_record(&input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Derives `openinsure_hipaa::EdgeSafe`, refusing at compile time a type that may carry PHI: a
/// field marked `#[phi]`, a field whose name (or JSON name) looks like PHI and is not marked
/// `#[phi(cleared = "...")]`, or a field whose type is not itself `EdgeSafe`.
#[proc_macro_derive(EdgeSafe, attributes(phi))]
pub fn derive_edge_safe(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    edge_safe(&input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// What a field's `#[phi]` attribute says.
enum Tag {
    /// No attribute.
    Plain,
    /// PHI, with an optional column override.
    Phi(Option<String>),
    /// Looks like PHI, is not, for this reason.
    Cleared(String),
}

fn phi_record(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let table = struct_table(&input.attrs)?.ok_or_else(|| {
        syn::Error::new(Span::call_site(), "`PhiRecord` needs the table: add `#[phi(table = \"...\")]` to the struct")
    })?;
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => &named.named,
            _ => return Err(syn::Error::new(input.span(), "`PhiRecord` is derived for structs with named fields")),
        },
        _ => return Err(syn::Error::new(input.span(), "`PhiRecord` is derived for structs with named fields")),
    };
    let rule = rename_all(&input.attrs);
    let mut specs = Vec::new();
    let mut masks = Vec::new();
    for field in fields {
        let Some(ident) = &field.ident else { continue };
        let rust_name = unraw(ident);
        let json = json_name(field, &rust_name, rule.as_deref());
        let (column, kind) = match field_tag(field)? {
            Tag::Plain => (rust_name.clone(), quote!(::openinsure_core::phi::FieldKind::Plain)),
            Tag::Cleared(reason) => (rust_name.clone(), quote!(::openinsure_core::phi::FieldKind::Cleared(#reason))),
            Tag::Phi(column) => {
                let mask = mask_expr(&field.ty);
                masks.push(quote!(self.#ident = #mask;));
                (column.unwrap_or_else(|| rust_name.clone()), quote!(::openinsure_core::phi::FieldKind::Phi))
            }
        };
        specs.push(quote!(::openinsure_core::phi::FieldSpec::new(#rust_name, #json, #column, #kind)));
    }
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics ::openinsure_core::phi::PhiRecord for #name #ty_generics #where_clause {
            const TABLE: &'static str = #table;
            const FIELDS: &'static [::openinsure_core::phi::FieldSpec] = &[#(#specs),*];
            fn redact_phi(&mut self) {
                #(#masks)*
            }
        }
    })
}

fn edge_safe(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let type_name = name.to_string();
    let rule = rename_all(&input.attrs);
    let mut all_fields: Vec<&Field> = Vec::new();
    match &input.data {
        Data::Struct(s) => all_fields.extend(s.fields.iter()),
        Data::Enum(e) => all_fields.extend(e.variants.iter().flat_map(|v| v.fields.iter())),
        Data::Union(_) => return Err(syn::Error::new(input.span(), "`EdgeSafe` is not derived for unions")),
    }
    let mut checks = Vec::new();
    let mut bounds = Vec::new();
    for field in &all_fields {
        match field_tag(field)? {
            Tag::Phi(_) => {
                return Err(syn::Error::new(
                    field.span(),
                    "a field marked `#[phi]` holds PHI: a type with PHI fields cannot be `EdgeSafe`",
                ));
            }
            Tag::Cleared(_) => {}
            Tag::Plain => {
                if let Some(ident) = &field.ident {
                    let rust_name = unraw(ident);
                    let json = json_name(field, &rust_name, rule.as_deref());
                    let mut names = vec![rust_name];
                    if !names.contains(&json) {
                        names.push(json);
                    }
                    for n in names {
                        let message = format!(
                            "field `{n}` of `{type_name}` looks like PHI and cannot reach an edge store; \
                             if it is not PHI, mark it `#[phi(cleared = \"reason\")]`"
                        );
                        checks.push(quote_spanned! {field.span()=>
                            const _: () = ::core::assert!(!::openinsure_hipaa::looks_like_phi(#n), #message);
                        });
                    }
                }
            }
        }
        let ty = &field.ty;
        bounds.push(quote!(#ty: ::openinsure_hipaa::EdgeSafe));
    }
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut predicates: Vec<TokenStream2> =
        where_clause.map(|w| w.predicates.iter().map(|p| quote!(#p)).collect()).unwrap_or_default();
    predicates.extend(bounds);
    Ok(quote! {
        #(#checks)*
        #[automatically_derived]
        impl #impl_generics ::openinsure_hipaa::__private::Sealed for #name #ty_generics
        where #(#predicates,)* {}
        #[automatically_derived]
        impl #impl_generics ::openinsure_hipaa::EdgeSafe for #name #ty_generics
        where #(#predicates,)* {}
    })
}

/// The field name without a raw-identifier prefix.
fn unraw(ident: &syn::Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#").map(str::to_owned).unwrap_or(s)
}

/// `#[phi(table = "...")]` on the struct.
fn struct_table(attrs: &[Attribute]) -> syn::Result<Option<String>> {
    let mut table = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("phi")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("table") {
                let lit: syn::LitStr = meta.value()?.parse()?;
                let value = lit.value();
                if value.is_empty() || value.contains('.') || value.contains(char::is_whitespace) {
                    return Err(meta.error("the table is a plain, non-empty name (no dots, no spaces)"));
                }
                table = Some(value);
                Ok(())
            } else {
                Err(meta.error("unknown `phi` attribute on a struct: expected `table = \"...\"`"))
            }
        })?;
    }
    Ok(table)
}

/// The `#[phi(...)]` of a field.
fn field_tag(field: &Field) -> syn::Result<Tag> {
    let mut tag = Tag::Plain;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("phi")) {
        if matches!(attr.meta, Meta::Path(_)) {
            if !matches!(tag, Tag::Plain) {
                return Err(syn::Error::new(attr.span(), "one `#[phi]` attribute per field"));
            }
            tag = Tag::Phi(None);
            continue;
        }
        let mut column = None;
        let mut cleared = None;
        attr.parse_nested_meta(|meta| {
            let lit: syn::LitStr = meta.value()?.parse()?;
            let value = lit.value();
            if meta.path.is_ident("column") {
                if value.is_empty() || value.contains('.') || value.contains(char::is_whitespace) {
                    return Err(meta.error("the column is a plain, non-empty name (no dots, no spaces)"));
                }
                column = Some(value);
                Ok(())
            } else if meta.path.is_ident("cleared") {
                if value.trim().is_empty() {
                    return Err(meta.error("say why the field is not PHI: `cleared = \"reason\"`"));
                }
                cleared = Some(value);
                Ok(())
            } else {
                Err(meta
                    .error("unknown `phi` attribute on a field: expected `column = \"...\"` or `cleared = \"...\"`"))
            }
        })?;
        if !matches!(tag, Tag::Plain) {
            return Err(syn::Error::new(attr.span(), "one `#[phi]` attribute per field"));
        }
        tag = match (column, cleared) {
            (Some(_), Some(_)) => {
                return Err(syn::Error::new(attr.span(), "a field is either PHI (`column`) or `cleared`, not both"));
            }
            (None, Some(reason)) => Tag::Cleared(reason),
            (column, None) => Tag::Phi(column),
        };
    }
    Ok(tag)
}

/// The serde `rename_all` rule of the container (its serialize side).
fn rename_all(attrs: &[Attribute]) -> Option<String> {
    serde_metas(attrs).into_iter().find_map(|meta| match meta {
        Meta::NameValue(nv) if nv.path.is_ident("rename_all") => lit_str(&nv.value),
        Meta::List(list) if list.path.is_ident("rename_all") => serialize_side(&list),
        _ => None,
    })
}

/// The JSON name serde gives the field.
fn json_name(field: &Field, rust_name: &str, rule: Option<&str>) -> String {
    let renamed = serde_metas(&field.attrs).into_iter().find_map(|meta| match meta {
        Meta::NameValue(nv) if nv.path.is_ident("rename") => lit_str(&nv.value),
        Meta::List(list) if list.path.is_ident("rename") => serialize_side(&list),
        _ => None,
    });
    renamed.unwrap_or_else(|| apply_rule(rust_name, rule))
}

/// Every item of every `#[serde(...)]` attribute; attributes that do not parse as metas are
/// skipped (serde reports them itself).
fn serde_metas(attrs: &[Attribute]) -> Vec<Meta> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("serde"))
        .filter_map(|a| a.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated).ok())
        .flatten()
        .collect()
}

/// `serialize = "..."` inside `rename(...)` / `rename_all(...)`.
fn serialize_side(list: &syn::MetaList) -> Option<String> {
    let inner = list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated).ok()?;
    inner.into_iter().find_map(|m| match m {
        Meta::NameValue(nv) if nv.path.is_ident("serialize") => lit_str(&nv.value),
        _ => None,
    })
}

fn lit_str(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Some(s.value()),
        _ => None,
    }
}

/// serde's `rename_all` rules, applied to a snake_case field name as serde applies them.
fn apply_rule(field: &str, rule: Option<&str>) -> String {
    let pascal = || {
        let mut out = String::new();
        let mut capitalize = true;
        for ch in field.chars() {
            if ch == '_' {
                capitalize = true;
            } else if capitalize {
                out.push(ch.to_ascii_uppercase());
                capitalize = false;
            } else {
                out.push(ch);
            }
        }
        out
    };
    match rule {
        Some("UPPERCASE") | Some("SCREAMING_SNAKE_CASE") => field.to_ascii_uppercase(),
        Some("PascalCase") => pascal(),
        Some("camelCase") => {
            let p = pascal();
            let mut chars = p.chars();
            match chars.next() {
                Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                None => p,
            }
        }
        Some("kebab-case") => field.replace('_', "-"),
        Some("SCREAMING-KEBAB-CASE") => field.to_ascii_uppercase().replace('_', "-"),
        _ => field.to_owned(),
    }
}

/// The masked value of a PHI field, chosen by how its type is written.
fn mask_expr(ty: &Type) -> TokenStream2 {
    match last_segment(ty).as_deref() {
        Some("String") => quote!(::core::convert::From::from(::openinsure_core::phi::REDACTED)),
        Some("Option") => quote!(::core::option::Option::None),
        _ => quote!(::core::default::Default::default()),
    }
}

fn last_segment(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.to_string()),
        Type::Group(g) => last_segment(&g.elem),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

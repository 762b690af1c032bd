//! `#[export]` for pg_wasm Rust guests; see the `pg-wasm-guest` crate.
//!
//! For `fn f(a: &str, n: i32) -> String` it emits
//! - `#[export_name = "f"] extern "C" fn(a_ptr: i32, a_len: i32, n: i32) -> i64`
//!   that rebuilds the arguments, calls `f` and packs the result;
//! - a `#[link_section = "pg_wasm"]` static with
//!   `{"functions": {"f": {"args": ["text", "integer"], "returns": "text", ...}}}`,
//!   which the linker concatenates with the other functions' entries.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{format_ident, quote};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{
    parse_macro_input, Error, Expr, ExprLit, FnArg, GenericArgument, ItemFn, Lit, Meta, PathArguments,
    ReturnType, Token, Type,
};

#[derive(Default)]
struct Options {
    name: Option<String>,
    volatility: Option<&'static str>,
    parallel: Option<String>,
    returns: Option<String>,
    args: Option<Vec<String>>,
    trigger: bool,
}

fn parse_options(attr: TokenStream) -> syn::Result<Options> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse(attr)?;
    let mut o = Options::default();
    for meta in metas {
        let key = meta
            .path()
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        match (&meta, key.as_str()) {
            (Meta::Path(_), "immutable") => o.volatility = Some("immutable"),
            (Meta::Path(_), "stable") => o.volatility = Some("stable"),
            (Meta::Path(_), "volatile") => o.volatility = Some("volatile"),
            (Meta::Path(_), "trigger") => o.trigger = true,
            (Meta::NameValue(nv), k @ ("name" | "returns" | "args" | "parallel")) => {
                let Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) = &nv.value
                else {
                    return Err(Error::new_spanned(nv, "expected a string"));
                };
                let v = s.value();
                match k {
                    "name" => o.name = Some(v),
                    "returns" => o.returns = Some(v),
                    "parallel" => o.parallel = Some(v),
                    _ => o.args = Some(v.split(',').map(|t| t.trim().to_string()).collect()),
                }
            }
            _ => {
                return Err(Error::new_spanned(
                    meta,
                    "expected immutable, stable, volatile, name = \"..\", returns = \"..\", args = \"..\" or parallel = \"..\"",
                ))
            }
        }
    }
    Ok(o)
}

/// The last path segment's name and its single generic argument, if any.
fn path_parts(ty: &Type) -> Option<(String, Option<&Type>)> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    let inner = match &seg.arguments {
        PathArguments::AngleBracketed(a) => a.args.iter().find_map(|g| match g {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    };
    Some((seg.ident.to_string(), inner))
}

fn numeric(ty: &Type) -> Option<(&'static str, Tokens)> {
    let (name, inner) = path_parts(ty)?;
    if inner.is_some() {
        return None;
    }
    Some(match name.as_str() {
        "i16" => ("smallint", quote!(i32)),
        "i32" => ("integer", quote!(i32)),
        "i64" => ("bigint", quote!(i64)),
        "f32" => ("real", quote!(f32)),
        "f64" => ("double precision", quote!(f64)),
        "bool" => ("boolean", quote!(i32)),
        _ => return None,
    })
}

/// SQL type of a byte-borne Rust type.
fn byte_sql(ty: &Type) -> Option<&'static str> {
    match ty {
        Type::Reference(r) => match &*r.elem {
            Type::Path(p) if p.path.is_ident("str") => Some("text"),
            Type::Slice(s) if matches!(&*s.elem, Type::Path(p) if p.path.is_ident("u8")) => {
                Some("bytea")
            }
            _ => None,
        },
        _ => match path_parts(ty)? {
            (n, None) if n == "String" => Some("text"),
            (n, None) if n == "Value" => Some("jsonb"),
            (n, Some(inner)) if n == "Vec" && numeric(inner).is_none() && is_u8(inner) => {
                Some("bytea")
            }
            _ => None,
        },
    }
}

fn is_u8(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.is_ident("u8"))
}

fn option_inner(ty: &Type) -> Option<&Type> {
    match path_parts(ty)? {
        (n, Some(inner)) if n == "Option" => Some(inner),
        _ => None,
    }
}

fn is_borrowed(ty: &Type) -> bool {
    match ty {
        Type::Reference(_) => true,
        _ => option_inner(ty).is_some_and(is_borrowed),
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `#[export(trigger)] fn f(ev: TriggerEvent) -> TriggerResult`: one JSON
/// document in, one out, and a section entry that makes it RETURNS trigger.
fn expand_trigger(opts: &Options, func: &ItemFn) -> syn::Result<(Tokens, String)> {
    let ident = &func.sig.ident;
    let export = ident.to_string();
    if func.sig.inputs.len() != 1 {
        return Err(Error::new_spanned(
            &func.sig,
            "a trigger takes one argument, the TriggerEvent",
        ));
    }
    let glue = format_ident!("__pg_wasm_export_{}", ident);
    let tokens = quote! {
        #[doc(hidden)]
        #[export_name = #export]
        pub extern "C" fn #glue(p0: i32, l0: i32) -> i64 {
            let b0 = unsafe { ::pg_wasm_guest::ArgBuf::new(p0, l0) };
            let ev = <::pg_wasm_guest::TriggerEvent as ::pg_wasm_guest::FromArg>::from_arg(&b0);
            ::pg_wasm_guest::IntoRet::into_ret(#ident(ev))
        }
    };
    let mut entry = String::from("\"kind\": \"trigger\", \"args\": [], \"returns\": \"trigger\", \"strict\": false");
    if let Some(n) = &opts.name {
        entry.push_str(&format!(", \"name\": {}", json_str(n)));
    }
    Ok((tokens, entry))
}

fn expand(opts: Options, func: ItemFn) -> syn::Result<Tokens> {
    let ident = &func.sig.ident;
    if opts.trigger {
        let (glue, entry) = expand_trigger(&opts, &func)?;
        return Ok(with_section(&func, glue, &entry));
    }
    let export = ident.to_string();
    let mut params = Vec::new();
    let mut prelude = Vec::new();
    let mut call_args = Vec::new();
    let mut sql_args = Vec::new();
    let mut strict = true;
    for (i, arg) in func.sig.inputs.iter().enumerate() {
        let FnArg::Typed(pt) = arg else {
            return Err(Error::new_spanned(arg, "#[export] functions take no self"));
        };
        let ty = &*pt.ty;
        if let Some((sql, wasm)) = numeric(ty) {
            let p = format_ident!("a{i}");
            params.push(quote!(#p: #wasm));
            call_args.push(match sql {
                "boolean" => quote!(#p != 0),
                "smallint" => quote!(#p as i16),
                _ => quote!(#p),
            });
            sql_args.push(sql.to_string());
            continue;
        }
        let inner = option_inner(ty);
        if inner.is_some() {
            strict = false;
        }
        let sql = byte_sql(inner.unwrap_or(ty)).ok_or_else(|| {
            Error::new_spanned(
                ty,
                "unsupported argument type: use integers, floats, bool, &str, String, &[u8], Vec<u8>, serde_json::Value or Option of these",
            )
        })?;
        let (p, l, b) = (format_ident!("p{i}"), format_ident!("l{i}"), format_ident!("b{i}"));
        params.push(quote!(#p: i32, #l: i32));
        prelude.push(quote!(let #b = unsafe { ::pg_wasm_guest::ArgBuf::new(#p, #l) };));
        call_args.push(if is_borrowed(ty) {
            quote!(<#ty as ::pg_wasm_guest::FromArg>::from_arg(&#b))
        } else {
            quote!(<#ty as ::pg_wasm_guest::FromArg>::from_owned(#b))
        });
        sql_args.push(sql.to_string());
    }
    let (ret_wasm, ret_expr, sql_ret) = match &func.sig.output {
        ReturnType::Default => (quote!(), quote!(#ident(#(#call_args),*);), "void".to_string()),
        ReturnType::Type(_, ty) => {
            if let Some((sql, wasm)) = numeric(ty) {
                let conv = match sql {
                    "boolean" => quote!(r as i32),
                    "smallint" => quote!(r as i32),
                    _ => quote!(r),
                };
                (
                    quote!(-> #wasm),
                    quote!(let r = #ident(#(#call_args),*); #conv),
                    sql.to_string(),
                )
            } else if let Some(sql) = byte_sql(option_inner(ty).unwrap_or(ty)) {
                (
                    quote!(-> i64),
                    quote!(::pg_wasm_guest::IntoRet::into_ret(#ident(#(#call_args),*))),
                    sql.to_string(),
                )
            } else if let Some((n, Some(elem))) = path_parts(ty).filter(|(n, _)| n == "Vec") {
                let _ = n;
                let elem_sql = numeric(option_inner(elem).unwrap_or(elem))
                    .map(|(s, _)| s)
                    .or_else(|| byte_sql(option_inner(elem).unwrap_or(elem)))
                    .ok_or_else(|| Error::new_spanned(elem, "unsupported set element type"))?;
                (
                    quote!(-> i64),
                    quote!(::pg_wasm_guest::return_set(#ident(#(#call_args),*))),
                    format!("setof {elem_sql}"),
                )
            } else {
                return Err(Error::new_spanned(
                    ty,
                    "unsupported result type: use integers, floats, bool, String, &'static str, Vec<u8>, serde_json::Value, Option of these, or Vec<T> for a set",
                ));
            }
        }
    };
    let sql_args = opts.args.unwrap_or(sql_args);
    let sql_ret = opts.returns.unwrap_or(sql_ret);
    let mut entry = format!(
        "\"args\": [{}], \"returns\": {}, \"strict\": {strict}",
        sql_args.iter().map(|a| json_str(a)).collect::<Vec<_>>().join(", "),
        json_str(&sql_ret)
    );
    if let Some(v) = opts.volatility {
        entry.push_str(&format!(", \"volatility\": \"{v}\""));
    }
    if let Some(p) = &opts.parallel {
        entry.push_str(&format!(", \"parallel\": {}", json_str(p)));
    }
    if let Some(n) = &opts.name {
        entry.push_str(&format!(", \"name\": {}", json_str(n)));
    }
    let glue = format_ident!("__pg_wasm_export_{}", ident);
    let glue = quote! {
        #[doc(hidden)]
        #[export_name = #export]
        pub extern "C" fn #glue(#(#params),*) #ret_wasm {
            #(#prelude)*
            #ret_expr
        }
    };
    Ok(with_section(&func, glue, &entry))
}

/// The function, its glue, and its entry of the pg_wasm section.
fn with_section(func: &ItemFn, glue: Tokens, entry: &str) -> Tokens {
    let ident = &func.sig.ident;
    let export = ident.to_string();
    let section = format!("{{\"functions\": {{{}: {{{entry}}}}}}}\n", json_str(&export));
    let bytes = syn::LitByteStr::new(section.as_bytes(), Span::call_site());
    let len = section.len();
    let section_static = format_ident!("__PG_WASM_SECTION_{}", ident.to_string().to_uppercase());
    quote! {
        #func

        #glue

        #[doc(hidden)]
        #[link_section = "pg_wasm"]
        #[used]
        static #section_static: [u8; #len] = *#bytes;
    }
}

/// Exports a Rust function as a pg_wasm function: see `pg-wasm-guest`.
#[proc_macro_attribute]
pub fn export(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func = parse_macro_input!(item as ItemFn);
    match parse_options(attr).and_then(|o| expand(o, func)) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

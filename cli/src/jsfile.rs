//! A JavaScript file for `LANGUAGE javascript`: a CommonJS module (what
//! `require` loads; `exports.f = ...` or `module.exports = {...}`), whose
//! functions become SQL functions where a comment gives their signature:
//!
//! ```js
//! // @sql slugify(title text) RETURNS text IMMUTABLE STRICT
//! exports.slugify = (title) => ...;
//! ```
//!
//! `pg-wasm deploy` stores the file as a library (`wasm.load_javascript`)
//! and creates each function with the body
//! `return require('<library>').slugify(title);`.

#[derive(Clone, Debug, PartialEq)]
pub struct JsFunction {
    /// The SQL name, which is also the export's name.
    pub name: String,
    /// The argument list as written (`title text, n int DEFAULT 1`).
    pub args: String,
    /// The argument names, in order.
    pub arg_names: Vec<String>,
    /// The argument types, in order.
    pub arg_types: Vec<String>,
    /// Everything after the arguments (`RETURNS text IMMUTABLE STRICT`).
    pub tail: String,
    /// The return type as written after RETURNS (`text`, `SETOF int`).
    pub returns: String,
    /// 1-based line of the annotation.
    pub line: usize,
}

const MARK: &str = "@sql";

/// The annotated functions of `text`; an error starts with the line number.
pub fn functions(text: &str) -> Result<Vec<JsFunction>, String> {
    let mut out: Vec<JsFunction> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let Some(rest) = t.strip_prefix("//").map(str::trim_start) else {
            continue;
        };
        let Some(decl) = rest.strip_prefix(MARK) else {
            continue;
        };
        let f = parse(decl.trim(), i + 1).map_err(|e| format!("{}: {e}", i + 1))?;
        if out.iter().any(|o| o.name == f.name) {
            return Err(format!("{}: function {} is declared twice", i + 1, f.name));
        }
        out.push(f);
    }
    Ok(out)
}

fn parse(decl: &str, line: usize) -> Result<JsFunction, String> {
    let usage = || {
        format!("\"// {MARK} {decl}\" should read \"// {MARK} name(arg type, ...) RETURNS type [IMMUTABLE|STABLE|VOLATILE] [STRICT]\"")
    };
    let open = decl.find('(').ok_or_else(usage)?;
    let name = decl[..open].trim();
    if !is_sql_identifier(name) {
        return Err(format!(
            "\"{name}\" cannot name a function here: use lower-case letters, digits and _"
        ));
    }
    let close = matching_paren(decl, open).ok_or_else(usage)?;
    let args = decl[open + 1..close].trim().to_string();
    let mut arg_names = Vec::new();
    let mut arg_types = Vec::new();
    for a in split_top_level(&args) {
        let a = a.trim();
        let mut words = a.splitn(2, char::is_whitespace);
        let (n, ty) = (
            words.next().unwrap_or(""),
            words.next().unwrap_or("").trim(),
        );
        if !is_sql_identifier(n) || ty.is_empty() {
            return Err(format!(
                "argument \"{a}\" of {name} needs a name and a type (\"title text\")"
            ));
        }
        let ty = ty
            .split_once(|c: char| c.is_whitespace())
            .filter(|(_, rest)| rest.trim_start().to_lowercase().starts_with("default"))
            .map_or(ty, |(t, _)| t);
        arg_names.push(n.to_string());
        arg_types.push(ty.to_string());
    }
    let tail = decl[close + 1..].trim().to_string();
    let lower = tail.to_lowercase();
    let Some(r) = lower.strip_prefix("returns") else {
        return Err(format!("{name}: RETURNS is missing ({})", usage()));
    };
    let returns_from = tail.len() - r.len();
    let returns = tail[returns_from..]
        .split(|c: char| c.is_whitespace())
        .filter(|w| !w.is_empty())
        .take_while(|w| {
            !matches!(
                w.to_lowercase().as_str(),
                "immutable"
                    | "stable"
                    | "volatile"
                    | "strict"
                    | "parallel"
                    | "security"
                    | "cost"
                    | "rows"
                    | "leakproof"
                    | "called"
                    | "returns"
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    if returns.is_empty() {
        return Err(format!("{name}: RETURNS needs a type"));
    }
    if returns.eq_ignore_ascii_case("trigger") {
        return Err(format!(
            "{name}: trigger functions are written in CREATE FUNCTION ... LANGUAGE javascript (NEW, OLD and TG_* are its variables), not in a library"
        ));
    }
    Ok(JsFunction {
        name: name.to_string(),
        args,
        arg_names,
        arg_types,
        tail,
        returns,
        line,
    })
}

/// `[a-z_][a-z0-9_]*`, the names pg_wasm gives and takes unquoted.
pub fn is_sql_identifier(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_lowercase() || f == '_')
        && c.all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || x == '_')
        && s.len() < 64
}

fn matching_paren(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in s[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

fn split_top_level(s: &str) -> Vec<&str> {
    if s.trim().is_empty() {
        return vec![];
    }
    let (mut out, mut depth, mut start) = (vec![], 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// The body of the SQL function deployed for `f` of library `library`.
/// The library's exports are kept in a global of the instance after the
/// first call, so later rows skip `require` (a third of a small
/// function's cost); an instance lives one statement, as `require`'s own
/// cache does.
pub fn call_body(library: &str, f: &JsFunction) -> String {
    format!(
        "return (globalThis['pg-wasm:{library}'] ??= require('{library}')).{}({});",
        f.name,
        f.arg_names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations() {
        let src = "// @sql add(a int, b int) RETURNS int IMMUTABLE STRICT\nexports.add = (a, b) => a + b;\n  //   @sql price(amount numeric(10,2), rate float8 DEFAULT 1.0) returns setof numeric\n";
        let f = functions(src).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].arg_names, ["a", "b"]);
        assert_eq!(f[0].returns, "int");
        assert_eq!(f[0].tail, "RETURNS int IMMUTABLE STRICT");
        assert_eq!(f[1].arg_types, ["numeric(10,2)", "float8"]);
        assert_eq!(f[1].returns, "setof numeric");
        assert_eq!(f[1].line, 3);
        assert!(functions("// @sql Bad() RETURNS int")
            .unwrap_err()
            .starts_with("1: "));
        assert!(functions("// @sql f(a) RETURNS int").is_err());
        assert!(functions("// @sql f() int").is_err());
        assert!(functions("// @sql t() RETURNS trigger").is_err());
        assert!(functions("// @sql f() RETURNS int\n// @sql f() RETURNS int").is_err());
        assert_eq!(
            functions("// @sql none() RETURNS void").unwrap()[0]
                .arg_names
                .len(),
            0
        );
    }
}

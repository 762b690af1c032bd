//! A component's exports as WIT and as SQL (the table of SPEC §10).

use wasmtime::component::types::{ComponentItem, Type};
use wasmtime::component::Component;
use wasmtime::Engine;

/// A WIT value type, as far as pg_wasm maps it to SQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WitType {
    Bool,
    S8,
    U8,
    S16,
    U16,
    S32,
    U32,
    S64,
    U64,
    F32,
    F64,
    Char,
    String,
    List(Box<WitType>),
    Option(Box<WitType>),
    Result {
        ok: Option<Box<WitType>>,
        err: Option<Box<WitType>>,
    },
    /// A record: its WIT name (when known, see [`name_records`]) and fields.
    Record {
        name: Option<String>,
        fields: Vec<(String, WitType)>,
    },
    Tuple(Vec<WitType>),
    Enum(Vec<String>),
    Flags(Vec<String>),
    Variant(Vec<(String, Option<WitType>)>),
    /// Resources, streams, futures, maps: shown, never mapped.
    Other(String),
}

impl WitType {
    pub fn from_type(ty: &Type) -> WitType {
        let boxed = |t: &Type| Box::new(WitType::from_type(t));
        match ty {
            Type::Bool => WitType::Bool,
            Type::S8 => WitType::S8,
            Type::U8 => WitType::U8,
            Type::S16 => WitType::S16,
            Type::U16 => WitType::U16,
            Type::S32 => WitType::S32,
            Type::U32 => WitType::U32,
            Type::S64 => WitType::S64,
            Type::U64 => WitType::U64,
            Type::Float32 => WitType::F32,
            Type::Float64 => WitType::F64,
            Type::Char => WitType::Char,
            Type::String => WitType::String,
            Type::List(l) => WitType::List(boxed(&l.ty())),
            Type::Option(o) => WitType::Option(boxed(&o.ty())),
            Type::Result(r) => WitType::Result {
                ok: r.ok().as_ref().map(boxed),
                err: r.err().as_ref().map(boxed),
            },
            Type::Record(r) => WitType::Record {
                name: None,
                fields: r
                    .fields()
                    .map(|f| (f.name.to_string(), WitType::from_type(&f.ty)))
                    .collect(),
            },
            Type::Tuple(t) => WitType::Tuple(t.types().map(|t| WitType::from_type(&t)).collect()),
            Type::Enum(e) => WitType::Enum(e.names().map(str::to_string).collect()),
            Type::Flags(f) => WitType::Flags(f.names().map(str::to_string).collect()),
            Type::Variant(v) => WitType::Variant(
                v.cases()
                    .map(|c| (c.name.to_string(), c.ty.as_ref().map(WitType::from_type)))
                    .collect(),
            ),
            Type::Own(_) | Type::Borrow(_) => WitType::Other("resource".into()),
            Type::Future(_) => WitType::Other("future".into()),
            Type::Stream(_) => WitType::Other("stream".into()),
            Type::ErrorContext => WitType::Other("error-context".into()),
            Type::Map(_) => WitType::Other("map".into()),
            Type::FixedLengthList(_) => WitType::Other("fixed-length list".into()),
        }
    }

    /// The type as WIT writes it (records and variants spelled out).
    pub fn wit(&self) -> String {
        let list = |items: Vec<String>| items.join(", ");
        match self {
            WitType::Bool => "bool".into(),
            WitType::S8 => "s8".into(),
            WitType::U8 => "u8".into(),
            WitType::S16 => "s16".into(),
            WitType::U16 => "u16".into(),
            WitType::S32 => "s32".into(),
            WitType::U32 => "u32".into(),
            WitType::S64 => "s64".into(),
            WitType::U64 => "u64".into(),
            WitType::F32 => "f32".into(),
            WitType::F64 => "f64".into(),
            WitType::Char => "char".into(),
            WitType::String => "string".into(),
            WitType::List(t) => format!("list<{}>", t.wit()),
            WitType::Option(t) => format!("option<{}>", t.wit()),
            WitType::Result { ok, err } => match (ok, err) {
                (None, None) => "result".into(),
                (Some(o), None) => format!("result<{}>", o.wit()),
                (None, Some(e)) => format!("result<_, {}>", e.wit()),
                (Some(o), Some(e)) => format!("result<{}, {}>", o.wit(), e.wit()),
            },
            WitType::Record { name: Some(n), .. } => n.clone(),
            WitType::Record { name: None, fields } => format!(
                "record {{ {} }}",
                list(
                    fields
                        .iter()
                        .map(|(n, t)| format!("{n}: {}", t.wit()))
                        .collect()
                )
            ),
            WitType::Tuple(ts) => format!("tuple<{}>", list(ts.iter().map(|t| t.wit()).collect())),
            WitType::Enum(names) => format!("enum {{ {} }}", names.join(", ")),
            WitType::Flags(names) => format!("flags {{ {} }}", names.join(", ")),
            WitType::Variant(cases) => format!(
                "variant {{ {} }}",
                list(
                    cases
                        .iter()
                        .map(|(n, t)| match t {
                            Some(t) => format!("{n}({})", t.wit()),
                            None => n.clone(),
                        })
                        .collect()
                )
            ),
            WitType::Other(what) => what.clone(),
        }
    }

    /// The SQL type of SPEC §10 for this type, or why there is none yet,
    /// with a record named by its WIT name in snake_case.
    pub fn sql(&self) -> Result<String, String> {
        self.sql_with(&|name| snake(name))
    }

    /// [`WitType::sql`] with `record` naming the composite type of a
    /// record (from its WIT name). A tuple is an anonymous `record`: a
    /// parameter takes any row, a result gets OUT parameters
    /// ([`WitType::out_columns`]); nowhere else (in a list or a record
    /// field) can SQL type it.
    pub fn sql_with(&self, record: &dyn Fn(&str) -> String) -> Result<String, String> {
        Ok(match self {
            WitType::Bool => "boolean".into(),
            WitType::S8 | WitType::U8 | WitType::S16 => "smallint".into(),
            WitType::U16 | WitType::S32 => "integer".into(),
            WitType::U32 | WitType::S64 => "bigint".into(),
            WitType::U64 => "numeric".into(),
            WitType::F32 => "real".into(),
            WitType::F64 => "double precision".into(),
            WitType::Char | WitType::String | WitType::Enum(_) => "text".into(),
            WitType::List(t) if **t == WitType::U8 => "bytea".into(),
            WitType::List(t) => {
                let inner = t.sql_with(record)?;
                if inner.ends_with("[]") || inner == "record" {
                    return Err(format!("{} (nested lists)", self.wit()));
                }
                format!("{inner}[]")
            }
            WitType::Option(t) => t.sql_with(record)?,
            WitType::Result { ok: Some(t), .. } => t.sql_with(record)?,
            WitType::Result { ok: None, .. } => "void".into(),
            WitType::Flags(_) => "text[]".into(),
            WitType::Variant(_) => "jsonb".into(),
            WitType::Record { name: Some(n), .. } => record(n),
            WitType::Tuple(ts) => {
                for t in ts {
                    if t.sql_with(record)? == "record" {
                        return Err(format!("{} (nested tuples)", self.wit()));
                    }
                }
                "record".into()
            }
            WitType::Record { name: None, .. } | WitType::Other(_) => {
                return Err(self.wit());
            }
        })
    }

    /// A tuple result's OUT parameters (`f1 integer`, `f2 text`, …, named
    /// as PostgreSQL names the columns of `ROW(...)`), when this type is a
    /// tuple, in an `option` or a `result` or not.
    pub fn out_columns(
        &self,
        record: &dyn Fn(&str) -> String,
    ) -> Option<Result<Vec<String>, String>> {
        match self {
            WitType::Option(t) | WitType::Result { ok: Some(t), .. } => t.out_columns(record),
            WitType::Tuple(ts) => Some(
                ts.iter()
                    .enumerate()
                    .map(|(i, t)| t.sql_with(record).map(|sql| format!("f{} {sql}", i + 1)))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Every named record in this type, innermost first (a record's field
    /// types before the record).
    pub fn records<'a>(&'a self, out: &mut Vec<&'a WitType>) {
        match self {
            WitType::List(t) | WitType::Option(t) => t.records(out),
            WitType::Result { ok, err } => {
                for t in [ok, err].into_iter().flatten() {
                    t.records(out);
                }
            }
            WitType::Tuple(ts) => ts.iter().for_each(|t| t.records(out)),
            WitType::Variant(cases) => cases
                .iter()
                .flat_map(|(_, t)| t)
                .for_each(|t| t.records(out)),
            WitType::Record { name, fields } => {
                fields.iter().for_each(|(_, t)| t.records(out));
                if name.is_some() && !out.contains(&self) {
                    out.push(self);
                }
            }
            _ => {}
        }
    }

    /// Gives each record in this type the name `names` has for its field
    /// list (records are structural in wasmtime's types; names come from
    /// the component's WIT, see [`super::names`]).
    pub(crate) fn name_records(&mut self, names: &dyn Fn(&[&str]) -> Option<String>) {
        match self {
            WitType::List(t) | WitType::Option(t) => t.name_records(names),
            WitType::Result { ok, err } => {
                for t in [ok, err].into_iter().flatten() {
                    t.name_records(names);
                }
            }
            WitType::Tuple(ts) => ts.iter_mut().for_each(|t| t.name_records(names)),
            WitType::Variant(cases) => cases
                .iter_mut()
                .flat_map(|(_, t)| t)
                .for_each(|t| t.name_records(names)),
            WitType::Record { name, fields } => {
                fields.iter_mut().for_each(|(_, t)| t.name_records(names));
                let keys: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
                *name = names(&keys);
            }
            _ => {}
        }
    }
}

/// One exported function of a component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentExport {
    /// The exported interface it belongs to (its WIT name, e.g.
    /// `tenant:rules/pricing@1.0.0`), or `None` for a top-level function.
    pub interface: Option<String>,
    /// The function's WIT name (kebab-case).
    pub func: String,
    pub params: Vec<(String, WitType)>,
    pub result: Option<WitType>,
}

impl ComponentExport {
    /// The export's name in pg_wasm (`AS 'module.<name>'`, `wasm.inspect`):
    /// the function's WIT name, after `<interface>/` for an interface's
    /// function (the interface's short name: no package, no version).
    pub fn name(&self) -> String {
        match &self.interface {
            Some(i) => format!("{}/{}", interface_short_name(i), self.func),
            None => self.func.clone(),
        }
    }

    /// The SQL function name: kebab-case to snake_case, `/` to `_`.
    pub fn sql_name(&self) -> String {
        snake(&self.name().replace('/', "_"))
    }

    /// `func(a: s32, b: string) -> string`.
    pub fn wit(&self) -> String {
        let params = self
            .params
            .iter()
            .map(|(n, t)| format!("{n}: {}", t.wit()))
            .collect::<Vec<_>>()
            .join(", ");
        match &self.result {
            Some(r) => format!("func({params}) -> {}", r.wit()),
            None => format!("func({params})"),
        }
    }

    /// Whether `name` names this export (as WIT or as SQL writes it).
    pub fn is_named(&self, name: &str) -> bool {
        name == self.name() || name == self.sql_name() || snake(name) == self.sql_name()
    }
}

/// kebab-case to snake_case.
pub fn snake(name: &str) -> String {
    name.replace('-', "_")
}

fn interface_short_name(interface: &str) -> &str {
    let no_version = interface.split('@').next().unwrap_or(interface);
    no_version.rsplit('/').next().unwrap_or(no_version)
}

/// A component's imports (WIT names) and exported functions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ComponentInfo {
    pub imports: Vec<String>,
    pub exports: Vec<ComponentExport>,
}

impl ComponentInfo {
    pub fn export(&self, name: &str) -> Option<&ComponentExport> {
        self.exports.iter().find(|e| e.is_named(name))
    }

    /// The named records the exports use, each once, innermost first (the
    /// order their composite types can be created in).
    pub fn records(&self) -> Vec<&WitType> {
        let mut out = Vec::new();
        for e in &self.exports {
            e.params.iter().for_each(|(_, t)| t.records(&mut out));
            if let Some(t) = &e.result {
                t.records(&mut out);
            }
        }
        out
    }
}

/// Reads a compiled component's type: its imports and the functions it
/// exports at the top level and in exported interfaces.
pub fn describe_component(engine: &Engine, component: &Component) -> ComponentInfo {
    let ty = component.component_type();
    let mut exports = Vec::new();
    for (name, item) in ty.exports(engine) {
        match item.ty {
            ComponentItem::ComponentFunc(f) => exports.push(export(None, name, &f)),
            ComponentItem::ComponentInstance(i) => {
                for (fname, item) in i.exports(engine) {
                    if let ComponentItem::ComponentFunc(f) = item.ty {
                        let e = export(Some(name), fname, &f);
                        if !is_toolchain_export(&e) {
                            exports.push(e);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    ComponentInfo {
        imports: ty.imports(engine).map(|(n, _)| n.to_string()).collect(),
        exports,
    }
}

/// Exports a guest toolchain adds for itself rather than for the user:
/// componentize-py's `exports/init(app-name, symbols, stub-wasi)`, which it
/// calls once at build time to pre-initialize the interpreter.
fn is_toolchain_export(e: &ComponentExport) -> bool {
    e.interface.as_deref() == Some("exports")
        && e.func == "init"
        && e.params.first().is_some_and(|(n, _)| n == "app-name")
}

fn export(
    interface: Option<&str>,
    name: &str,
    f: &wasmtime::component::types::ComponentFunc,
) -> ComponentExport {
    let mut results = f.results();
    ComponentExport {
        interface: interface.map(str::to_string),
        func: name.to_string(),
        params: f
            .params()
            .map(|(n, t)| (n.to_string(), WitType::from_type(&t)))
            .collect(),
        result: results.next().map(|t| WitType::from_type(&t)),
    }
}

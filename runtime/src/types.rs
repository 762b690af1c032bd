use std::fmt;
use wasmtime::{FuncType, ValType};

/// The Wasm value types pg_wasm can pass across the call boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WasmType {
    I32,
    I64,
    F32,
    F64,
}

impl WasmType {
    fn from_val_type(t: &ValType) -> Option<Self> {
        match t {
            ValType::I32 => Some(WasmType::I32),
            ValType::I64 => Some(WasmType::I64),
            ValType::F32 => Some(WasmType::F32),
            ValType::F64 => Some(WasmType::F64),
            _ => None,
        }
    }
}

impl fmt::Display for WasmType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WasmType::I32 => "i32",
            WasmType::I64 => "i64",
            WasmType::F32 => "f32",
            WasmType::F64 => "f64",
        })
    }
}

/// A function signature made only of numeric types.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FuncSig {
    pub params: Vec<WasmType>,
    pub results: Vec<WasmType>,
}

impl FuncSig {
    /// `None` when the function uses a type pg_wasm cannot pass (v128, references).
    pub fn from_func_type(ty: &FuncType) -> Option<Self> {
        let params = ty
            .params()
            .map(|t| WasmType::from_val_type(&t))
            .collect::<Option<Vec<_>>>()?;
        let results = ty
            .results()
            .map(|t| WasmType::from_val_type(&t))
            .collect::<Option<Vec<_>>>()?;
        Some(FuncSig { params, results })
    }
}

impl fmt::Display for FuncSig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |v: &[WasmType]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(f, "({}) -> ({})", join(&self.params), join(&self.results))
    }
}

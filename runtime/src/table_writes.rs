//! Whether a module's code can change a table: what `runtime/build.rs`
//! checks of the embedded JavaScript and Python engines (it includes this
//! file), and what lets their instances keep their funcref table between
//! statements (`instance::Interpreter::keeps_tables`).

/// How many instructions of `wasm`'s code can change a table (`table.set`,
/// `table.fill`, `table.copy`, `table.init`, `table.grow`, `elem.drop`).
/// With none, only wasmtime's lazy initialization ever writes an element
/// of the module's tables, and it writes the element's initial value.
pub fn count(wasm: &[u8]) -> Result<usize, wasmparser::BinaryReaderError> {
    use wasmparser::{Operator, Parser, Payload};
    let mut n = 0;
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::CodeSectionEntry(body) = payload? {
            let mut ops = body.get_operators_reader()?;
            while !ops.eof() {
                n += usize::from(matches!(
                    ops.read()?,
                    Operator::TableSet { .. }
                        | Operator::TableFill { .. }
                        | Operator::TableCopy { .. }
                        | Operator::TableInit { .. }
                        | Operator::TableGrow { .. }
                        | Operator::ElemDrop { .. }
                ));
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn every_instruction_that_changes_a_table_is_counted() {
        let wasm = wat::parse_str(
            r#"(module
                 (table $t 2 10 funcref) (table $u 2 funcref)
                 (elem $e func $f)
                 (type $v (func))
                 (func $f
                   (table.set $t (i32.const 0) (ref.func $f))
                   (drop (table.grow $t (ref.null func) (i32.const 1)))
                   (table.fill $t (i32.const 0) (ref.null func) (i32.const 1))
                   (table.copy $t $u (i32.const 0) (i32.const 0) (i32.const 1))
                   (table.init $t $e (i32.const 0) (i32.const 0) (i32.const 1))
                   (elem.drop $e))
                 (func (call_indirect (type $v) (i32.const 0))
                   (drop (table.get $t (i32.const 0)))
                   (drop (table.size $t))))"#,
        )
        .unwrap();
        assert_eq!(count(&wasm).unwrap(), 6);
        let reads_only = wat::parse_str(
            r#"(module (table 1 funcref) (elem (i32.const 0) $f) (type $v (func))
                 (func $f (call_indirect (type $v) (i32.const 0))))"#,
        )
        .unwrap();
        assert_eq!(count(&reads_only).unwrap(), 0);
        assert!(
            count(b"\0asm\x01\0\0\0\x0a\x01").is_err(),
            "a truncated module"
        );
    }
}

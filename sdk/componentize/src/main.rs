//! `pg-wasm-componentize <core.wasm> <component.wasm>`: wraps a core module
//! that wit-bindgen built (it carries its WIT world in a `component-type`
//! custom section) into a WebAssembly component, validated, that
//! `wasm.load` accepts. The Rust counterpart of `wasm-tools component new`,
//! so guests need nothing beyond this workspace's crates.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: pg-wasm-componentize <core.wasm> <component.wasm>");
        return ExitCode::from(2);
    };
    match componentize(input, output) {
        Ok(size) => {
            println!("{output}: {size} bytes");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pg-wasm-componentize: {input}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn componentize(input: &str, output: &str) -> Result<usize, Box<dyn std::error::Error>> {
    let module = std::fs::read(input)?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)?
        .validate(true)
        .encode()?;
    std::fs::write(output, &component)?;
    Ok(component.len())
}

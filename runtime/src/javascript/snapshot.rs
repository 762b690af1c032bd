//! The engine's pre-initialized image: the module rewritten so that its
//! memory starts as it is after `pgjs_init` (QuickJS's runtime, context and
//! prelude built), the way Wizer does it. Instantiating the image costs a
//! copy-on-write mapping instead of ~1.6 M instructions of set-up.
//!
//! The rewrite copies every section as it is except the memory section
//! (its minimum becomes the memory's current size) and the data section
//! (the memory's non-zero runs). The only mutable global of a clang-built
//! reactor is the C stack pointer, which is back at its initial value once
//! the init call returns, so the globals need no change.

use crate::error::RuntimeError;
use wasmparser::{Parser, Payload};

/// Zero runs shorter than this stay inside a data segment: fewer, larger
/// segments.
const GAP: usize = 64;

fn invalid(why: impl Into<String>) -> RuntimeError {
    RuntimeError::InvalidModule(format!("the JavaScript engine: {}", why.into()))
}

fn leb_u32(mut v: u32, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn leb_i32(mut v: i32, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0);
        out.push(if done { byte } else { byte | 0x80 });
        if done {
            return;
        }
    }
}

fn section(id: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb_u32(payload.len() as u32, out);
    out.extend_from_slice(payload);
}

/// The non-zero runs of `memory` as `(offset, bytes)`.
fn runs(memory: &[u8]) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < memory.len() {
        if memory[i] == 0 {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        let mut zeros = 0;
        while i < memory.len() && zeros < GAP {
            if memory[i] == 0 {
                zeros += 1;
            } else {
                zeros = 0;
                end = i + 1;
            }
            i += 1;
        }
        out.push((start, &memory[start..end]));
    }
    out
}

/// `module` with its one memory starting as `memory` (a whole number of
/// 64 KiB pages).
pub fn rewrite(module: &[u8], memory: &[u8]) -> Result<Vec<u8>, RuntimeError> {
    let pages = u32::try_from(memory.len() / 65536).map_err(|_| invalid("memory too large"))?;
    let mut out = Vec::with_capacity(module.len() + memory.len() / 2);
    out.extend_from_slice(&module[..8]);
    let has_data = Parser::new(0)
        .parse_all(module)
        .any(|p| matches!(p, Ok(Payload::DataSection(_))));
    let mut saw_memory = false;
    let mut wrote_data = false;
    let data_section = |out: &mut Vec<u8>| {
        let segments = runs(memory);
        let mut payload = Vec::with_capacity(memory.len() / 2);
        leb_u32(segments.len() as u32, &mut payload);
        for (offset, bytes) in segments {
            payload.push(0); // active, memory 0
            payload.push(0x41); // i32.const
            leb_i32(offset as i32, &mut payload);
            payload.push(0x0b); // end
            leb_u32(bytes.len() as u32, &mut payload);
            payload.extend_from_slice(bytes);
        }
        section(11, &payload, out);
    };
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.map_err(|e| invalid(e.to_string()))?;
        let Some((id, range)) = payload.as_section() else {
            continue;
        };
        match payload {
            Payload::MemorySection(reader) => {
                let mut mems = reader.into_iter();
                let mem = mems
                    .next()
                    .ok_or_else(|| invalid("no memory"))?
                    .map_err(|e| invalid(e.to_string()))?;
                if mems.next().is_some() || mem.memory64 || mem.shared || mem.maximum.is_some() {
                    return Err(invalid("expected one 32-bit memory without a maximum"));
                }
                let mut p = vec![1, 0];
                leb_u32(pages, &mut p);
                section(5, &p, &mut out);
                saw_memory = true;
            }
            Payload::DataCountSection { .. } => {
                return Err(invalid("passive data segments are not supported"));
            }
            Payload::DataSection(_) => {
                data_section(&mut out);
                wrote_data = true;
            }
            _ => {
                section(id, &module[range], &mut out);
                // A module without data gets its segments after the code.
                if id == 10 && !has_data {
                    data_section(&mut out);
                    wrote_data = true;
                }
            }
        }
    }
    if !saw_memory {
        return Err(invalid("no memory section"));
    }
    if !wrote_data {
        return Err(invalid("no code section"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_skip_zeros_and_merge_short_gaps() {
        let mut m = vec![0u8; 1000];
        m[10] = 1;
        m[20] = 2;
        m[500] = 3;
        let r = runs(&m);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].0, 10);
        assert_eq!(r[0].1.len(), 11);
        assert_eq!(r[1], (500, &m[500..501]));
    }

    #[test]
    fn leb_round_trips() {
        for v in [0i32, 1, 63, 64, -1, -64, -65, 1 << 20, i32::MAX, i32::MIN] {
            let mut b = Vec::new();
            leb_i32(v, &mut b);
            let mut r = wasmparser::BinaryReader::new(&b, 0);
            assert_eq!(r.read_var_i32().unwrap(), v);
        }
    }
}

//! A component's stdout or stderr: a bounded buffer the embedding drains
//! after every call.
//!
//! wasmtime-wasi's `MemoryOutputPipe` cannot be emptied while the WASI
//! context (and any stream resource the guest holds) shares it, and it traps
//! the guest once full. This pipe is drained in place, so every call's
//! output is seen, and what does not fit is counted and dropped rather than
//! failing the guest: printing too much is the embedding's to report, not a
//! reason to abort the caller's statement.

use std::sync::{Arc, Mutex};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    dropped: usize,
}

/// One output stream of one instance; clones share the buffer.
#[derive(Clone)]
pub struct OutputPipe {
    capacity: usize,
    buffer: Arc<Mutex<Buffer>>,
}

impl OutputPipe {
    pub fn new(capacity: usize) -> Self {
        OutputPipe {
            capacity,
            buffer: Arc::default(),
        }
    }

    /// What was written since the last drain, and how many bytes past the
    /// capacity were dropped; empties the pipe.
    pub fn drain(&self) -> (Vec<u8>, usize) {
        let mut b = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        let dropped = std::mem::take(&mut b.dropped);
        (std::mem::take(&mut b.bytes), dropped)
    }
}

impl OutputStream for OutputPipe {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        let mut b = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        let room = self.capacity.saturating_sub(b.bytes.len());
        let keep = bytes.len().min(room);
        b.bytes.extend_from_slice(&bytes[..keep]);
        b.dropped += bytes.len() - keep;
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always writable: what does not fit is dropped in `write`.
        Ok(self.capacity.max(1))
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for OutputPipe {
    async fn ready(&mut self) {}
}

impl IsTerminal for OutputPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for OutputPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    /// Only WASI 0.3's asynchronous streams use this; pg_wasm links WASI
    /// 0.2 synchronously, so it never runs. A sink of capacity zero keeps
    /// the contract without a second buffer.
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(MemoryOutputPipe::new(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_each_call_and_counts_what_did_not_fit() {
        let pipe = OutputPipe::new(8);
        let mut stream = pipe.p2_stream();
        stream.write(bytes::Bytes::from_static(b"hello")).unwrap();
        assert_eq!(pipe.drain(), (b"hello".to_vec(), 0));
        stream
            .write(bytes::Bytes::from_static(b"0123456789"))
            .unwrap();
        assert_eq!(pipe.drain(), (b"01234567".to_vec(), 2));
        assert_eq!(pipe.drain(), (Vec::new(), 0));
    }
}

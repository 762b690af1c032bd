//! See client.rs; this crate only holds tests.

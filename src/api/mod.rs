//! The SQL-facing functions of schema `wasm` (SPEC §3). Each entry point is
//! a thin wrapper that raises the error of an `_inner` function returning
//! `Result`.

mod body;
mod cache;
mod citus;
mod components;
mod functions;
mod inspect;
mod javascript;
mod modules;
mod options;
mod record_types;
mod stats;

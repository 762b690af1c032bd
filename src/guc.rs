//! Settings (SPEC §7). Users may set the per-call limits for their session,
//! but never above the superuser-only maxima (`pg_wasm.max_*`); modules may
//! only tighten them through `wasm.configure`. The effective limit is the
//! smallest of the three (see `catalog::Settings::effective`).

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};

pub static FUEL_LIMIT: GucSetting<i32> = GucSetting::<i32>::new(1_000_000_000);
pub static MEMORY_LIMIT_MB: GucSetting<i32> = GucSetting::<i32>::new(64);
pub static MAX_MODULE_SIZE_MB: GucSetting<i32> = GucSetting::<i32>::new(32);
pub static TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(0);
pub static MAX_FUEL_LIMIT: GucSetting<i32> = GucSetting::<i32>::new(0);
pub static MAX_MEMORY_LIMIT_MB: GucSetting<i32> = GucSetting::<i32>::new(4096);
pub static MAX_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(0);
pub static MAX_MODULE_FUNCTIONS: GucSetting<i32> = GucSetting::<i32>::new(10_000);
pub static MAX_WAT_KB: GucSetting<i32> = GucSetting::<i32>::new(1024);
pub static MAX_RESULT_MB: GucSetting<i32> = GucSetting::<i32>::new(256);
pub static MAX_LOG_KB_PER_CALL: GucSetting<i32> = GucSetting::<i32>::new(64);
pub static MAX_LOG_KB_PER_STATEMENT: GucSetting<i32> = GucSetting::<i32>::new(1024);
pub static TRACK_TIME: GucSetting<bool> = GucSetting::<bool>::new(false);
pub static JAVASCRIPT_SQL: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static PYTHON_SQL: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static COMPILED_ARTIFACTS: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static FUNCTION_IMAGES: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static INSTANCE_SLOTS: GucSetting<i32> = GucSetting::<i32>::new(256);
pub static INSTANCE_KEEP_RESIDENT_KB: GucSetting<i32> = GucSetting::<i32>::new(4096);
pub static RESET_SLOTS: GucSetting<ResetSlots> =
    GucSetting::<ResetSlots>::new(ResetSlots::AfterReply);

/// `pg_wasm.reset_slots`: when a finished instance's pool slot is reset
/// (src/pg/reset.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PostgresGucEnum)]
pub enum ResetSlots {
    /// When the instance is dropped, before the statement answers.
    #[name = c"immediately"]
    Immediately,
    /// After the backend has flushed its reply to the client.
    #[name = c"after_reply"]
    AfterReply,
    /// On a helper thread of the backend.
    #[name = c"thread"]
    Thread,
}

pub fn register() {
    GucRegistry::define_int_guc(
        c"pg_wasm.instance_slots",
        c"Linear memories a backend's wasm instances may hold at once (its instance pool); 0 turns the pool off.",
        c"Each slot reserves address space, not memory. A statement holds one instance per wasm function it calls; instantiating past the pool fails with SQLSTATE 53400. Read when a backend first uses wasm.",
        &INSTANCE_SLOTS,
        0,
        100_000,
        GucContext::SuBackend,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_wasm.instance_keep_resident",
        c"Memory of each pooled instance slot kept resident after use and reset in place, in kilobytes.",
        c"Pages a guest wrote below it are restored to the module's image when its instance is dropped; pages above it are given back to the system. Read when a backend first uses wasm.",
        &INSTANCE_KEEP_RESIDENT_KB,
        0,
        1 << 20,
        GucContext::SuBackend,
        GucFlags::UNIT_KB,
    );
    GucRegistry::define_enum_guc(
        c"pg_wasm.reset_slots",
        c"When a finished wasm instance's pool slot is reset to its module's image: immediately, after_reply or on a helper thread.",
        c"The reset (a page-map scan and a copy of the pages the guest wrote) is not needed for the statement's answer. after_reply does it right after the backend has sent its reply, while the client reads it; thread on a helper thread of the backend, which lowers latency when cores are idle and costs throughput when every core is busy. A new instance first waits for any reset still to do (docs/limits.md).",
        &RESET_SLOTS,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_wasm.fuel_limit",
        c"Fuel per wasm call (about one unit per Wasm instruction); 0 means unlimited.",
        c"A call that uses more fuel fails with SQLSTATE 54000.",
        &FUEL_LIMIT,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_wasm.memory_limit_mb",
        c"Largest linear memory of one wasm instance, in megabytes.",
        c"Growing past it fails with SQLSTATE 53200.",
        &MEMORY_LIMIT_MB,
        1,
        65536,
        GucContext::Userset,
        GucFlags::UNIT_MB,
    );
    GucRegistry::define_int_guc(
        c"pg_wasm.timeout_ms",
        c"Wall-clock limit of one wasm call in milliseconds; 0 means none.",
        c"A call that runs longer fails with SQLSTATE 57014. statement_timeout applies as well.",
        &TIMEOUT_MS,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"pg_wasm.max_fuel_limit",
        c"Largest fuel per call any session or module may use; 0 means no maximum.",
        c"pg_wasm.fuel_limit above it (or 0) is lowered to it.",
        &MAX_FUEL_LIMIT,
        0,
        i32::MAX,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_wasm.max_memory_limit_mb",
        c"Largest linear memory any session or module may give an instance, in megabytes.",
        c"pg_wasm.memory_limit_mb above it is lowered to it.",
        &MAX_MEMORY_LIMIT_MB,
        1,
        65536,
        GucContext::Suset,
        GucFlags::UNIT_MB,
    );
    GucRegistry::define_int_guc(
        c"pg_wasm.max_timeout_ms",
        c"Longest wall-clock time per call any session or module may allow; 0 means no maximum.",
        c"pg_wasm.timeout_ms above it (or 0) is lowered to it.",
        &MAX_TIMEOUT_MS,
        0,
        i32::MAX,
        GucContext::Suset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"pg_wasm.max_module_size_mb",
        c"Largest module wasm.load and wasm.replace accept, in megabytes.",
        c"",
        &MAX_MODULE_SIZE_MB,
        1,
        1024,
        GucContext::Suset,
        GucFlags::UNIT_MB,
    );
    GucRegistry::define_int_guc(
        c"pg_wasm.max_module_functions",
        c"Most functions a module compiled for a non-superuser may define; 0 means no maximum.",
        c"Applies to wasm.load, wasm.replace, wasm.inspect and inline WebAssembly bodies run by roles that are not superusers: compiling costs time and memory per function.",
        &MAX_MODULE_FUNCTIONS,
        0,
        i32::MAX,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_wasm.max_wat_kb",
        c"Largest WebAssembly text pg_wasm parses (wasm.load_wat, wasm.wat_to_wasm, inline bodies), in kilobytes.",
        c"Parsing text takes about 80 times its size in memory for a moment.",
        &MAX_WAT_KB,
        1,
        i32::MAX,
        GucContext::Suset,
        GucFlags::UNIT_KB,
    );
    GucRegistry::define_int_guc(
        c"pg_wasm.max_result_mb",
        c"Most host memory converting one wasm call's result (or one row of a set) may take, in megabytes.",
        c"Estimated from the result's JSON before converting it; a larger result fails with SQLSTATE 54000.",
        &MAX_RESULT_MB,
        1,
        65536,
        GucContext::Suset,
        GucFlags::UNIT_MB,
    );
    GucRegistry::define_int_guc(
        c"pg_wasm.max_log_kb_per_call",
        c"Most a guest may write to the server log and the client in one call, in kilobytes.",
        c"Counts pg.log at every level and a component's stdout and stderr, each message plus 128 bytes for its record; the rest is dropped, with one NOTICE per statement saying how much.",
        &MAX_LOG_KB_PER_CALL,
        0,
        1 << 20,
        GucContext::Suset,
        GucFlags::UNIT_KB,
    );
    GucRegistry::define_int_guc(
        c"pg_wasm.max_log_kb_per_statement",
        c"Most all guests together may write to the server log and the client in one statement, in kilobytes.",
        c"Counted like pg_wasm.max_log_kb_per_call, over every wasm call of the statement.",
        &MAX_LOG_KB_PER_STATEMENT,
        0,
        1 << 22,
        GucContext::Suset,
        GucFlags::UNIT_KB,
    );
    GucRegistry::define_bool_guc(
        c"pg_wasm.track_time",
        c"Measure the wall-clock time of each wasm call for wasm.stats.",
        c"Costs two clock reads per call, so it is off by default.",
        &TRACK_TIME,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pg_wasm.compiled_artifacts",
        c"Map modules from the cluster's stored compiled artifacts, and store what this backend compiles.",
        c"Off: this backend compiles every module it uses itself (for diagnosis and benchmarks).",
        &COMPILED_ARTIFACTS,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pg_wasm.function_images",
        c"Start JavaScript and Python functions from an image with the function already loaded.",
        c"Off: every statement loads the function into an instance of the engine's image (for diagnosis and benchmarks).",
        &FUNCTION_IMAGES,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pg_wasm.javascript_sql",
        c"Let JavaScript functions run SQL (plv8.execute, plv8.find_function).",
        c"Off: plv8.execute fails with a permission error; other JavaScript still runs.",
        &JAVASCRIPT_SQL,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pg_wasm.python_sql",
        c"Let Python functions run SQL (plpy.execute, plpy.prepare, plpy.cursor).",
        c"Off: plpy.execute fails with a permission error; other Python still runs.",
        &PYTHON_SQL,
        GucContext::Suset,
        GucFlags::default(),
    );
}

pub fn max_module_size() -> usize {
    (MAX_MODULE_SIZE_MB.get().max(1) as usize) << 20
}

/// The function limit for a compile requested by the current role: none
/// for superusers (they may load anything), the maximum otherwise.
pub fn max_module_functions() -> usize {
    // SAFETY: reads the current role's superuser flag from the syscache.
    if unsafe { pgrx::pg_sys::superuser() } {
        0
    } else {
        MAX_MODULE_FUNCTIONS.get().max(0) as usize
    }
}

pub fn max_wat_bytes() -> usize {
    (MAX_WAT_KB.get().max(1) as usize) << 10
}

/// The log budgets in force (superuser settings: a tenant cannot raise them).
pub fn log_limits() -> pg_wasm_runtime::output::LogLimits {
    pg_wasm_runtime::output::LogLimits {
        per_call: (MAX_LOG_KB_PER_CALL.get().max(0) as usize) << 10,
        per_statement: (MAX_LOG_KB_PER_STATEMENT.get().max(0) as usize) << 10,
    }
}

/// The instance pool a new engine gets (`pg_wasm.instance_slots`,
/// `pg_wasm.instance_keep_resident`).
pub fn pool_settings() -> pg_wasm_runtime::PoolSettings {
    pg_wasm_runtime::PoolSettings {
        slots: INSTANCE_SLOTS.get().max(0) as u32,
        keep_resident: (INSTANCE_KEEP_RESIDENT_KB.get().max(0) as usize) << 10,
    }
}

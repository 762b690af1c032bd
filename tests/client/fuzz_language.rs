//! The fuzzing harness LANGUAGE javascript's and python's client tests
//! share: random bodies, signatures and arguments created and called by a
//! role with no privilege beyond CREATE on a schema; every call must end in
//! a result or an error with an expected SQLSTATE, and the connection must
//! be fine afterwards.

use super::support::*;

/// A fixed pseudo-random stream, so a failing seed reproduces.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// What one language's fuzzing needs.
pub struct Fuzz {
    /// Its SQL name (`LANGUAGE ...`), also the role's and database's tag.
    pub language: &'static str,
    /// Limits set for the fuzzing session.
    pub settings: &'static str,
    pub random_body: fn(&mut Rng) -> String,
    /// Parameter lists and result types, and arguments that fit each.
    pub signatures: &'static [(&'static str, &'static str)],
    pub args: &'static [&'static str],
    /// The SQLSTATEs a call or a CREATE may end in (XX000 never counts).
    pub states: &'static [&'static str],
}

/// Runs `PG_WASM_FUZZ_CASES` (default 300) cases from `PG_WASM_FUZZ_SEED`
/// (default 1) and checks every one.
pub fn run(f: &Fuzz) {
    let db = format!("pg_wasm_client_{}_fuzz", f.language);
    let role = format!("client_{}_fuzzer", f.language);
    let mut admin = fresh_db(&db);
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN;
             CREATE SCHEMA fuzz AUTHORIZATION {role};"
        ))
        .unwrap();
    let mut c = Client::connect(&format!("{} user={role}", dsn(&db)), NoTls).unwrap();
    c.batch_execute(&format!("SET search_path = fuzz; {}", f.settings))
        .unwrap();
    let cases: u64 = std::env::var("PG_WASM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let first: u64 = std::env::var("PG_WASM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let (mut created, mut returned, mut failed) = (0, 0, 0);
    let mut unexpected = Vec::new();
    for seed in first..first + cases {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let body = (f.random_body)(&mut rng);
        let k = rng.below(f.signatures.len());
        let (params, ret) = f.signatures[k];
        let volatility = ["VOLATILE", "STABLE"][rng.below(2)];
        let create = format!(
            "CREATE OR REPLACE FUNCTION f{seed}({params}) RETURNS {ret} LANGUAGE {} {volatility} AS $fuzz${body}$fuzz$",
            f.language
        );
        let check = |e: &postgres::Error, what: &str, unexpected: &mut Vec<String>| {
            let code = e.code().map(|c| c.code().to_string());
            match code {
                Some(code) if f.states.contains(&code.as_str()) && code != "XX000" => {}
                _ => unexpected.push(format!("seed {seed} {what}: {e:?}\nbody: {body}")),
            }
        };
        match c.batch_execute(&create) {
            Err(e) => {
                check(&e, "create", &mut unexpected);
                continue;
            }
            Ok(()) => created += 1,
        }
        let call = if ret.starts_with("SETOF") || ret.starts_with("TABLE") {
            format!("SELECT count(*) FROM f{seed}({})", f.args[k])
        } else {
            format!("SELECT f{seed}({})::text", f.args[k])
        };
        match c.batch_execute(&call) {
            Ok(()) => returned += 1,
            Err(e) => {
                failed += 1;
                check(&e, "call", &mut unexpected);
            }
        }
        // The connection is fine after anything.
        assert_eq!(call_i32(&mut c, "SELECT 1"), 1, "seed {seed}");
    }
    eprintln!(
        "{cases} random {} functions: {created} created, {returned} calls returned, {failed} failed with an expected SQLSTATE",
        f.language
    );
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n\n"));
    assert!(created > cases / 4 && returned > 0 && failed > 0);
}

//! Numeric functions a PostgreSQL user might want next to their data,
//! written in plain no_std Rust. Every `extern "C"` function becomes a Wasm
//! export, and `wasm.load(..., functions: "auto")` turns each one into a SQL
//! function: i32 → integer, i64 → bigint, f64 → double precision.
#![no_std]

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

const EARTH_RADIUS_M: f64 = 6_371_008.8;

fn sin(x: f64) -> f64 {
    // Range-reduced Taylor series: no libm in a freestanding guest.
    let tau = 2.0 * core::f64::consts::PI;
    let mut x = x % tau;
    if x > core::f64::consts::PI {
        x -= tau
    } else if x < -core::f64::consts::PI {
        x += tau
    }
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    let mut n = 1.0;
    while n < 23.0 {
        term *= -x2 / ((n + 1.0) * (n + 2.0));
        sum += term;
        n += 2.0;
    }
    sum
}

fn cos(x: f64) -> f64 {
    sin(x + core::f64::consts::FRAC_PI_2)
}

fn atan(x: f64) -> f64 {
    // atan via argument halving and a short series.
    if x < 0.0 {
        return -atan(-x);
    }
    if x > 1.0 {
        return core::f64::consts::FRAC_PI_2 - atan(1.0 / x);
    }
    let y = x / (1.0 + sqrt(1.0 + x * x));
    let y = y / (1.0 + sqrt(1.0 + y * y));
    let y2 = y * y;
    let mut term = y;
    let mut sum = y;
    let mut n = 1.0;
    while n < 25.0 {
        term *= -y2;
        sum += term / (n + 2.0);
        n += 2.0;
    }
    4.0 * sum
}

fn sqrt(x: f64) -> f64 {
    // Newton's method; core has no stable sqrt without std.
    if x <= 0.0 {
        return 0.0;
    }
    let mut r = if x > 1.0 { x / 2.0 } else { 1.0 };
    for _ in 0..64 {
        let next = 0.5 * (r + x / r);
        if next == r {
            break;
        }
        r = next;
    }
    r
}

/// Great-circle distance in metres between two (lat, lon) points in degrees.
#[no_mangle]
pub extern "C" fn haversine(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let rad = core::f64::consts::PI / 180.0;
    let dlat = (lat2 - lat1) * rad;
    let dlon = (lon2 - lon1) * rad;
    let a = sin(dlat / 2.0) * sin(dlat / 2.0)
        + cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2.0) * sin(dlon / 2.0);
    let c = 2.0 * atan(sqrt(a) / sqrt(1.0 - a));
    EARTH_RADIUS_M * c
}

/// Clamp a score into [lo, hi].
#[no_mangle]
pub extern "C" fn clamp(x: f64, lo: f64, hi: f64) -> f64 {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

/// n-th Fibonacci number (wrapping on overflow), iteratively.
#[no_mangle]
pub extern "C" fn fib(n: i32) -> i64 {
    let (mut a, mut b) = (0i64, 1i64);
    for _ in 0..n {
        let t = a.wrapping_add(b);
        a = b;
        b = t;
    }
    a
}

/// Greatest common divisor.
#[no_mangle]
pub extern "C" fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a as i64
}

/// Integer square root; traps (unreachable) for negative input, to show how
/// a guest failure reaches SQL.
#[no_mangle]
pub extern "C" fn isqrt(n: i64) -> i64 {
    if n < 0 {
        panic!("negative")
    }
    let mut x = sqrt(n as f64) as i64;
    while x * x > n {
        x -= 1
    }
    while (x + 1) * (x + 1) <= n {
        x += 1
    }
    x
}

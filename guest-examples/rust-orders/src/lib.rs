//! A Rust component for pg_wasm: wit-bindgen generates the bindings of
//! wit/orders.wit (which imports pg_wasm's host API, sdk/wit/host.wit);
//! scripts/build-guests.sh builds the core module and sdk/componentize
//! turns it into a component. no_std: a small allocator and a panic
//! handler are all the runtime it needs.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pg::wasm::host::{self, Level};

// generate_all: the host interface comes from another package (pg:wasm).
wit_bindgen::generate!({ path: "wit", world: "orders", generate_all });

struct Orders;

impl Guest for Orders {
    fn order_total(order_id: i32) -> Result<f64, String> {
        let rows = host::query(
            "SELECT count(*) AS n, coalesce(sum(qty * price), 0)::float8 AS total \
               FROM order_lines WHERE order_id = $1",
            &format!("[{order_id}]"),
        );
        // [{"n":2,"total":31.5}]
        if number(&rows, "n") == Some(0.0) {
            return Err(format!("order {order_id} has no lines"));
        }
        let total = number(&rows, "total").ok_or_else(|| format!("unexpected rows {rows}"))?;
        host::log(Level::Debug, &format!("order {order_id}: {total}"));
        Ok(total)
    }

    fn slugify(text: String) -> String {
        let mut out = String::with_capacity(text.len());
        for c in text.chars().flat_map(char::to_lowercase).map(fold) {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        while out.ends_with('-') {
            out.pop();
        }
        out
    }

    fn check_line(event: String) -> String {
        // {"event": "INSERT", ..., "new": {"order_id": 1, "qty": 0, ...}}
        let new = event.find("\"new\":").map_or("", |at| &event[at..]);
        match number(new, "qty") {
            Some(qty) if qty < 1.0 => {
                format!("{{\"error\": \"an order line needs a quantity of at least 1, not {qty}\"}}")
            }
            _ => String::from("{}"),
        }
    }

    fn split_sku(sku: String) -> Option<(String, i32)> {
        let (family, number) = sku.split_once('-')?;
        let ok = family.len() == 3 && family.bytes().all(|b| b.is_ascii_uppercase());
        let number = number.parse().ok().filter(|_| ok)?;
        Some((String::from(family), number))
    }

    fn join_sku((family, number): (String, i32)) -> String {
        format!("{family}-{number:04}")
    }

    fn numbered_lines(text: String) -> Vec<(u32, String)> {
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| (i as u32 + 1, String::from(line)))
            .collect()
    }

    fn parse_line(text: String) -> Option<OrderLine> {
        let (qty, rest) = text.split_once(" x ")?;
        let (sku, price) = rest.split_once(" @ ")?;
        Some(OrderLine {
            sku: String::from(sku.trim()),
            qty: qty.trim().parse().ok()?,
            price: price.trim().parse().ok()?,
        })
    }

    fn line_total(line: OrderLine) -> f64 {
        f64::from(line.qty) * line.price
    }

    fn parse_lines(text: String) -> Vec<OrderLine> {
        text.lines().filter_map(|l| Self::parse_line(String::from(l))).collect()
    }

    fn try_lines(text: String) -> Vec<Option<OrderLine>> {
        text.lines().map(|l| Self::parse_line(String::from(l))).collect()
    }

    fn line_discount(line: OrderLine) -> Discount {
        match line.qty {
            q if q >= 100 => Discount::Fixed(5.0),
            q if q >= 10 => Discount::Percent(10.0),
            _ => Discount::NoDiscount,
        }
    }

    fn discounted(line: OrderLine, d: Discount) -> f64 {
        let total = Self::line_total(line);
        match d {
            Discount::NoDiscount => total,
            Discount::Percent(p) => total * (1.0 - p / 100.0),
            Discount::Fixed(off) => (total - off).max(0.0),
        }
    }

    fn make_order(id: i32, text: String) -> Order {
        let lines = Self::parse_lines(text);
        let tags = lines.iter().map(|l| l.sku.clone()).collect();
        Order { id, lines, tags }
    }

    fn order_sum(o: Order) -> f64 {
        // + 0.0: an empty sum is -0.0
        o.lines.into_iter().map(Self::line_total).sum::<f64>() + 0.0
    }

    fn spin(n: i32) -> i32 {
        let mut i = n;
        loop {
            i = core::hint::black_box(i.wrapping_add(1));
        }
    }
}

/// Latin letters with diacritics and their plain letters (the same table
/// as the JavaScript and Python guests and benches/components.sh).
const FROM: &str = "àáâãäåāçćčèéêëēėìíîïīñńòóôõöøōśšùúûüūýÿźżž";
const TO: &[u8] = b"aaaaaaaccceeeeeeiiiiinnooooooossuuuuuyyzzz";

fn fold(c: char) -> char {
    FROM.chars().position(|f| f == c).map_or(c, |i| TO[i] as char)
}

/// The number after the first `"key":` in `rows` (a row as JSON).
fn number(rows: &str, key: &str) -> Option<f64> {
    let at = rows.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &rows[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

export!(Orders);

/// A bump allocator over the instance's linear memory: an instance lives
/// one statement (SPEC §7), and memory_mb bounds what it may take.
mod alloc_impl {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;

    struct Bump(UnsafeCell<usize>);

    // SAFETY: a Wasm instance here has one thread.
    unsafe impl Sync for Bump {}

    #[global_allocator]
    static ALLOC: Bump = Bump(UnsafeCell::new(0));

    unsafe impl GlobalAlloc for Bump {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            const PAGE: usize = 65536;
            // SAFETY: single-threaded; see above.
            let next = unsafe { &mut *self.0.get() };
            if *next == 0 {
                *next = core::arch::wasm32::memory_size(0) * PAGE;
            }
            let start = (*next + layout.align() - 1) & !(layout.align() - 1);
            let end = start + layout.size();
            let have = core::arch::wasm32::memory_size(0) * PAGE;
            if end > have {
                let pages = (end - have).div_ceil(PAGE);
                if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                    return core::ptr::null_mut();
                }
            }
            *next = end;
            start as *mut u8
        }

        unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

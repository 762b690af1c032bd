//! The guest's global allocator (feature `allocator`): dlmalloc whose first
//! region is an arena in the module's zero-initialized data instead of
//! memory grown at run time.
//!
//! Why: pg_wasm gives every statement a fresh instance (its pooled slot
//! reset to the module's image). dlmalloc's stock wasm back end grows
//! memory for its first allocation, so every statement grew memory once,
//! and the slot's reset shrank it back: two `mprotect` calls a statement
//! (with a TLB shoot-down each), about a quarter of a one-call statement's
//! cost for a Rust guest. An arena inside the initial memory is part of
//! the image (as zero pages, not stored in the module: `.bss`): a statement
//! that allocates less than [`ARENA`] never grows memory. Past it, memory
//! grows as before. Untouched arena pages cost nothing (copy-on-write).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// Bytes of heap inside the initial memory.
pub const ARENA: usize = 1 << 20;
const PAGE: usize = 64 * 1024;

#[repr(C, align(16))]
struct Arena(UnsafeCell<[u8; ARENA]>);

// SAFETY: guests are single-threaded; the arena is only handed to dlmalloc
// once (`ArenaFirst::given`) and then touched by it alone.
unsafe impl Sync for Arena {}

static ARENA_MEMORY: Arena = Arena(UnsafeCell::new([0; ARENA]));

/// dlmalloc's system allocator: the arena once, then `memory.grow`.
pub struct ArenaFirst {
    given: AtomicBool,
}

// SAFETY: regions handed out are the arena (once) or fresh pages from
// memory.grow, never reused or freed (free/free_part refuse), zeroed as
// `allocates_zeros` says (a fresh instance's .bss and grown pages are 0).
unsafe impl dlmalloc::Allocator for ArenaFirst {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        if size <= ARENA && !self.given.swap(true, Relaxed) {
            return (ARENA_MEMORY.0.get().cast(), ARENA, 0);
        }
        let pages = size.div_ceil(PAGE);
        let previous = core::arch::wasm32::memory_grow(0, pages);
        if previous == usize::MAX {
            return (ptr::null_mut(), 0, 0);
        }
        ((previous * PAGE) as *mut u8, pages * PAGE, 0)
    }

    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        true
    }

    fn page_size(&self) -> usize {
        PAGE
    }
}

struct Dlmalloc(UnsafeCell<dlmalloc::Dlmalloc<ArenaFirst>>);

// SAFETY: guests are single-threaded (no wasm threads in pg_wasm).
unsafe impl Sync for Dlmalloc {}

static DLMALLOC: Dlmalloc = Dlmalloc(UnsafeCell::new(dlmalloc::Dlmalloc::new_with_allocator(
    ArenaFirst {
        given: AtomicBool::new(false),
    },
)));

/// The global allocator the SDK installs.
pub struct Heap;

// SAFETY: forwards to dlmalloc, which upholds GlobalAlloc's contract; one
// thread, and no allocation re-enters the allocator, so the &mut is unique.
unsafe impl GlobalAlloc for Heap {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { (*DLMALLOC.0.get()).malloc(layout.size(), layout.align()) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { (*DLMALLOC.0.get()).free(ptr, layout.size(), layout.align()) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { (*DLMALLOC.0.get()).calloc(layout.size(), layout.align()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { (*DLMALLOC.0.get()).realloc(ptr, layout.size(), layout.align(), new_size) }
    }
}

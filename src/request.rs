//! The request header that callers embed in their own request structs.

use std::os::raw::c_uint;

/// The seed's `QSLIST_ENTRY(ThreadRequest)`: one next pointer.
#[repr(C)]
#[derive(Debug)]
pub struct ThreadRequestEntry {
    /// Owned by the pool.
    pub sqe_next: *mut ThreadRequest,
}

/// The part of a request that belongs to the pool.
///
/// Embed it anywhere in your own request struct and get back to the struct
/// with `container_of()`. The layout is the 2018 series' (a `QSLIST_ENTRY`
/// then an `unsigned int`), so code written against that series compiles
/// unchanged. Both fields belong to the pool while the request is in it:
/// do not write them.
#[repr(C)]
#[derive(Debug)]
pub struct ThreadRequest {
    /// Marks the request as handed out by `threads_submit_request_prepare`
    /// and not yet committed.
    pub node: ThreadRequestEntry,
    /// The worker the request was assigned to by
    /// `threads_submit_request_prepare`.
    pub thread_index: c_uint,
}

impl ThreadRequest {
    /// A header as `thread_request_init` should leave it (zeroed memory is
    /// the same thing).
    pub const fn new() -> Self {
        ThreadRequest {
            node: ThreadRequestEntry {
                sqe_next: std::ptr::null_mut(),
            },
            thread_index: 0,
        }
    }
}

impl Default for ThreadRequest {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: a ThreadRequest is plain data; its pointer field is only a tag
// compared by the pool, never dereferenced. Moving a request between the
// submitter and a worker is what the pool does by design.
unsafe impl Send for ThreadRequest {}

// The seed's layout, which C code compiled against the 2018 header expects:
// `node` at offset 0 and `thread_index` right after it, at the size of a
// pointer. With `repr(C)` the fields come in declaration order, the first
// at offset 0, so the sizes and alignments below fix both offsets; a const
// check of the offsets themselves would need `offset_of!` (Rust 1.77),
// newer than the Rust the library builds with (Cargo.toml, rust-version).
// The test below and c-tests/test-layout.c measure the offsets.
const _: () = {
    assert!(std::mem::size_of::<ThreadRequestEntry>() == std::mem::size_of::<usize>());
    assert!(std::mem::align_of::<c_uint>() <= std::mem::align_of::<usize>());
    assert!(std::mem::size_of::<ThreadRequest>() == 2 * std::mem::size_of::<usize>());
    assert!(std::mem::align_of::<ThreadRequest>() == std::mem::align_of::<usize>());
};

#[cfg(test)]
mod tests {
    use super::ThreadRequest;
    use std::mem::MaybeUninit;
    use std::ptr::addr_of;

    #[test]
    fn fields_are_where_the_seed_has_them() {
        let r = MaybeUninit::<ThreadRequest>::uninit();
        let base = r.as_ptr();
        // SAFETY: addr_of! makes field pointers inside `r` without reading
        // the uninitialised memory.
        let (node, index) = unsafe { (addr_of!((*base).node), addr_of!((*base).thread_index)) };
        assert_eq!(node as usize - base as usize, 0);
        assert_eq!(index as usize - base as usize, std::mem::size_of::<usize>());
    }
}

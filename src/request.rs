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

// The seed's layout, which C code compiled against the 2018 header expects.
// c-tests/test-layout.c asserts the same from the C side.
const _: () = {
    assert!(std::mem::size_of::<ThreadRequest>() == 2 * std::mem::size_of::<usize>());
    assert!(std::mem::align_of::<ThreadRequest>() == std::mem::align_of::<usize>());
    assert!(std::mem::offset_of!(ThreadRequest, node) == 0);
    assert!(std::mem::offset_of!(ThreadRequest, thread_index) == std::mem::size_of::<usize>());
};

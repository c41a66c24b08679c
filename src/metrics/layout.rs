//! The fixed layout of the metrics shared memory: one header, then one slot
//! per child (ServerLimit of them). Everything is an atomic on a
//! `#[repr(C)]` struct, so a zero-filled mapping is a valid empty state, the
//! parent and every child agree on offsets, and writers never lock.
use std::sync::atomic::{AtomicU32, AtomicU64};

/// Upper bounds (microseconds) of the service-time histogram buckets: a
/// 1-1.5-2-3-5-7 series from 10 us to 70 s; one more bucket holds the rest.
pub const BOUNDS_US: [u64; 42] = {
    let steps = [10, 15, 20, 30, 50, 70];
    let mut out = [0u64; 42];
    let mut decade = 1u64;
    let mut i = 0;
    while i < 42 {
        out[i] = steps[i % 6] * decade;
        if i % 6 == 5 {
            decade *= 10;
        }
        i += 1;
    }
    out
};
/// Histogram buckets: one per bound plus +Inf.
pub const BUCKETS: usize = BOUNDS_US.len() + 1;
/// Status classes counted: 1xx..5xx, then anything else.
pub const CLASSES: usize = 6;

/// Seconds per step of the fine ring, and how many steps it keeps (one hour).
pub const FINE_STEP_S: u64 = 10;
pub const FINE_STEPS: usize = 360;
/// Seconds per step of the coarse ring (30 fine steps), and how many it keeps (one day).
pub const COARSE_STEP_S: u64 = 300;
pub const COARSE_STEPS: usize = 288;

/// Requests in progress a child can show at once (threads beyond are counted, not shown).
pub const ACTIVE_PER_CHILD: usize = 64;
/// Bytes of "METHOD uri" kept per request in progress.
pub const ACTIVE_TEXT: usize = 120;

/// Interpreters a child can show (the main one first, then its sub-interpreters).
pub const INTERPS_PER_CHILD: usize = 16;
/// Bytes of an interpreter's name kept.
pub const INTERP_NAME: usize = 64;

/// Marks the header of a mapping laid out by this version.
pub const MAGIC: u64 = 0x7079_7269_7465_6d32; // "pyritem2"

/// Counters that only grow while a child owns its slot.
#[repr(C)]
pub struct Totals {
    pub statuses: [AtomicU64; CLASSES],
    /// Requests per service-time bucket; their sum is the request count.
    pub hist: [AtomicU64; BUCKETS],
    pub sum_us: AtomicU64,
    /// Time spent queued at the gate (PyriteMaxPythonThreads).
    pub gate_wait_ns: AtomicU64,
    /// Time from asking for Python to holding the GIL (the gate included).
    pub python_wait_ns: AtomicU64,
    /// Time request threads held the GIL.
    pub gil_ns: AtomicU64,
}

/// One step of a rate ring. `tag` is the step index + 1 (0: never used,
/// RESETTING: being cleared for a new step), so a stale bucket is never read
/// as the current one.
#[repr(C)]
pub struct RingBucket {
    pub tag: AtomicU64,
    pub sum_us: AtomicU64,
    pub hist: [AtomicU32; BUCKETS],
}

pub const RESETTING: u64 = u64::MAX;

/// A request in progress: `start_us` (wall clock, 0 when idle) and its text.
/// The text is written without a lock; a reader may see it torn.
#[repr(C)]
pub struct ActiveEntry {
    pub start_us: AtomicU64,
    pub len: AtomicU32,
    pub _pad: u32,
    pub text: [AtomicU64; ACTIVE_TEXT / 8],
}

/// One interpreter of a child: its name (set once, when made) and the
/// requests it served; `len` 0 when unused.
#[repr(C)]
pub struct InterpEntry {
    pub requests: AtomicU64,
    pub len: AtomicU32,
    pub _pad: u32,
    pub name: [AtomicU64; INTERP_NAME / 8],
}

/// One child's part of the mapping.
#[repr(C, align(64))]
pub struct ChildSlot {
    /// The owning child's pid; 0 when free.
    pub pid: AtomicU32,
    /// Active entries handed to this child's threads so far.
    pub threads: AtomicU32,
    /// When the child claimed the slot (wall clock, us).
    pub claimed_us: AtomicU64,
    /// Python start (interpreter and the mod_python package), us.
    pub interp_us: AtomicU64,
    /// PythonImports, handler modules and WSGI scripts loaded at start, us.
    pub preload_us: AtomicU64,
    pub totals: Totals,
    pub active: [ActiveEntry; ACTIVE_PER_CHILD],
    /// Requests per interpreter, when the child runs more than one.
    pub interps: [InterpEntry; INTERPS_PER_CHILD],
    /// Rings outlive the child that filled them: a child taking over the slot adds to them.
    pub fine: [RingBucket; FINE_STEPS],
    pub coarse: [RingBucket; COARSE_STEPS],
}

/// The mapping's first bytes.
#[repr(C, align(64))]
pub struct Header {
    pub magic: AtomicU64,
    pub slots: AtomicU32,
    pub _pad: u32,
    /// When the parent made this mapping (one per configuration generation), us.
    pub generation_us: AtomicU64,
    /// Totals of children whose slot was taken over by a later child.
    pub retired: Totals,
}

/// Bytes a mapping for `slots` children needs.
pub const fn size_for(slots: usize) -> usize {
    std::mem::size_of::<Header>() + slots * std::mem::size_of::<ChildSlot>()
}

/// The histogram bucket a service time falls in.
#[inline]
pub fn bucket_of(us: u64) -> usize {
    BOUNDS_US.partition_point(|&b| b < us)
}

/// The status class index: 0 for 1xx .. 4 for 5xx, 5 for anything else.
#[inline]
pub fn class_of(status: i32) -> usize {
    match status {
        100..=599 => (status / 100 - 1) as usize,
        _ => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_increasing_and_buckets_include_their_bound() {
        assert_eq!(BOUNDS_US[0], 10);
        assert_eq!(BOUNDS_US[6], 100);
        assert_eq!(BOUNDS_US[41], 70_000_000);
        assert!(BOUNDS_US.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(10), 0, "le=10us holds 10us");
        assert_eq!(bucket_of(11), 1);
        assert_eq!(bucket_of(70_000_000), 41);
        assert_eq!(bucket_of(70_000_001), BUCKETS - 1);
    }

    #[test]
    fn classes() {
        assert_eq!(class_of(200), 1);
        assert_eq!(class_of(404), 3);
        assert_eq!(class_of(599), 4);
        assert_eq!(class_of(100), 0);
        assert_eq!(class_of(0), 5);
        assert_eq!(class_of(-1), 5);
    }

    #[test]
    fn slot_size_is_fixed_and_aligned() {
        assert_eq!(std::mem::size_of::<ChildSlot>() % 64, 0);
        assert_eq!(std::mem::size_of::<Header>() % 64, 0);
        // Small enough that ServerLimit 256 (prefork) stays in tens of MB of address space.
        assert!(
            std::mem::size_of::<ChildSlot>() < 192 * 1024,
            "{}",
            std::mem::size_of::<ChildSlot>()
        );
    }
}

// Each layout type is zero-valid (a zeroed mapping is its empty state):
// checked field by field.
crate::ffi::shm::zero_valid!(Totals {
    statuses,
    hist,
    sum_us,
    gate_wait_ns,
    python_wait_ns,
    gil_ns
});
crate::ffi::shm::zero_valid!(RingBucket { tag, sum_us, hist });
crate::ffi::shm::zero_valid!(ActiveEntry { start_us, len, _pad, text });
crate::ffi::shm::zero_valid!(InterpEntry { requests, len, _pad, name });
crate::ffi::shm::zero_valid!(ChildSlot {
    pid,
    threads,
    claimed_us,
    interp_us,
    preload_us,
    totals,
    active,
    interps,
    fine,
    coarse
});
crate::ffi::shm::zero_valid!(Header {
    magic,
    slots,
    _pad,
    generation_us,
    retired
});

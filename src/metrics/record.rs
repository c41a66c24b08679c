//! Recording, on the request path: a few relaxed atomic adds per request into
//! this child's slot, two clock reads, no allocation, no lock.
use super::layout::{
    bucket_of, class_of, ActiveEntry, ChildSlot, RingBucket, ACTIVE_PER_CHILD, ACTIVE_TEXT, COARSE_STEP_S, FINE_STEP_S, RESETTING,
};
use super::shm::{self, mono_ns, wall_us};
use crate::ffi::request::Request;
use std::cell::Cell;
use std::sync::atomic::Ordering::*;

thread_local! {
    /// This thread's active entry in its child's slot (u32::MAX: none yet, u32::MAX-1: none left).
    static ENTRY: Cell<u32> = const { Cell::new(u32::MAX) };
    /// Time this thread spent with the GIL released inside `interp::blocking`, ns.
    static PAUSED_NS: Cell<u64> = const { Cell::new(0) };
}

/// A request being measured: when it started and the entry that shows it.
pub struct Timing {
    start_us: u64,
    entry: Option<&'static ActiveEntry>,
}

fn entry_for_thread(slot: &'static ChildSlot) -> Option<&'static ActiveEntry> {
    let mut i = ENTRY.with(|e| e.get());
    if i == u32::MAX {
        let n = slot.threads.fetch_add(1, Relaxed);
        i = if (n as usize) < ACTIVE_PER_CHILD { n } else { u32::MAX - 1 };
        ENTRY.with(|e| e.set(i));
    }
    slot.active.get(i as usize)
}

/// Starts measuring a request that Python will serve: it shows among the
/// active requests until `end`. Its start is httpd's request_time (when the
/// request line was read), so the service time includes what httpd did first.
#[inline]
pub fn begin(r: &Request) -> Timing {
    let start_us = r.request_time().max(0) as u64;
    let Some(slot) = shm::own() else {
        return Timing { start_us, entry: None };
    };
    let entry = entry_for_thread(slot).filter(|e| e.start_us.load(Relaxed) == 0);
    if let Some(e) = entry {
        write_text(e, r.method().unwrap_or(b"-"), r.unparsed_uri().unwrap_or(b""));
        e.start_us.store(start_us.max(1), Release);
    }
    Timing { start_us, entry }
}

/// "METHOD uri", truncated, into the entry's words.
/// Copies slices and stores only the words the text reaches (readers take
/// `len` bytes): this runs for every request.
fn write_text(e: &ActiveEntry, method: &[u8], uri: &[u8]) {
    let mut buf = [0u8; ACTIVE_TEXT];
    let mut n = 0;
    for part in [method, b" ", uri] {
        let k = part.len().min(ACTIVE_TEXT - n);
        buf[n..n + k].copy_from_slice(&part[..k]);
        n += k;
    }
    for (w, chunk) in e.text.iter().zip(buf[..n.div_ceil(8) * 8].chunks_exact(8)) {
        w.store(u64::from_ne_bytes(chunk.try_into().unwrap()), Relaxed);
    }
    e.len.store(n as u32, Relaxed);
}

impl Drop for Timing {
    /// A request cut short by a panic must not stay "in progress" forever.
    fn drop(&mut self) {
        if let Some(e) = self.entry.take() {
            e.start_us.store(0, Release);
        }
    }
}

/// Ends a request with the status the client gets.
#[inline]
pub fn end(mut t: Timing, status: i32) {
    if let Some(e) = t.entry.take() {
        e.start_us.store(0, Release);
    }
    let Some(slot) = shm::own() else { return };
    let now = wall_us();
    finished(slot, now, now.saturating_sub(t.start_us), status);
}

/// Counts a request that took `us` and ended at `now_us` with `status`.
#[inline]
fn finished(slot: &ChildSlot, now_us: u64, us: u64, status: i32) {
    let b = bucket_of(us);
    let totals = &slot.totals;
    totals.hist[b].fetch_add(1, Relaxed);
    totals.sum_us.fetch_add(us, Relaxed);
    totals.statuses[class_of(status)].fetch_add(1, Relaxed);
    let secs = now_us / 1_000_000;
    ring_add(&slot.fine, secs / FINE_STEP_S, b, us);
    ring_add(&slot.coarse, secs / COARSE_STEP_S, b, us);
}

/// Adds one request to the ring bucket of `step`, clearing the bucket first
/// when it still holds an older step. One thread clears (it swaps the tag to
/// RESETTING); the others wait the few stores that takes, so no request is
/// lost or counted in the wrong step.
pub fn ring_add(ring: &[RingBucket], step: u64, b: usize, us: u64) {
    let cell = &ring[(step % ring.len() as u64) as usize];
    let tag = step + 1;
    let mut spins = 0u32;
    loop {
        let cur = cell.tag.load(Acquire);
        if cur == tag {
            break;
        }
        if cur == RESETTING {
            spins += 1;
            if spins > 10_000 {
                return; // the clearing thread is gone: lose this one sample, never hang
            }
            if spins.is_multiple_of(64) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
            continue;
        }
        if cur > tag {
            return; // this thread slept through a whole ring: its step is gone
        }
        if cell.tag.compare_exchange(cur, RESETTING, Acquire, Relaxed).is_ok() {
            cell.sum_us.store(0, Relaxed);
            for h in &cell.hist {
                h.store(0, Relaxed);
            }
            cell.tag.store(tag, Release);
            break;
        }
    }
    cell.hist[b].fetch_add(1, Relaxed);
    cell.sum_us.fetch_add(us, Relaxed);
}

/// Notes time queued at the gate.
#[inline]
pub fn gate_waited(ns: u64) {
    if let Some(slot) = shm::own() {
        slot.totals.gate_wait_ns.fetch_add(ns, Relaxed);
    }
}

/// Marks entering Python; returns the clock reading `python_left` needs.
#[inline]
pub fn python_asked() -> u64 {
    mono_ns()
}

/// The GIL is held now: notes the wait since `asked`; returns the hold's start.
#[inline]
pub fn python_entered(asked: u64) -> u64 {
    let now = mono_ns();
    if let Some(slot) = shm::own() {
        slot.totals.python_wait_ns.fetch_add(now.saturating_sub(asked), Relaxed);
    }
    PAUSED_NS.with(|p| p.set(0));
    now
}

/// Leaving Python: the hold since `entered`, less the time spent in `blocking` calls.
#[inline]
pub fn python_left(entered: u64) {
    let held = mono_ns().saturating_sub(entered);
    let paused = PAUSED_NS.with(|p| p.replace(0));
    if let Some(slot) = shm::own() {
        slot.totals.gil_ns.fetch_add(held.saturating_sub(paused), Relaxed);
    }
}

/// Notes time a thread spent with the GIL released in the middle of a Python call.
#[inline]
pub fn python_paused(ns: u64) {
    PAUSED_NS.with(|p| p.set(p.get() + ns));
}

/// Names interpreter `index` of this child (0: main) on the status page.
pub fn interpreter_named(index: usize, name: &str) {
    let Some(slot) = shm::own() else { return };
    let Some(e) = slot.interps.get(index) else { return };
    let bytes = name.as_bytes();
    let n = bytes.len().min(super::layout::INTERP_NAME);
    for (i, w) in e.name.iter().enumerate() {
        let mut word = [0u8; 8];
        for (j, b) in word.iter_mut().enumerate() {
            if let Some(&c) = bytes[..n].get(i * 8 + j) {
                *b = c;
            }
        }
        w.store(u64::from_ne_bytes(word), Relaxed);
    }
    e.requests.store(0, Relaxed);
    e.len.store(n as u32, std::sync::atomic::Ordering::Release);
}

/// Counts a request served by interpreter `index` of this child.
#[inline]
pub fn interpreter_request(index: usize) {
    if let Some(e) = shm::own().and_then(|s| s.interps.get(index)) {
        e.requests.fetch_add(1, Relaxed);
    }
}

/// Start-up costs of this child: starting Python, and loading what it preloads.
pub fn startup(interp: std::time::Duration, preload: std::time::Duration) {
    if let Some(slot) = shm::own() {
        slot.interp_us.store(interp.as_micros() as u64, Relaxed);
        slot.preload_us.store(preload.as_micros() as u64, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::super::layout::{BUCKETS, COARSE_STEPS, FINE_STEPS};
    use super::super::series::{consolidate, Step};
    use super::*;

    /// A zero-filled ring, as the shared memory starts.
    fn ring(n: usize) -> Vec<RingBucket> {
        (0..n)
            .map(|_| RingBucket {
                tag: 0.into(),
                sum_us: 0.into(),
                hist: std::array::from_fn(|_| 0.into()),
            })
            .collect()
    }

    fn read(ring: &[RingBucket], step: u64) -> Step {
        let cell = &ring[(step % ring.len() as u64) as usize];
        let mut s = Step::empty(step);
        if cell.tag.load(Acquire) == step + 1 {
            s.hist = std::array::from_fn(|i| cell.hist[i].load(Relaxed) as u64);
            s.sum_us = cell.sum_us.load(Relaxed);
        }
        s
    }

    fn text_of(e: &ActiveEntry) -> Vec<u8> {
        let len = e.len.load(Relaxed) as usize;
        e.text.iter().flat_map(|w| w.load(Relaxed).to_ne_bytes()).take(len).collect()
    }

    #[test]
    fn active_text_is_method_space_uri_truncated_and_overwritten() {
        let e = ActiveEntry {
            start_us: 0.into(),
            len: 0.into(),
            _pad: 0,
            text: std::array::from_fn(|_| 0.into()),
        };
        let long = vec![b'x'; 300];
        write_text(&e, b"POST", &long);
        let mut want = b"POST ".to_vec();
        want.extend(std::iter::repeat_n(b'x', ACTIVE_TEXT - 5));
        assert_eq!(text_of(&e), want);
        // A shorter text afterwards reads back whole, without the old tail.
        write_text(&e, b"GET", b"/a?b=1");
        assert_eq!(text_of(&e), b"GET /a?b=1");
        write_text(&e, b"", b"");
        assert_eq!(text_of(&e), b" ");
    }

    #[test]
    fn concurrent_adds_across_step_changes_are_exact_in_both_rings() {
        let fine = std::sync::Arc::new(ring(FINE_STEPS));
        let coarse = std::sync::Arc::new(ring(COARSE_STEPS));
        // Steps 5..65 of 10 s straddle two 5 min steps; 4 threads race through them.
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let (fine, coarse) = (fine.clone(), coarse.clone());
                std::thread::spawn(move || {
                    for i in 0..6000u64 {
                        let step = 5 + i / 100;
                        let us = 10 + (i * 7 + t) % 5000;
                        let b = super::super::layout::bucket_of(us);
                        ring_add(&fine, step, b, us);
                        ring_add(&coarse, step / 30, b, us);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let fine_steps: Vec<Step> = (5..65).map(|s| read(&fine, s)).collect();
        assert!(
            fine_steps.iter().all(|s| s.requests() == 400),
            "every 10 s step holds its 4 x 100 requests"
        );
        let merged = consolidate(&fine_steps, 30);
        for m in &merged {
            assert_eq!(*m, read(&coarse, m.index), "a 5 min bucket is exactly the sum of its 10 s buckets");
        }
        assert_eq!(merged.iter().map(Step::requests).sum::<u64>(), 24_000);
        assert_eq!(BUCKETS, read(&fine, 5).hist.len());
    }

    /// Not a check (speed lives in the benchmark): prints what recording one
    /// request costs, with one thread and with two racing on one slot.
    /// `cargo test --release --lib -- --ignored --nocapture recording_cost`
    #[test]
    #[ignore]
    fn recording_cost() {
        let slot: &'static ChildSlot = crate::ffi::shm::leak_zeroed();
        for threads in [1usize, 2] {
            let n = 2_000_000u64;
            let t0 = std::time::Instant::now();
            let hs: Vec<_> = (0..threads)
                .map(|_| {
                    std::thread::spawn(move || {
                        for i in 0..n {
                            let start = wall_us();
                            let asked = python_asked();
                            let entered = python_entered(asked);
                            python_left(entered);
                            let now = wall_us();
                            finished(slot, now, now - start + (i & 1023), 200);
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            let per = t0.elapsed().as_nanos() as f64 / n as f64;
            println!("{threads} thread(s): {per:.0} ns per request recorded (4 clock reads, 9 atomic adds)");
        }
    }

    #[test]
    fn a_stale_bucket_is_cleared_never_mixed_in() {
        let fine = ring(FINE_STEPS);
        ring_add(&fine, 3, 0, 5);
        ring_add(&fine, 3, 1, 12);
        assert_eq!(read(&fine, 3).requests(), 2);
        // One ring later the same bucket serves step 363: step 3's counts are gone.
        let later = 3 + FINE_STEPS as u64;
        ring_add(&fine, later, 2, 20);
        assert_eq!(read(&fine, later).requests(), 1);
        assert_eq!(read(&fine, 3).requests(), 0, "the old step no longer reads as present");
        // A writer that slept through a whole ring drops its sample.
        ring_add(&fine, 3, 0, 5);
        assert_eq!(read(&fine, later).requests(), 1);
    }
}

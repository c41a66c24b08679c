//! The shared memory itself: made by the parent in post_config (one anonymous
//! mapping per configuration generation, sized ServerLimit x one slot, freed
//! with the configuration pool), inherited by every child through fork, and a
//! slot claimed by each child at child_init.
use super::layout::{ChildSlot, Header, Totals, MAGIC, RESETTING};
use crate::ffi::pool::Pool;
use crate::ffi::server::Server;
use crate::ffi::shm::{Kept, Shm};
use crate::ffi::{log, raw};
use std::sync::atomic::{AtomicU64, Ordering::*};

/// Slots are capped so that a huge prefork ServerLimit does not map gigabytes.
const MAX_SLOTS: usize = 4096;

/// The current generation's mapping (null before post_config and in an old
/// parent pool's cleanup). Children keep the value they were forked with.
static REGION: Kept<Shm> = Kept::none();
/// This child's slot (none in the parent, or when no slot was free).
static OWN: Kept<ChildSlot> = Kept::none();

/// Makes this generation's mapping (parent, post_config). The old one, if
/// any, goes with its configuration pool; old children keep their own copy
/// of the mapping until they exit.
/// (post_config: `pconf` the configuration pool, `s` the main server.)
pub fn create(pconf: &Pool, s: &Server) {
    let slots = (crate::ffi::mpm::query(raw::AP_MPMQ_HARD_LIMIT_DAEMONS).max(1) as usize).min(MAX_SLOTS);
    let size = super::layout::size_for(slots);
    let base = match Shm::anonymous(pconf, size) {
        Ok(base) => base,
        Err(rv) => {
            s.log(
                log::APLOG_ERR,
                &format!("mod_pyrite: could not create {size} bytes of shared memory for metrics (APR error {rv}); metrics are off"),
            );
            REGION.set(None);
            return;
        }
    };
    // Laid out as a Header then `slots` ChildSlots (zero-valid atomics).
    let Some(h) = base.get::<Header>(0) else { return };
    h.slots.store(slots as u32, Relaxed);
    h.generation_us.store(wall_us(), Relaxed);
    h.magic.store(MAGIC, Release);
    REGION.set(Some(base));
    // The pool's own cleanup unmaps it: stop pointing at it first.
    pconf.on_cleanup(move || REGION.clear_if(base));
}

/// The mapping's header and slots, when there is one.
pub fn region() -> Option<(&'static Header, &'static [ChildSlot])> {
    // In a child the mapping stays for the child's life (the parent's
    // cleanup unmaps only the parent's view).
    let shm = REGION.get()?;
    let header = shm.get::<Header>(0)?;
    if header.magic.load(Acquire) != MAGIC {
        return None;
    }
    let n = header.slots.load(Relaxed) as usize;
    Some((header, shm.slice::<ChildSlot>(std::mem::size_of::<Header>(), n)?))
}

/// This child's slot.
#[inline]
pub fn own() -> Option<&'static ChildSlot> {
    OWN.get()
}

/// Records this process's requests in `slot` (a daemon's, see groups.rs).
pub fn adopt(slot: &'static ChildSlot) {
    OWN.set(Some(slot));
}

/// Whether process `pid` is gone (a slot it left can be taken).
fn gone(pid: u32) -> bool {
    crate::ffi::os::process_gone(pid)
}

/// Takes a slot for this child: a free one, else one a dead child left
/// (child_init: `pchild` the child's pool, `s` the main server).
pub fn child_init(pchild: &Pool, s: &Server) {
    let Some((header, slots)) = region() else { return };
    let me = std::process::id();
    let pick = |want_free: bool| {
        slots.iter().find(|slot| {
            let pid = slot.pid.load(Acquire);
            let takeable = if want_free { pid == 0 } else { pid != 0 && pid != me && gone(pid) };
            takeable && slot.pid.compare_exchange(pid, me, AcqRel, Relaxed).is_ok()
        })
    };
    let Some(slot) = pick(true).or_else(|| pick(false)) else {
        s.log(
            log::APLOG_WARNING,
            &format!("mod_pyrite: no free metrics slot for child {me} (more children than ServerLimit); its requests are not counted"),
        );
        return;
    };
    take_over(header, slot);
    OWN.set(Some(slot));
    // The slot is in the mapping, which outlives the child's pool.
    pchild.on_cleanup(move || {
        let _ = slot.pid.compare_exchange(me, 0, AcqRel, Relaxed);
    });
}

/// Folds the previous owner's totals into the header's retired totals (so
/// site totals stay exact) and clears the slot's per-child parts. The rings
/// are kept: they are per step, not per child.
fn take_over(header: &Header, slot: &ChildSlot) {
    retire_into(slot, &header.retired);
}

/// Moves a slot's totals into `retired` and clears its per-process parts
/// (also for a daemon's slot, whose group keeps the totals).
pub fn retire_into(slot: &ChildSlot, retired: &Totals) {
    move_totals(&slot.totals, retired);
    slot.threads.store(0, Relaxed);
    slot.interp_us.store(0, Relaxed);
    slot.preload_us.store(0, Relaxed);
    slot.claimed_us.store(wall_us(), Relaxed);
    for a in &slot.active {
        a.start_us.store(0, Relaxed);
    }
    for i in &slot.interps {
        i.len.store(0, Relaxed);
        i.requests.store(0, Relaxed);
    }
    // A child killed while clearing a ring bucket would leave it blocked.
    for b in slot.fine.iter().chain(slot.coarse.iter()) {
        let _ = b.tag.compare_exchange(RESETTING, 0, AcqRel, Relaxed);
    }
}

fn move_totals(from: &Totals, to: &Totals) {
    let mv = |a: &AtomicU64, b: &AtomicU64| {
        b.fetch_add(a.swap(0, AcqRel), AcqRel);
    };
    for (a, b) in from.statuses.iter().zip(&to.statuses) {
        mv(a, b);
    }
    for (a, b) in from.hist.iter().zip(&to.hist) {
        mv(a, b);
    }
    mv(&from.sum_us, &to.sum_us);
    mv(&from.gate_wait_ns, &to.gate_wait_ns);
    mv(&from.python_wait_ns, &to.python_wait_ns);
    mv(&from.gil_ns, &to.gil_ns);
}

/// Wall-clock microseconds (what httpd's request_time uses).
pub use crate::ffi::os::wall_us;

/// Monotonic nanoseconds, for intervals inside one thread.
pub use crate::ffi::os::mono_ns;

//! Reading the shared memory into plain numbers, for the renderers and for
//! `pyrite.metrics()`. Readers never lock: a value may be a request behind,
//! a ring bucket being cleared is skipped, and request text may be torn.
use super::layout::{ChildSlot, RingBucket, Totals, BUCKETS, CLASSES, COARSE_STEPS, COARSE_STEP_S, FINE_STEPS, FINE_STEP_S};
use super::series::Step;
use super::shm::{self, wall_us};
use std::sync::atomic::Ordering::*;

#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub statuses: [u64; CLASSES],
    pub hist: Vec<u64>,
    pub sum_us: u64,
    pub gate_wait_ns: u64,
    pub python_wait_ns: u64,
    pub gil_ns: u64,
}

impl Counts {
    pub fn of(t: &Totals) -> Counts {
        Counts {
            statuses: std::array::from_fn(|i| t.statuses[i].load(Relaxed)),
            hist: t.hist.iter().map(|h| h.load(Relaxed)).collect(),
            sum_us: t.sum_us.load(Relaxed),
            gate_wait_ns: t.gate_wait_ns.load(Relaxed),
            python_wait_ns: t.python_wait_ns.load(Relaxed),
            gil_ns: t.gil_ns.load(Relaxed),
        }
    }

    pub fn add(&mut self, o: &Counts) {
        if self.hist.is_empty() {
            self.hist = vec![0; BUCKETS];
        }
        for (a, b) in self.statuses.iter_mut().zip(&o.statuses) {
            *a += b;
        }
        for (a, b) in self.hist.iter_mut().zip(&o.hist) {
            *a += b;
        }
        self.sum_us += o.sum_us;
        self.gate_wait_ns += o.gate_wait_ns;
        self.python_wait_ns += o.python_wait_ns;
        self.gil_ns += o.gil_ns;
    }

    /// Requests counted: the sum of the histogram (so it always equals its count).
    pub fn requests(&self) -> u64 {
        self.hist.iter().sum()
    }

    pub fn hist_array(&self) -> [u64; BUCKETS] {
        std::array::from_fn(|i| self.hist.get(i).copied().unwrap_or(0))
    }
}

#[derive(Clone, Debug)]
pub struct Active {
    pub text: String,
    pub duration_us: u64,
}

#[derive(Clone, Debug)]
pub struct Child {
    pub slot: usize,
    pub pid: u32,
    pub started_us: u64,
    pub interp_us: u64,
    pub preload_us: u64,
    pub rss_bytes: Option<u64>,
    pub counts: Counts,
    pub active: Vec<Active>,
    /// (name, requests) per interpreter, when the child runs more than one.
    pub interpreters: Vec<(String, u64)>,
}

#[derive(Clone, Debug)]
pub struct Snapshot {
    pub now_us: u64,
    pub generation_us: u64,
    /// Live children.
    pub children: Vec<Child>,
    /// Everything this generation counted: live, exited and replaced children.
    pub totals: Counts,
    /// Completed 10 s steps of the last hour, oldest first, summed over children.
    pub fine: Vec<Step>,
    /// Completed 5 min steps of the last day, oldest first.
    pub coarse: Vec<Step>,
    /// The daemon groups (WSGIDaemonProcess); their requests are in `totals` and the series too.
    pub groups: Vec<super::groups::Group>,
}

impl Child {
    /// What `slot` (the process `index` of its kind) shows now.
    pub fn of(index: usize, slot: &ChildSlot, now: u64) -> Child {
        let pid = slot.pid.load(Acquire);
        Child {
            slot: index,
            pid,
            started_us: slot.claimed_us.load(Relaxed),
            interp_us: slot.interp_us.load(Relaxed),
            preload_us: slot.preload_us.load(Relaxed),
            rss_bytes: if pid == 0 { None } else { rss_bytes(pid) },
            counts: Counts::of(&slot.totals),
            active: active_of(slot, now),
            interpreters: interpreters_of(slot),
        }
    }
}

/// RSS of a process from /proc (the children run as one user, so any child can read the others').
fn rss_bytes(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * crate::ffi::os::page_size())
}

fn active_of(slot: &ChildSlot, now: u64) -> Vec<Active> {
    let n = (slot.threads.load(Relaxed) as usize).min(slot.active.len());
    let mut out = Vec::new();
    for e in &slot.active[..n] {
        let start = e.start_us.load(Acquire);
        if start == 0 {
            continue;
        }
        let len = (e.len.load(Relaxed) as usize).min(e.text.len() * 8);
        let bytes: Vec<u8> = e.text.iter().flat_map(|w| w.load(Relaxed).to_ne_bytes()).take(len).collect();
        out.push(Active {
            text: String::from_utf8_lossy(&bytes).into_owned(),
            duration_us: now.saturating_sub(start),
        });
    }
    out
}

fn interpreters_of(slot: &ChildSlot) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for e in &slot.interps {
        let len = (e.len.load(Acquire) as usize).min(e.name.len() * 8);
        if len == 0 {
            continue;
        }
        let bytes: Vec<u8> = e.name.iter().flat_map(|w| w.load(Relaxed).to_ne_bytes()).take(len).collect();
        out.push((String::from_utf8_lossy(&bytes).into_owned(), e.requests.load(Relaxed)));
    }
    out
}

/// Adds each of `ring`'s buckets for steps `first..=last` into `into` (indexed from `first`).
fn add_ring(ring: &[RingBucket], first: u64, last: u64, into: &mut [Step]) {
    for step in first..=last {
        let cell = &ring[(step % ring.len() as u64) as usize];
        let tag = cell.tag.load(Acquire);
        if tag != step + 1 {
            continue;
        }
        let hist: [u64; BUCKETS] = std::array::from_fn(|i| cell.hist[i].load(Relaxed) as u64);
        let sum = cell.sum_us.load(Relaxed);
        if cell.tag.load(Acquire) != tag {
            continue; // cleared for a newer step while read
        }
        let s = &mut into[(step - first) as usize];
        for (a, b) in s.hist.iter_mut().zip(&hist) {
            *a += b;
        }
        s.sum_us += sum;
    }
}

/// Everything, now. None when metrics are off (no shared memory).
pub fn take() -> Option<Snapshot> {
    let (header, slots) = shm::region()?;
    let now = wall_us();
    let secs = now / 1_000_000;
    let mut totals = Counts::of(&header.retired);
    let (fine_last, coarse_last) = (secs / FINE_STEP_S - 1, secs / COARSE_STEP_S - 1);
    let (fine_first, coarse_first) = (fine_last + 1 - (FINE_STEPS as u64 - 1), coarse_last + 1 - (COARSE_STEPS as u64 - 1));
    let mut fine: Vec<Step> = (fine_first..=fine_last).map(Step::empty).collect();
    let mut coarse: Vec<Step> = (coarse_first..=coarse_last).map(Step::empty).collect();
    let mut children = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        let counts = Counts::of(&slot.totals);
        totals.add(&counts);
        add_ring(&slot.fine, fine_first, fine_last, &mut fine);
        add_ring(&slot.coarse, coarse_first, coarse_last, &mut coarse);
        let pid = slot.pid.load(Acquire);
        if pid == 0 {
            continue;
        }
        let child = Child::of(i, slot, now);
        if child.rss_bytes.is_none() {
            continue; // exited without clearing its slot
        }
        children.push(child);
    }
    let (groups, daemon_slots, retired) = super::groups::take(now);
    for slot in daemon_slots {
        totals.add(&Counts::of(&slot.totals));
        add_ring(&slot.fine, fine_first, fine_last, &mut fine);
        add_ring(&slot.coarse, coarse_first, coarse_last, &mut coarse);
    }
    for t in retired {
        totals.add(&Counts::of(t));
    }
    Some(Snapshot {
        now_us: now,
        generation_us: header.generation_us.load(Relaxed),
        children,
        totals,
        fine,
        coarse,
        groups,
    })
}

//! The daemon groups' part of the metrics: a second mapping, made by httpd's
//! parent with each configuration generation next to the children's, holding
//! one record per WSGIDaemonProcess group (its size, socket, restarts and why,
//! and the totals of daemons that were replaced) and one slot per daemon. A
//! daemon's slot holds an ordinary `ChildSlot`, so its requests are recorded
//! by the same code as a child's (src/metrics/record.rs), and the status page
//! reads every group from any child.
use super::layout::{ChildSlot, Totals};
use super::shm::{self, wall_us};
use crate::ffi::log;
use crate::ffi::pool::Pool;
use crate::ffi::server::Server;
use crate::ffi::shm::{zero_valid, Kept, Shm};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};

/// Bytes of a group's name kept (longer names are cut on the page).
pub const GROUP_NAME: usize = 64;
/// Bytes of a restart's reason kept.
pub const REASON_TEXT: usize = 120;
/// Why a daemon was replaced, counted per group; `Stop::name` gives the words.
pub const STOP_KINDS: usize = 8;
/// Daemon slots are capped like the children's.
const MAX_DAEMONS: usize = 1024;
const MAGIC: u64 = 0x7079_7269_7465_6731; // "pyriteg1"

/// Why a daemon stopped (or died) and was replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Stop {
    MaximumRequests = 0,
    RestartInterval = 1,
    InactivityTimeout = 2,
    RequestTimeout = 3,
    /// Stopped by a signal someone sent it (SIGTERM, SIGUSR1, ...), then drained.
    Signal = 4,
    /// Died of a signal (kill -9, a crash).
    Killed = 5,
    /// Exited otherwise (a daemon that could not start, ...).
    Exited = 6,
    ParentGone = 7,
}

impl Stop {
    pub const ALL: [Stop; STOP_KINDS] = [
        Stop::MaximumRequests,
        Stop::RestartInterval,
        Stop::InactivityTimeout,
        Stop::RequestTimeout,
        Stop::Signal,
        Stop::Killed,
        Stop::Exited,
        Stop::ParentGone,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stop::MaximumRequests => "maximum-requests",
            Stop::RestartInterval => "restart-interval",
            Stop::InactivityTimeout => "inactivity-timeout",
            Stop::RequestTimeout => "request-timeout",
            Stop::Signal => "signal",
            Stop::Killed => "killed",
            Stop::Exited => "exited",
            Stop::ParentGone => "parent-gone",
        }
    }

    /// The kind of a daemon's own stop reason (the words src/daemon writes).
    pub fn of_reason(why: &str) -> Stop {
        let named = Stop::ALL.into_iter().find(|k| why.starts_with(k.name()));
        named.unwrap_or(if why.starts_with("httpd's parent") {
            Stop::ParentGone
        } else {
            Stop::Exited
        })
    }
}

/// One daemon group of the generation.
#[repr(C, align(64))]
pub struct GroupSlot {
    pub name_len: AtomicU32,
    pub processes: AtomicU32,
    pub threads: AtomicU32,
    /// listen-backlog: the most connections the socket's queue holds.
    pub backlog: AtomicU32,
    pub name: [AtomicU64; GROUP_NAME / 8],
    /// The socket's inode (its queue is read by it, see src/ffi/unix_diag.rs).
    pub socket_inode: AtomicU64,
    /// The group's first daemon slot; its daemons use `processes` slots from there.
    pub first_slot: AtomicU32,
    pub reason_len: AtomicU32,
    /// Replacements started, per `Stop` kind.
    pub restarts: [AtomicU64; STOP_KINDS],
    /// When the last replacement started (wall clock, us; 0: none yet).
    pub last_restart_us: AtomicU64,
    pub last_reason: [AtomicU64; REASON_TEXT / 8],
    /// Totals of the group's daemons that were replaced (a group's counts survive recycling).
    pub retired: Totals,
}

/// One daemon: its pid, whether it is draining, why it stopped, and the
/// counters any child keeps.
#[repr(C, align(64))]
pub struct DaemonSlot {
    pub pid: AtomicU32,
    /// 0 serving, 1 stopping (draining), 2 leaving by itself (about to exit).
    pub stopping: AtomicU32,
    /// `Stop` + 1 when the daemon decided or was told to stop (0: not yet).
    pub stop_kind: AtomicU32,
    pub stop_len: AtomicU32,
    pub stop_text: [AtomicU64; REASON_TEXT / 8],
    pub child: ChildSlot,
}

#[repr(C, align(64))]
struct Header {
    magic: AtomicU64,
    groups: AtomicU32,
    daemons: AtomicU32,
}

zero_valid!(GroupSlot {
    name_len,
    processes,
    threads,
    backlog,
    name,
    socket_inode,
    first_slot,
    reason_len,
    restarts,
    last_restart_us,
    last_reason,
    retired
});
zero_valid!(DaemonSlot {
    pid,
    stopping,
    stop_kind,
    stop_len,
    stop_text,
    child
});
zero_valid!(Header { magic, groups, daemons });

static REGION: Kept<Shm> = Kept::none();
/// This daemon's slot (none outside daemons).
static OWN: Kept<DaemonSlot> = Kept::none();

/// What the parent knows of a group when it makes the mapping.
pub struct Declared<'a> {
    pub name: &'a str,
    pub processes: usize,
    pub threads: usize,
    pub backlog: i32,
    /// The inode of the group's listening socket (its queue in the kernel's socket diagnostics).
    pub socket_inode: u64,
}

const fn size_for(groups: usize, daemons: usize) -> usize {
    std::mem::size_of::<Header>() + groups * std::mem::size_of::<GroupSlot>() + daemons * std::mem::size_of::<DaemonSlot>()
}

fn write_text(words: &[AtomicU64], len: &AtomicU32, text: &str) {
    let bytes = text.as_bytes();
    let n = bytes.len().min(words.len() * 8);
    for (i, w) in words.iter().enumerate() {
        let mut word = [0u8; 8];
        for (j, b) in word.iter_mut().enumerate() {
            if let Some(&c) = bytes[..n].get(i * 8 + j) {
                *b = c;
            }
        }
        w.store(u64::from_ne_bytes(word), Relaxed);
    }
    len.store(n as u32, Release);
}

fn read_text(words: &[AtomicU64], len: &AtomicU32) -> String {
    let n = (len.load(Acquire) as usize).min(words.len() * 8);
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.load(Relaxed).to_ne_bytes()).take(n).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Makes this generation's mapping for `groups` (httpd's parent, post_config,
/// after the groups' sockets are open and before their daemons are forked).
///
/// (`pconf` the configuration pool of this generation; `s` its main server.)
pub fn create(pconf: &Pool, s: &Server, groups: &[Declared<'_>]) {
    REGION.set(None);
    if groups.is_empty() {
        return;
    }
    let mut daemons = 0usize;
    let mut first = Vec::new();
    for g in groups {
        first.push(daemons);
        daemons += g.processes;
    }
    if daemons > MAX_DAEMONS {
        s.log(
            log::APLOG_WARNING,
            &format!(
                "mod_pyrite: {daemons} daemon processes are more than the status page follows ({MAX_DAEMONS}); daemon groups are not shown"
            ),
        );
        return;
    }
    let size = size_for(groups.len(), daemons);
    // The mapping lives until pconf is cleared.
    let Ok(shm) = Shm::anonymous(pconf, size) else {
        s.log(
            log::APLOG_ERR,
            &format!("mod_pyrite: could not map {size} bytes for the daemon groups' metrics; they are not shown"),
        );
        return;
    };
    // Laid out as Header, GroupSlots, DaemonSlots (zero-valid atomics);
    // ours alone until the daemons are forked.
    let Some(header) = shm.get::<Header>(0) else { return };
    header.groups.store(groups.len() as u32, Relaxed);
    header.daemons.store(daemons as u32, Relaxed);
    REGION.set(Some(shm));
    let Some((slots, _)) = parts() else { return };
    for ((g, slot), first) in groups.iter().zip(slots).zip(first) {
        write_text(&slot.name, &slot.name_len, g.name);
        slot.processes.store(g.processes as u32, Relaxed);
        slot.threads.store(g.threads as u32, Relaxed);
        slot.backlog.store(g.backlog.max(0) as u32, Relaxed);
        slot.first_slot.store(first as u32, Relaxed);
        slot.socket_inode.store(g.socket_inode, Relaxed);
    }
    // The magic makes the mapping readable.
    header.magic.store(MAGIC, Release);
    // The pool's own cleanup unmaps the region after this one runs.
    pconf.on_cleanup(move || REGION.clear_if(shm));
}

/// The groups and the daemon slots of the mapping, when there is one.
fn parts() -> Option<(&'static [GroupSlot], &'static [DaemonSlot])> {
    // Laid out as Header, `groups` GroupSlots, `daemons` DaemonSlots; it
    // stays mapped in every process forked while it was current.
    let shm = REGION.get()?;
    let h = shm.get::<Header>(0)?;
    let n = h.groups.load(Relaxed) as usize;
    let d = h.daemons.load(Relaxed) as usize;
    let g0 = std::mem::size_of::<Header>();
    let d0 = g0 + n * std::mem::size_of::<GroupSlot>();
    Some((shm.slice::<GroupSlot>(g0, n)?, shm.slice::<DaemonSlot>(d0, d)?))
}

fn readable() -> Option<(&'static [GroupSlot], &'static [DaemonSlot])> {
    let h = REGION.get()?.get::<Header>(0)?;
    if h.magic.load(Acquire) != MAGIC {
        return None;
    }
    parts()
}

fn group_named(name: &str) -> Option<(&'static GroupSlot, &'static [DaemonSlot])> {
    let (groups, daemons) = readable()?;
    let g = groups.iter().find(|g| read_text(&g.name, &g.name_len) == name)?;
    let first = g.first_slot.load(Relaxed) as usize;
    let n = g.processes.load(Relaxed) as usize;
    Some((g, daemons.get(first..first + n)?))
}

/// The slot of daemon `index` of group `name`.
fn daemon_slot(name: &str, index: usize) -> Option<(&'static GroupSlot, &'static DaemonSlot)> {
    let (g, d) = group_named(name)?;
    Some((g, d.get(index)?))
}

/// httpd's parent, before forking daemon `index` of `group`: the slot's last
/// daemon is gone, so its totals join the group's and its per-daemon parts are cleared.
pub fn prepare(group: &str, index: usize) {
    let Some((g, d)) = daemon_slot(group, index) else { return };
    shm::retire_into(&d.child, &g.retired);
    d.pid.store(0, Relaxed);
    d.stopping.store(0, Relaxed);
    d.stop_kind.store(0, Relaxed);
    d.stop_len.store(0, Relaxed);
}

/// httpd's parent, once daemon `index` of `group` is forked.
pub fn forked(group: &str, index: usize, pid: i32) {
    if let Some((_, d)) = daemon_slot(group, index) {
        d.pid.store(pid as u32, Release);
        d.child.pid.store(pid as u32, Release);
    }
}

/// In a new daemon: its slot becomes the one its requests are recorded in.
pub fn adopt(group: &str, index: usize) {
    let Some((_, d)) = daemon_slot(group, index) else { return };
    let me = std::process::id();
    d.pid.store(me, Release);
    d.child.pid.store(me, Release);
    d.child.claimed_us.store(wall_us(), Relaxed);
    shm::adopt(&d.child);
    OWN.set(Some(d));
}

fn own() -> Option<&'static DaemonSlot> {
    OWN.get()
}

/// In a daemon that begins to stop: why (shown until its replacement starts).
pub fn stopping(why: &str) {
    let Some(d) = own() else { return };
    if d.stop_kind.load(Acquire) == 0 {
        write_text(&d.stop_text, &d.stop_len, why);
        d.stop_kind.store(Stop::of_reason(why) as u32 + 1, Release);
    }
    let _ = d.stopping.compare_exchange(0, 1, AcqRel, Relaxed);
}

/// In a daemon about to exit by itself (not killed): why, if not said yet.
/// httpd only passes the parent a number that may be an exit code or a
/// signal; this mark tells them apart.
pub fn exiting(why: &str) {
    stopping(why);
    if let Some(d) = own() {
        d.stopping.store(2, Release);
    }
}

/// httpd's parent, when daemon `index` of `group` (of this generation) has
/// died: the reason it gave as it left by itself, or None (it was killed).
pub fn exit_reason(group: &str, index: usize) -> Option<String> {
    let (_, d) = daemon_slot(group, index)?;
    (d.stopping.load(Acquire) == 2).then(|| read_text(&d.stop_text, &d.stop_len))
}

/// httpd's parent, when daemon `index` of `group` died and is replaced:
/// `how` it ended, counted under the reason it gave if it left by itself,
/// else as killed (or exited, for a plain exit without a reason).
pub fn replaced(group: &str, index: usize, how: &str, killed: bool) {
    let Some((g, d)) = daemon_slot(group, index) else { return };
    let kind = match exit_reason(group, index) {
        Some(why) => Stop::of_reason(&why),
        None if killed => Stop::Killed,
        None => Stop::Exited,
    };
    let text = how;
    g.restarts[kind as usize].fetch_add(1, Relaxed);
    write_text(&g.last_reason, &g.reason_len, &format!("daemon {}: {text}", d.pid.load(Relaxed)));
    g.last_restart_us.store(wall_us(), Release);
}

/// A daemon as the page shows it.
#[derive(Clone, Debug)]
pub struct Daemon {
    pub pid: u32,
    pub alive: bool,
    pub stopping: Option<String>,
    pub child: super::snapshot::Child,
}

/// A group as the page shows it.
#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    pub processes: u32,
    pub threads: u32,
    pub backlog: u32,
    /// Connections waiting in the socket's queue (None: the kernel did not say).
    pub queued: Option<u32>,
    pub restarts: [u64; STOP_KINDS],
    /// (when, us; why) of the last replacement.
    pub last_restart: Option<(u64, String)>,
    pub daemons: Vec<Daemon>,
    /// Every request of the group this generation: live and replaced daemons.
    pub counts: super::snapshot::Counts,
}

impl Group {
    pub fn busy(&self) -> usize {
        self.daemons.iter().map(|d| d.child.active.len()).sum()
    }

    pub fn restarts_total(&self) -> u64 {
        self.restarts.iter().sum()
    }
}

fn alive(pid: u32) -> bool {
    pid != 0 && !crate::ffi::os::process_gone(pid)
}

/// Every group now, with each daemon's `ChildSlot` for the caller to add to
/// the site's totals and series.
pub fn take(now: u64) -> (Vec<Group>, Vec<&'static ChildSlot>, Vec<&'static Totals>) {
    let Some((groups, daemons)) = readable() else {
        return (Vec::new(), Vec::new(), Vec::new());
    };
    let inodes: Vec<u64> = groups.iter().map(|g| g.socket_inode.load(Relaxed)).collect();
    let queues = crate::ffi::unix_diag::listen_queues(&inodes);
    let mut out = Vec::new();
    let mut slots = Vec::new();
    let mut retired = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        let first = g.first_slot.load(Relaxed) as usize;
        let n = g.processes.load(Relaxed) as usize;
        let mut counts = super::snapshot::Counts::of(&g.retired);
        retired.push(&g.retired);
        let mut list = Vec::new();
        for (i, d) in daemons.iter().enumerate().skip(first).take(n) {
            slots.push(&d.child);
            let child = super::snapshot::Child::of(i - first, &d.child, now);
            counts.add(&child.counts);
            let pid = d.pid.load(Acquire);
            list.push(Daemon {
                pid,
                alive: alive(pid),
                stopping: (d.stopping.load(Acquire) != 0).then(|| read_text(&d.stop_text, &d.stop_len)),
                child,
            });
        }
        let at = g.last_restart_us.load(Acquire);
        out.push(Group {
            name: read_text(&g.name, &g.name_len),
            processes: n as u32,
            threads: g.threads.load(Relaxed),
            backlog: g.backlog.load(Relaxed),
            queued: queues.get(gi).copied().flatten(),
            restarts: std::array::from_fn(|k| g.restarts[k].load(Relaxed)),
            last_restart: (at > 0).then(|| (at, read_text(&g.last_reason, &g.reason_len))),
            daemons: list,
            counts,
        });
    }
    (out, slots, retired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_aligned() {
        assert_eq!(std::mem::size_of::<GroupSlot>() % 64, 0);
        assert_eq!(std::mem::size_of::<DaemonSlot>() % 64, 0);
        assert_eq!(std::mem::size_of::<Header>() % 64, 0);
    }

    #[test]
    fn reasons_are_classified() {
        assert_eq!(Stop::of_reason("maximum-requests=25 reached"), Stop::MaximumRequests);
        assert_eq!(Stop::of_reason("restart-interval=5s reached"), Stop::RestartInterval);
        assert_eq!(Stop::of_reason("inactivity-timeout=5s reached"), Stop::InactivityTimeout);
        assert_eq!(Stop::of_reason("httpd's parent is gone"), Stop::ParentGone);
        assert_eq!(Stop::of_reason("signal 15"), Stop::Signal);
        assert_eq!(Stop::of_reason("request-timeout=1s reached"), Stop::RequestTimeout);
        assert_eq!(Stop::of_reason("could not start"), Stop::Exited);
    }

    #[test]
    fn text_round_trips_and_is_cut() {
        let words: [AtomicU64; 2] = std::array::from_fn(|_| AtomicU64::new(0));
        let len = AtomicU32::new(0);
        write_text(&words, &len, "abc");
        assert_eq!(read_text(&words, &len), "abc");
        write_text(&words, &len, "0123456789abcdefXYZ");
        assert_eq!(read_text(&words, &len), "0123456789abcdef");
    }
}

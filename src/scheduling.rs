//! How the kernel schedules httpd's children (PyriteChildScheduling).
//!
//! With daemon groups, a child's thread mostly relays: it sends a request
//! to a daemon, sleeps, and is woken by the response. Under the normal
//! policy that wake-up preempts the daemon thread that wrote the response,
//! on its CPU, before it can take its next request: two more thread
//! switches per request, which on a loaded machine cost more than a small
//! view. Under SCHED_BATCH a woken child thread waits for the running
//! thread's turn to end instead (or takes an idle CPU at once, as before).
//! Measured with a small Flask view in daemon mode on 2 CPUs: a third more
//! requests/s, the daemons' switches per request from 2.0 to 0.3, a lower
//! p50 and a higher p99 (a woken thread may wait a turn); hello world and
//! embedded mode within the noise (docs/tuning.md). Daemons keep their
//! policy: theirs made no difference.
use crate::config::{ChildScheduling, ServerConfig};
use crate::ffi::server::Server;
use crate::ffi::{log, os};

/// PyriteChildScheduling, if the configuration gives it.
fn given(s: &Server) -> Option<ChildScheduling> {
    ServerConfig::of(s).and_then(|sc| sc.child_scheduling)
}

/// Without PyriteChildScheduling: batch when the configuration declares
/// daemon groups, normal otherwise.
fn by_default() -> ChildScheduling {
    if crate::daemon::directives::any() {
        ChildScheduling::Batch
    } else {
        ChildScheduling::Normal
    }
}

/// The policy of the running configuration.
fn chosen(s: &Server) -> ChildScheduling {
    given(s).unwrap_or_else(by_default)
}

/// In an httpd child, before its MPM starts its threads (which inherit the
/// policy): applies the chosen policy; a refusal is logged and the child
/// runs on as it is.
pub fn apply_in_child(s: &Server) {
    if chosen(s) != ChildScheduling::Batch {
        return;
    }
    if let Err(e) = os::schedule_as_batch() {
        s.log(
            log::APLOG_WARNING,
            &format!("mod_pyrite: PyriteChildScheduling batch: the kernel refused SCHED_BATCH for this child ({e}); it keeps its policy"),
        );
    }
}

/// The start-up line that says what httpd's children run under and why.
pub fn startup_notice(s: &Server) -> &'static str {
    match (given(s), by_default()) {
        (Some(ChildScheduling::Batch), _) => "mod_pyrite: httpd's children run under SCHED_BATCH (PyriteChildScheduling batch)",
        (Some(ChildScheduling::Normal), _) => "mod_pyrite: httpd's children keep the scheduling policy httpd started them with (PyriteChildScheduling normal)",
        (None, ChildScheduling::Batch) => "mod_pyrite: httpd's children run under SCHED_BATCH (the default with daemon groups: a child thread woken by a daemon's response does not preempt the daemon; `PyriteChildScheduling normal` keeps the normal policy; docs/tuning.md)",
        (None, ChildScheduling::Normal) => "mod_pyrite: httpd's children keep the scheduling policy httpd started them with (the default without daemon groups)",
    }
}

//! Several Python interpreters in one child: one per mod_python interpreter
//! name and per mod_wsgi application group, made at child start (see
//! docs/interpreters.md for the design and why it is sound).
//!
//! All of a child's interpreters share CPython 3.11's one GIL. Each worker
//! thread has one thread state per interpreter it has used; entering an
//! interpreter is a PyThreadState_Swap while the GIL is held, and leaving
//! swaps back. A configuration that names only one interpreter runs in the
//! main interpreter with none of this (`isolating()` is false).
pub mod atexit;
pub mod names;
pub mod plan;
mod python_path;
mod setup;

use crate::ffi::subinterp::{self, Interpreter, PreparedState, ThreadState};
use crate::interp::with_python;
use crate::sync::LockExt;
use pyo3::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// CPython's id of an interpreter in this process; the main one is 0.
pub type Id = i64;
pub const MAIN: Id = 0;

/// One interpreter of this child.
pub struct Entry {
    pub name: String,
    /// Its place on the status page (the main interpreter is 0).
    index: usize,
    state: Interpreter,
    /// Requests this interpreter has served in this child.
    pub requests: AtomicU64,
    /// Thread states made at child start for threads to come.
    prepared: Mutex<Vec<PreparedState>>,
    /// What making and preloading it cost, for the start-up log and summary.
    pub cost: Mutex<Cost>,
}

#[derive(Clone, Default)]
pub struct Cost {
    pub made_ms: f64,
    pub preload_ms: f64,
    pub preloaded: usize,
    pub thread_states: usize,
    /// Made on a request rather than at child start.
    pub on_demand: bool,
}

/// Whether this child runs more than one interpreter.
static ISOLATING: AtomicBool = AtomicBool::new(false);
/// Sub-interpreters by name, and by id.
static BY_NAME: RwLock<Option<HashMap<String, Id>>> = RwLock::new(None);
static ENTRIES: RwLock<Vec<Option<Arc<Entry>>>> = RwLock::new(Vec::new());
/// Requests served by the main interpreter while isolating.
static MAIN_REQUESTS: AtomicU64 = AtomicU64::new(0);
/// Serialises making interpreters (two threads asking for a new name at once).
static MAKING: Mutex<()> = Mutex::new(());

thread_local! {
    /// This thread's state in each sub-interpreter (index: id), made on first use.
    static STATES: RefCell<Vec<Option<ThreadState>>> = const { RefCell::new(Vec::new()) };
}

/// Whether this child runs more than one interpreter.
#[inline]
pub fn isolating() -> bool {
    ISOLATING.load(Ordering::Relaxed)
}

/// The interpreter the calling thread is in (the GIL held).
#[inline]
pub fn current(py: Python<'_>) -> Id {
    if !isolating() {
        return MAIN;
    }
    subinterp::current_id(py)
}

fn entry(id: Id) -> Option<Arc<Entry>> {
    ENTRIES
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(id as usize)
        .cloned()
        .flatten()
}

/// Interpreters a child makes on requests (for names start-up could not
/// know) at most: such names can come from the request (`%{ENV:...}`).
pub const MAX_ON_DEMAND: usize = 64;
static ON_DEMAND: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The interpreter for a name (mod_python's or mod_wsgi's); main for the
/// main names and whenever this child does not isolate. A name first seen
/// here (a request-dependent one) gets its interpreter now. None when it
/// cannot have one (the limit is reached, or making it failed): the caller
/// refuses the request rather than run one site's code in another's
/// interpreter.
pub fn resolve(py: Python<'_>, name: Option<&str>) -> Option<Id> {
    if !isolating() || names::is_main(name) {
        return Some(MAIN);
    }
    let name = name.unwrap_or_default();
    if let Some(id) = BY_NAME.read().unwrap_or_else(|p| p.into_inner()).as_ref().and_then(|m| m.get(name)) {
        return Some(*id);
    }
    let log = |level, msg: String| crate::ffi::log::main_error(level, &msg);
    if ON_DEMAND.load(Ordering::Relaxed) >= MAX_ON_DEMAND {
        log(
            crate::ffi::log::APLOG_ERR,
            format!("mod_pyrite: not making interpreter '{name}': this child already made {MAX_ON_DEMAND} on requests; the request is refused (docs/interpreters.md)"),
        );
        return None;
    }
    let t0 = std::time::Instant::now();
    match make(py, name) {
        Ok(id) => {
            ON_DEMAND.fetch_add(1, Ordering::Relaxed);
            if let Some(e) = entry(id) {
                let mut c = e.cost.locked();
                c.on_demand = true;
                c.made_ms = t0.elapsed().as_secs_f64() * 1e3;
            }
            log(
                crate::ffi::log::APLOG_NOTICE,
                format!(
                    "mod_pyrite: interpreter '{name}' made on first request in child {} ({:.1} ms); names known at start-up are made at child start",
                    std::process::id(),
                    t0.elapsed().as_secs_f64() * 1e3
                ),
            );
            Some(id)
        }
        Err(msg) => {
            log(
                crate::ffi::log::APLOG_ERR,
                format!("mod_pyrite: could not make interpreter '{name}': {msg}; the request is refused"),
            );
            None
        }
    }
}

/// The interpreter already made for a name (main for main names and when
/// not isolating); None when no interpreter has that name yet.
pub fn known(name: Option<&str>) -> Option<Id> {
    if !isolating() || names::is_main(name) {
        return Some(MAIN);
    }
    BY_NAME
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(|m| m.get(name.unwrap_or_default()).copied())
}

/// The interpreter for a start-up guess, if it has been made.
pub fn known_guess(g: &plan::Guess) -> Option<Id> {
    match g {
        plan::Guess::Known(n) => known(n.as_deref()),
        plan::Guess::PerRequest => None,
    }
}

/// Makes the sub-interpreter for `name` (if no other thread just did), set
/// up like the main one; the caller holds the GIL and is in any interpreter.
pub fn make(py: Python<'_>, name: &str) -> Result<Id, String> {
    // Setting one up runs Python, which may let another thread take the GIL
    // and ask for a new name too: wait for the lock without the GIL.
    let _one = loop {
        match MAKING.try_lock() {
            Ok(g) => break g,
            Err(std::sync::TryLockError::Poisoned(p)) => break p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => py.detach(|| std::thread::sleep(std::time::Duration::from_millis(1))),
        }
    };
    if let Some(id) = BY_NAME.read().unwrap_or_else(|p| p.into_inner()).as_ref().and_then(|m| m.get(name)) {
        return Ok(*id);
    }
    let (state, tstate) = setup::new_interpreter(py, name)?;
    let id = state.id(py);
    if id <= 0 {
        return Err("CPython gave the new interpreter no id".into());
    }
    let index = ENTRIES.read().unwrap_or_else(|p| p.into_inner()).iter().flatten().count() + 1;
    crate::metrics::record::interpreter_named(index, name);
    let e = Arc::new(Entry {
        name: name.to_string(),
        index,
        state,
        requests: AtomicU64::new(0),
        prepared: Mutex::new(Vec::new()),
        cost: Mutex::new(Cost::default()),
    });
    {
        let mut all = ENTRIES.write().unwrap_or_else(|p| p.into_inner());
        if all.len() <= id as usize {
            all.resize(id as usize + 1, None);
        }
        all[id as usize] = Some(e);
    }
    // The thread that made it keeps the thread state CPython made with it.
    set_state(id, tstate);
    BY_NAME
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(name.to_string(), id);
    Ok(id)
}

fn set_state(id: Id, t: ThreadState) {
    STATES.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() <= id as usize {
            s.resize(id as usize + 1, None);
        }
        s[id as usize] = Some(t);
    });
}

/// This thread's state in sub-interpreter `id`: a prepared one, else a new one.
fn state_for(py: Python<'_>, e: &Entry, id: Id) -> Option<ThreadState> {
    let known = STATES.with(|s| s.borrow().get(id as usize).copied().flatten());
    if known.is_some() {
        return known;
    }
    let t = match e.prepared.locked().pop() {
        Some(t) => Some(t.adopt()),
        None => e.state.new_state(py),
    };
    if let Some(t) = t {
        set_state(id, t);
    }
    t
}

/// Runs `f` in interpreter `id` (the GIL held), then returns to the
/// interpreter the thread was in. Entering the one it is in costs nothing.
#[inline]
pub fn enter<R>(py: Python<'_>, id: Id, f: impl FnOnce() -> R) -> R {
    if !isolating() {
        return f();
    }
    let now = ThreadState::current(py);
    let target = if id == MAIN {
        // pin_thread gave this thread its main-interpreter state.
        ThreadState::main_of_this_thread()
    } else {
        match entry(id) {
            Some(e) => state_for(py, &e, id),
            None => Some(now),
        }
    };
    match target {
        Some(t) if t != now => t.enter(py, f),
        _ => f(),
    }
}

/// Counts a request served in `id`.
#[inline]
pub fn count_request(id: Id) {
    if !isolating() {
        return;
    }
    if id == MAIN {
        MAIN_REQUESTS.fetch_add(1, Ordering::Relaxed);
        crate::metrics::record::interpreter_request(0);
    } else if let Some(e) = entry(id) {
        e.requests.fetch_add(1, Ordering::Relaxed);
        crate::metrics::record::interpreter_request(e.index);
    }
}

/// This child's interpreters: (name, requests served), main first ("" when isolating).
pub fn list() -> Vec<(String, u64, Cost)> {
    let mut out = vec![(
        names::MAIN_INTERPRETER.to_string(),
        MAIN_REQUESTS.load(Ordering::Relaxed),
        Cost::default(),
    )];
    for e in ENTRIES.read().unwrap_or_else(|p| p.into_inner()).iter().flatten() {
        out.push((e.name.clone(), e.requests.load(Ordering::Relaxed), e.cost.locked().clone()));
    }
    out
}

/// Every sub-interpreter's id, in order of making.
pub fn ids() -> Vec<Id> {
    ENTRIES
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .enumerate()
        .filter(|(_, e)| e.is_some())
        .map(|(i, _)| i as Id)
        .collect()
}

/// An interpreter's name (main_interpreter for main).
pub fn name_of(id: Id) -> String {
    match entry(id) {
        Some(e) => e.name.clone(),
        None => names::MAIN_INTERPRETER.to_string(),
    }
}

/// Records start-up costs of an interpreter made at child start.
pub fn note_cost(id: Id, f: impl FnOnce(&mut Cost)) {
    if let Some(e) = entry(id) {
        f(&mut e.cost.locked());
    }
}

/// Makes `n` thread states in sub-interpreter `id` for the worker threads to
/// come (the GIL held); returns how many were made.
pub fn prepare_states(py: Python<'_>, id: Id, n: usize) -> usize {
    let Some(e) = entry(id) else { return 0 };
    let mut pool = e.prepared.locked();
    for _ in 0..n {
        let Some(t) = e.state.prepare_state(py) else {
            break;
        };
        pool.push(t);
    }
    pool.len()
}

/// Turns isolation on for this child (at child start, before any request).
pub fn set_isolating(on: bool) {
    ISOLATING.store(on, Ordering::Relaxed);
    if on {
        crate::metrics::record::interpreter_named(0, names::MAIN_INTERPRETER);
    }
}
pub use python_path::apply_python_path;
pub use setup::{remember_shared, BOOT};

/// Enters Python on an httpd thread, in the interpreter `name` picks (asked
/// only when this child runs several; see src/interpreters). `refused` is
/// the outcome when that interpreter cannot be had (logged).
#[inline]
pub fn with_python_named<R>(name: impl FnOnce() -> Option<String>, refused: R, f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    with_python(|py| {
        if !crate::interpreters::isolating() {
            return f(py);
        }
        match crate::interpreters::resolve(py, name().as_deref()) {
            Some(id) => crate::interpreters::enter(py, id, || f(py)),
            None => refused,
        }
    })
}

thread_local! {
    /// The interpreter a running PythonImport names (apache.interpreter reports it).
    pub static IMPORTING_FOR: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The interpreter name of the PythonImport this thread is running, if any.
pub fn importing_for() -> Option<String> {
    IMPORTING_FOR.with(|i| i.borrow().clone())
}

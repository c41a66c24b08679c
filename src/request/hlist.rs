//! `req.hlist`: the handler list of the phase running now, positioned at the
//! handler that runs (mod_python's `mp_hlist`). Its attributes describe that
//! entry; past the end of the list they are all None.
use crate::config::HandlerDecl;
use pyo3::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A phase's list of handlers and which one runs: what the dispatcher
/// records on `req` before each call.
#[derive(Clone, Default)]
pub struct Running {
    pub list: Arc<Vec<Arc<HandlerDecl>>>,
    pub index: usize,
}

#[pyclass(name = "mp_hlist", module = "_apache", frozen)]
pub struct HandlerList {
    list: Arc<Vec<Arc<HandlerDecl>>>,
    pos: AtomicUsize,
    /// The request's file, which a wildcard <Directory> entry's directory is resolved against.
    filename: Option<Vec<u8>>,
}

impl HandlerList {
    pub fn new(running: Running, filename: Option<Vec<u8>>) -> Self {
        HandlerList {
            list: running.list,
            pos: AtomicUsize::new(running.index),
            filename,
        }
    }

    fn current(&self) -> Option<&Arc<HandlerDecl>> {
        self.list.get(self.pos.load(Ordering::Relaxed))
    }
}

#[pymethods]
impl HandlerList {
    /// `module::object` as written, or None past the end.
    #[getter]
    fn handler(&self) -> Option<String> {
        self.current().map(|d| d.spec())
    }

    /// The directory the handler was declared in (ending in '/'), the
    /// <Location> path for one declared in a <Location>, or None.
    #[getter]
    fn directory(&self) -> Option<String> {
        self.current()?.hlist_directory(self.filename.as_deref()).map(|s| s.into_owned())
    }

    /// Whether `directory` is a <Location> path (never put on sys.path).
    #[getter]
    fn is_location(&self) -> Option<bool> {
        self.current().map(|d| d.location.is_some())
    }

    /// 1 for PythonHandlerModule entries, whose missing functions are skipped.
    #[getter]
    fn silent(&self) -> Option<i32> {
        self.current().map(|d| d.silent as i32)
    }

    /// The entry of the handler whose req.add_handler call added this one, or None.
    #[getter]
    fn parent(&self) -> Option<HandlerList> {
        let parent = self.current()?.parent.clone()?;
        Some(HandlerList {
            list: Arc::new(vec![parent]),
            pos: AtomicUsize::new(0),
            filename: self.filename.clone(),
        })
    }

    /// Moves this object to the next entry (the dispatcher keeps its own place).
    fn next(&self) {
        let _ = self
            .pos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| (p < self.list.len()).then_some(p + 1));
    }

    fn __repr__(&self) -> String {
        match self.current() {
            None => "{}".into(),
            Some(d) => format!(
                "{{'handler':{:?},'directory':{:?},'is_location':{},'silent':{}}}",
                d.spec(),
                d.hlist_directory(self.filename.as_deref()).unwrap_or_default(),
                if d.location.is_some() { "True" } else { "False" },
                d.silent as i32
            ),
        }
    }
}

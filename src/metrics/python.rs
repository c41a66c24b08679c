//! The built-in `pyrite` module: `pyrite.metrics()` gives Python code the
//! numbers the status page shows, as dicts and lists (the `?json` document).
use pyo3::prelude::*;

/// pyrite.metrics() -> dict: totals, children, requests in progress and the
/// 10 s / 5 min series, as on the status page's `?json`.
#[pyfunction]
fn metrics(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    // Reading the shared memory and /proc needs no GIL.
    let text = py.detach(|| super::snapshot::take().map(|s| super::json::render(&s)));
    let Some(text) = text else {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "mod_pyrite metrics are not available in this process",
        ));
    };
    py.import("json")?.call_method1("loads", (text,))
}

#[pymodule]
pub fn pyrite(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(metrics, m)?)?;
    m.add("version", crate::VERSION)?;
    Ok(())
}

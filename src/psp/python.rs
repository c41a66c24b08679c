//! The PSP translator as functions of `_apache` (mod_python's `_psp` module,
//! `python/_psp.py`, re-exports them under mod_python's names).
//!
//! A malformed template raises `SyntaxError` carrying the template's file and
//! line (what Python's own traceback printing shows); a file that cannot be
//! read raises `OSError` (FileNotFoundError, PermissionError...).
use super::{PspError, Translation};
use pyo3::exceptions::{PyOSError, PySyntaxError};
use pyo3::prelude::*;
use std::path::{Path, PathBuf};

fn to_py(e: PspError) -> PyErr {
    match e.errno {
        Some(errno) => PyOSError::new_err((errno, e.to_string())),
        None => PySyntaxError::new_err((e.to_string(), (e.file, e.line.max(1), 1, Option::<String>::None))),
    }
}

/// `dir` + `filename` as mod_python's `parse` joins them (an absolute name stands alone).
fn template_path(filename: &str, dir: Option<&str>) -> PathBuf {
    match dir {
        Some(d) if !Path::new(filename).is_absolute() => Path::new(d).join(filename),
        _ => PathBuf::from(filename),
    }
}

fn translate(py: Python<'_>, filename: &str, dir: Option<&str>) -> PyResult<Translation> {
    let path = template_path(filename, dir);
    let include_dir = dir.map(PathBuf::from);
    // Reading files and translating needs no Python: let other threads run.
    py.detach(|| super::translate_file(&path, include_dir.as_deref())).map_err(to_py)
}

/// `_psp.parse(filename[, dir])`: the Python source of a template file.
#[pyfunction]
#[pyo3(signature = (filename, dir=None))]
fn _psp_parse(py: Python<'_>, filename: &str, dir: Option<&str>) -> PyResult<String> {
    translate(py, filename, dir).map(|t| t.source)
}

/// `(source, [included files])` of a template file, for caches that must
/// notice an edited include.
#[pyfunction]
#[pyo3(signature = (filename, dir=None))]
fn _psp_translate(py: Python<'_>, filename: &str, dir: Option<&str>) -> PyResult<(String, Vec<String>)> {
    let t = translate(py, filename, dir)?;
    Ok((t.source, t.includes.iter().map(|p| p.display().to_string()).collect()))
}

/// `_psp.parsestring(string[, dir])`: the Python source of a template held in a string.
#[pyfunction]
#[pyo3(signature = (string, dir=None))]
fn _psp_parsestring(py: Python<'_>, string: &Bound<'_, PyAny>, dir: Option<&str>) -> PyResult<String> {
    // mod_python took bytes; str is what Python 3 code passes.
    let text: String = match string.extract::<String>() {
        Ok(s) => s,
        Err(_) => {
            let b: Vec<u8> = string.extract()?;
            String::from_utf8(b).map_err(|_| pyo3::exceptions::PyValueError::new_err("PSP template bytes are not UTF-8"))?
        }
    };
    let dir = dir.map(PathBuf::from);
    py.detach(|| super::translate_string(&text, dir.as_deref()))
        .map(|t| t.source)
        .map_err(to_py)
}

/// Adds the PSP functions to the `_apache` module.
pub fn add_to(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_psp_parse, m)?)?;
    m.add_function(wrap_pyfunction!(_psp_translate, m)?)?;
    m.add_function(wrap_pyfunction!(_psp_parsestring, m)?)?;
    Ok(())
}

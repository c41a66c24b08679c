//! `apache.table`: a Python mapping over an apr_table_t (case-insensitive,
//! ordered, a key may repeat). Tables of a request raise once it has ended.
use super::convert;
use super::life::Life;
use crate::ffi::{self, raw, table as t};
use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use std::sync::Arc;

enum Owner {
    /// Lives in a request's pool: valid while the request lives.
    Request(Arc<Life>),
    /// A table made from Python: it owns its pool.
    Own(*mut raw::apr_pool_t),
}

#[pyclass(name = "table", module = "_apache", mapping, subclass)]
pub struct Table {
    t: *mut raw::apr_table_t,
    owner: Owner,
}

// SAFETY: every access goes through `table()`, which for request tables checks
// liveness and the serving thread; own tables are used only under the GIL.
unsafe impl Send for Table {}
unsafe impl Sync for Table {}

impl Drop for Table {
    fn drop(&mut self) {
        if let Owner::Own(pool) = self.owner {
            // SAFETY: the pool was created for this table alone and nothing else refers to it.
            unsafe { raw::apr_pool_destroy(pool) };
        }
    }
}

fn nul_err(_: t::NulError) -> PyErr {
    PyValueError::new_err("table keys and values must not contain NUL")
}

impl Table {
    /// A view of a request's table.
    pub fn of_request(life: Arc<Life>, tbl: *mut raw::apr_table_t) -> Self {
        Table {
            t: tbl,
            owner: Owner::Request(life),
        }
    }

    /// A new table with its own pool.
    pub fn owned() -> PyResult<Self> {
        let mut pool: *mut raw::apr_pool_t = std::ptr::null_mut();
        // SAFETY: a new top-level pool; APR is initialised by httpd.
        let rv = unsafe { raw::apr_pool_create_ex(&mut pool, std::ptr::null_mut(), None, std::ptr::null_mut()) };
        if rv != 0 || pool.is_null() {
            return Err(PyRuntimeError::new_err("could not allocate a pool for the table"));
        }
        // SAFETY: pool is live and owned by the new table.
        let tbl = unsafe { t::make(pool, 8) };
        Ok(Table {
            t: tbl,
            owner: Owner::Own(pool),
        })
    }

    /// A new owned table filled with `pairs`.
    pub fn from_pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: impl IntoIterator<Item = (K, V)>) -> PyResult<Self> {
        let tb = Self::owned()?;
        for (k, v) in pairs {
            // SAFETY: tb.t is live (owned).
            unsafe { t::add(tb.t, k.as_ref(), v.as_ref()) }.map_err(nul_err)?;
        }
        Ok(tb)
    }

    #[inline]
    fn table(&self) -> PyResult<*mut raw::apr_table_t> {
        if let Owner::Request(life) = &self.owner {
            life.check()?;
        }
        Ok(self.t)
    }

    fn entries<'py>(&self, py: Python<'py>) -> PyResult<Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
        let tb = self.table()?;
        // SAFETY: tb is live (checked above) and not modified during the loop.
        let out = unsafe { t::entries(tb) }
            .iter()
            .map(|e| unsafe { (convert::opt_text(py, e.key), convert::opt_text(py, e.val)) })
            .collect();
        Ok(out)
    }

    fn fill(&self, other: &Bound<'_, PyAny>, add: bool) -> PyResult<()> {
        let items: Bound<'_, PyAny> = if let Ok(d) = other.cast::<PyDict>() {
            d.items().into_any()
        } else if other.hasattr("items")? {
            other.call_method0("items")?
        } else if other.hasattr("keys")? {
            // A mapping with only keys() and [] (mod_python's rule, dict.update's too).
            for k in other.call_method0("keys")?.try_iter()? {
                let k = k?;
                let v = as_text(&other.get_item(&k)?)?;
                let k = as_text(&k)?;
                if add {
                    self.add(&k, &v)?;
                } else {
                    self.__setitem__(k.py(), &k, &v)?;
                }
            }
            return Ok(());
        } else {
            other.clone()
        };
        for item in items.try_iter()? {
            let item = item?;
            let pair = item
                .cast::<PyTuple>()
                .map_err(|_| PyTypeError::new_err("expected (key, value) pairs"))?;
            if pair.len() != 2 {
                return Err(PyTypeError::new_err("expected (key, value) pairs"));
            }
            let (k, v) = (as_text(&pair.get_item(0)?)?, as_text(&pair.get_item(1)?)?);
            if add {
                self.add(&k, &v)?;
            } else {
                self.__setitem__(k.py(), &k, &v)?;
            }
        }
        Ok(())
    }
}

#[pymethods]
impl Table {
    #[new]
    #[pyo3(signature = (init=None))]
    fn py_new(init: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let tb = Self::owned()?;
        if let Some(i) = init {
            tb.fill(i, true)?;
        }
        Ok(tb)
    }

    /// One value, or a list of values when the key repeats.
    fn __getitem__<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let tb = self.table()?;
        let k = convert::header_bytes(key, "table key")?;
        // SAFETY: tb is live.
        let vals = unsafe { t::get_all(tb, &k) };
        match vals.len() {
            0 => Err(PyKeyError::new_err(key.clone().unbind())),
            1 => Ok(convert::text(py, vals[0])),
            _ => Ok(PyList::new(py, vals.iter().map(|v| convert::text(py, v)))?.into_any()),
        }
    }

    fn __setitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        // A header change after a flush must not reach the flushed head.
        crate::request::held_flush::before_head_change(py);
        let tb = self.table()?;
        let k = convert::header_bytes(key, "table key")?;
        let v = convert::header_bytes(value, "table value")?;
        // SAFETY: tb is live.
        unsafe { t::set(tb, &k, &v) }.map_err(nul_err)
    }

    fn __delitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        // A header change after a flush must not reach the flushed head.
        crate::request::held_flush::before_head_change(py);
        let tb = self.table()?;
        let k = convert::header_bytes(key, "table key")?;
        // SAFETY: tb is live.
        if unsafe { t::get_all(tb, &k) }.is_empty() {
            return Err(PyKeyError::new_err(key.clone().unbind()));
        }
        unsafe { t::unset(tb, &k) }.map_err(nul_err)
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let tb = self.table()?;
        let Ok(k) = convert::header_bytes(key, "table key") else {
            return Ok(false);
        };
        // SAFETY: tb is live.
        Ok(!unsafe { t::get_all(tb, &k) }.is_empty())
    }

    fn __len__(&self) -> PyResult<usize> {
        // SAFETY: checked live by table().
        Ok(unsafe { t::len(self.table()?) })
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.keys(py)?.into_any().try_iter()?.into_any())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let d = PyDict::new(py);
        for (k, v) in self.entries(py)? {
            d.set_item(k, v)?;
        }
        Ok(d.repr()?.to_string())
    }

    /// Appends a value, keeping those already stored under the key.
    fn add(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let tb = self.table()?;
        let k = convert::header_bytes(key, "table key")?;
        let v = convert::header_bytes(value, "table value")?;
        // SAFETY: tb is live.
        unsafe { t::add(tb, &k, &v) }.map_err(nul_err)
    }

    #[pyo3(signature = (key, default=None))]
    fn get<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>, default: Option<Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        match self.__getitem__(py, key) {
            Ok(v) => Ok(v),
            Err(e) if e.is_instance_of::<PyKeyError>(py) => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
            Err(e) => Err(e),
        }
    }

    /// Every key in order (a repeated key appears once per value, as in mod_python).
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.entries(py)?.into_iter().map(|(k, _)| k))
    }

    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.entries(py)?.into_iter().map(|(_, v)| v))
    }

    fn items<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let pairs: Vec<Bound<'py, PyTuple>> = self
            .entries(py)?
            .into_iter()
            .map(|(k, v)| PyTuple::new(py, [k, v]))
            .collect::<PyResult<_>>()?;
        PyList::new(py, pairs)
    }

    /// Removes and returns the last (key, value) entry; KeyError when empty.
    fn popitem<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let entries = self.entries(py)?;
        let Some((k, v)) = entries.last().cloned() else {
            return Err(PyKeyError::new_err("popitem(): table is empty"));
        };
        // Only that one entry goes: other values of a repeated key stay.
        let mut same_key = Vec::new();
        for (ek, ev) in &entries {
            if ek.eq(&k)? {
                same_key.push(ev.clone());
            }
        }
        self.__delitem__(py, &k)?;
        for ev in &same_key[..same_key.len() - 1] {
            self.add(&k, ev)?;
        }
        PyTuple::new(py, [k, v])
    }

    fn clear(&self) -> PyResult<()> {
        // SAFETY: checked live by table().
        unsafe { t::clear(self.table()?) };
        Ok(())
    }

    fn update(&self, other: &Bound<'_, PyAny>) -> PyResult<()> {
        // mod_python asks a non-mapping for its keys(): update(None) is an AttributeError.
        if !other.hasattr("keys")? && other.try_iter().is_err() {
            return Err(pyo3::exceptions::PyAttributeError::new_err(format!(
                "'{}' object has no attribute 'keys'",
                other.get_type().name()?
            )));
        }
        self.fill(other, false)
    }

    #[pyo3(signature = (key, default=None))]
    fn setdefault<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>, default: Option<Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        if self.__contains__(key)? {
            return self.__getitem__(py, key);
        }
        let d = default.unwrap_or_else(|| pyo3::types::PyString::new(py, "").into_any());
        self.__setitem__(py, key, &d)?;
        self.__getitem__(py, key)
    }

    #[pyo3(signature = (key, *default))]
    fn pop<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>, default: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
        match self.__getitem__(py, key) {
            Ok(v) => {
                self.__delitem__(py, key)?;
                Ok(v)
            }
            Err(e) if e.is_instance_of::<PyKeyError>(py) && !default.is_empty() => default.get_item(0),
            Err(e) => Err(e),
        }
    }

    /// A new, independent table with the same entries.
    fn copy(&self) -> PyResult<Table> {
        let tb = self.table()?;
        // SAFETY: tb is live; the entries are copied into the new table's pool.
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = unsafe { t::entries(tb) }
            .iter()
            .map(|e| unsafe {
                (
                    ffi::cstr(e.key).unwrap_or_default().to_vec(),
                    ffi::cstr(e.val).unwrap_or_default().to_vec(),
                )
            })
            .collect();
        Table::from_pairs(pairs)
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let mine = self.items(py)?;
        if let Ok(o) = other.cast::<Table>() {
            return mine.eq(o.borrow().items(py)?);
        }
        if let Ok(d) = other.cast::<PyDict>() {
            let as_dict = PyDict::new(py);
            for (k, v) in self.entries(py)? {
                as_dict.set_item(k, v)?;
            }
            return as_dict.eq(d);
        }
        Ok(false)
    }
}

/// A key or value met while filling a table from a mapping: str and bytes as
/// they are, anything else as str() gives it, as mod_python merges mappings
/// (its suite builds `apache.table({1: 1})`). Assigning one item stays strict.
fn as_text<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if obj.is_instance_of::<pyo3::types::PyString>() || obj.is_instance_of::<pyo3::types::PyBytes>() {
        return Ok(obj.clone());
    }
    Ok(obj.str()?.into_any())
}

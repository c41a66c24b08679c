//! `apache.table`: a Python mapping over an apr_table_t (case-insensitive,
//! ordered, a key may repeat). Tables of a request raise once it has ended.
use super::convert;
use super::life::Life;
use crate::ffi::held::Tied;
use crate::ffi::table as t;
use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use std::sync::Arc;

enum Owner {
    /// Lives in a request's pool: valid while the request lives.
    Request(Arc<Life>, Tied<t::Table>),
    /// A table made from Python: it owns its pool.
    Own(t::OwnedTable),
}

#[pyclass(name = "table", module = "_apache", mapping, subclass)]
pub struct Table {
    owner: Owner,
}

fn nul_err(_: t::NulError) -> PyErr {
    PyValueError::new_err("table keys and values must not contain NUL")
}

impl Table {
    /// A view of a request's (or its connection's) table, valid while `life` is.
    pub fn of_request(life: Arc<Life>, table: Tied<t::Table>) -> Self {
        Table {
            owner: Owner::Request(life, table),
        }
    }

    /// A new table with its own pool.
    pub fn owned() -> PyResult<Self> {
        let own = t::OwnedTable::new().ok_or_else(|| PyRuntimeError::new_err("could not allocate a pool for the table"))?;
        Ok(Table { owner: Owner::Own(own) })
    }

    /// A new owned table filled with `pairs`.
    pub fn from_pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: impl IntoIterator<Item = (K, V)>) -> PyResult<Self> {
        let tb = Self::owned()?;
        {
            let t = tb.table()?;
            for (k, v) in pairs {
                t.add(k.as_ref(), v.as_ref()).map_err(nul_err)?;
            }
        }
        Ok(tb)
    }

    /// The table, if it may be used from here and now.
    #[inline]
    fn table(&self) -> PyResult<&t::Table> {
        match &self.owner {
            Owner::Request(life, tied) => life.tied(tied),
            Owner::Own(own) => Ok(own.get()),
        }
    }

    fn entries<'py>(&self, py: Python<'py>) -> PyResult<Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
        let out = self
            .table()?
            .entries()
            .into_iter()
            .map(|(k, v)| (convert::opt_bytes_text(py, k), convert::opt_bytes_text(py, v)))
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
        let vals = tb.get_all(&k);
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
        tb.set(&k, &v).map_err(nul_err)
    }

    fn __delitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        // A header change after a flush must not reach the flushed head.
        crate::request::held_flush::before_head_change(py);
        let tb = self.table()?;
        let k = convert::header_bytes(key, "table key")?;
        if tb.get_all(&k).is_empty() {
            return Err(PyKeyError::new_err(key.clone().unbind()));
        }
        tb.unset(&k).map_err(nul_err)
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let tb = self.table()?;
        let Ok(k) = convert::header_bytes(key, "table key") else {
            return Ok(false);
        };
        Ok(!tb.get_all(&k).is_empty())
    }

    fn __len__(&self) -> PyResult<usize> {
        Ok(self.table()?.len())
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
        tb.add(&k, &v).map_err(nul_err)
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
        self.table()?.clear();
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
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = self
            .table()?
            .entries()
            .into_iter()
            .map(|(k, v)| (k.unwrap_or_default().to_vec(), v.unwrap_or_default().to_vec()))
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

//! `mod_ssl.is_https()` and `mod_ssl.var_lookup(name)` in an environ, as
//! mod_wsgi offers them (an access script can check a client certificate).
use crate::ffi;
use crate::request::convert::latin1;
use crate::request::life::Life;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;

/// The request the two callables ask about; they raise once it has ended.
#[pyclass(name = "SslView", module = "mod_wsgi")]
struct SslView {
    life: Arc<Life>,
}

#[pymethods]
impl SslView {
    /// 1 for a TLS connection, else 0 (an int, as mod_wsgi answers).
    fn ssl_is_https(&self) -> PyResult<i32> {
        Ok(ffi::ssl::is_https(self.life.request()?) as i32)
    }

    /// An SSL variable as str, or None.
    fn ssl_var_lookup<'py>(&self, py: Python<'py>, name: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let r = self.life.request()?;
        let name: Vec<u8> = match name.extract::<String>() {
            Ok(s) => s
                .chars()
                .map(|c| u8::try_from(c as u32))
                .collect::<Result<_, _>>()
                .map_err(|_| pyo3::exceptions::PyTypeError::new_err("the variable name must be latin-1 text"))?,
            Err(_) => name.extract::<Vec<u8>>()?,
        };
        Ok(ffi::ssl::var(r, &name).map(|v| latin1(py, &v)))
    }
}

/// Adds `mod_ssl.is_https` and `mod_ssl.var_lookup` to `env`.
pub fn add_to_environ(py: Python<'_>, env: &Bound<'_, PyDict>, life: Arc<Life>) -> PyResult<()> {
    let view = Bound::new(py, SslView { life })?;
    env.set_item("mod_ssl.is_https", view.getattr("ssl_is_https")?)?;
    env.set_item("mod_ssl.var_lookup", view.getattr("ssl_var_lookup")?)?;
    Ok(())
}

//! `req.connection`: the client connection a request arrived on.
use super::convert;
use super::life::Life;
use super::server::Server;
use super::table::Table;
use crate::ffi::{log, raw};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::sync::Arc;

#[pyclass(name = "mp_conn", module = "_apache")]
pub struct Connection {
    life: Arc<Life>,
}

impl Connection {
    pub fn new(life: Arc<Life>) -> Self {
        Connection { life }
    }

    /// The conn_rec; usable while the request that handed it out lives.
    fn c(&self) -> PyResult<*mut raw::conn_rec> {
        let r = self.life.get()?;
        // SAFETY: r is live, and its connection outlives it.
        Ok(unsafe { (*r).connection })
    }
}

/// (ip, port) of an APR socket address.
///
/// # Safety
/// `sa` is NULL or a live apr_sockaddr_t.
unsafe fn addr_tuple<'py>(py: Python<'py>, sa: *mut raw::apr_sockaddr_t) -> PyResult<Bound<'py, PyAny>> {
    if sa.is_null() {
        return Ok(py.None().into_bound(py));
    }
    let mut ip: *mut std::ffi::c_char = std::ptr::null_mut();
    unsafe { raw::apr_sockaddr_ip_get(&mut ip, sa) };
    let host = unsafe { convert::opt_text(py, ip) };
    let port = unsafe { (*sa).port } as i64;
    Ok(PyTuple::new(py, [host, port.into_pyobject(py)?.into_any()])?.into_any())
}

#[pymethods]
impl Connection {
    /// The client's address (the peer of the TCP connection).
    #[getter]
    fn client_ip<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(unsafe { convert::opt_text(py, (*self.c()?).client_ip) })
    }
    /// mod_python's older name for client_ip.
    #[getter]
    fn remote_ip<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.client_ip(py)
    }
    #[getter]
    fn client_addr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        unsafe { addr_tuple(py, (*self.c()?).client_addr) }
    }
    #[getter]
    fn remote_addr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.client_addr(py)
    }
    #[getter]
    fn local_ip<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(unsafe { convert::opt_text(py, (*self.c()?).local_ip) })
    }
    #[getter]
    fn local_addr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        unsafe { addr_tuple(py, (*self.c()?).local_addr) }
    }
    #[getter]
    fn local_host<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(unsafe { convert::opt_text(py, (*self.c()?).local_host) })
    }
    #[getter]
    fn remote_host<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(unsafe { convert::opt_text(py, (*self.c()?).remote_host) })
    }
    #[getter]
    fn remote_logname<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(unsafe { convert::opt_text(py, (*self.c()?).remote_logname) })
    }
    /// A number unique among the connections open at one time.
    #[getter]
    fn id(&self) -> PyResult<i64> {
        Ok(unsafe { (*self.c()?).id })
    }
    #[getter]
    fn keepalive(&self) -> PyResult<i32> {
        Ok(unsafe { (*self.c()?).keepalive } as i32)
    }
    /// How many requests this connection has served before the current one.
    #[getter]
    fn keepalives(&self) -> PyResult<i32> {
        Ok(unsafe { (*self.c()?).keepalives })
    }
    /// Whether httpd has seen the client go away.
    #[getter]
    fn aborted(&self) -> PyResult<bool> {
        Ok(unsafe { (*self.c()?).aborted } != 0)
    }
    /// The connection's pool: values and cleanups that last across its keep-alive requests.
    #[getter]
    fn pool(&self, py: Python<'_>) -> PyResult<Py<super::pool::Pool>> {
        let c = self.c()?;
        // SAFETY: c is live; its pool is cleared by a worker thread at connection end.
        unsafe { super::pool::of(py, (*c).pool) }
    }

    #[getter]
    fn base_server(&self) -> PyResult<Server> {
        Ok(Server::new(unsafe { (*self.c()?).base_server }))
    }
    #[getter]
    fn notes(&self) -> PyResult<Table> {
        let c = self.c()?;
        Ok(Table::of_request(self.life.clone(), unsafe { (*c).notes }))
    }

    #[pyo3(signature = (message, level=log::APLOG_ERR as i32))]
    fn log_error(&self, message: &Bound<'_, PyAny>, level: i32) -> PyResult<()> {
        let r = self.life.get()?;
        log::rerror(r, (level & 0xf) as u32, &message.str()?.to_cow()?);
        Ok(())
    }
}

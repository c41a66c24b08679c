//! `req.connection` (the client connection a request arrived on) and the
//! object a PythonConnectionHandler gets: attributes, and raw reads and
//! writes through the connection's filters.
use super::convert;
use super::life::Life;
use super::server::Server;
use super::table::Table;
use crate::ffi::brigade::{Brigade, Front};
use crate::ffi::{log, raw, SendPtr};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use std::sync::Arc;

// No module: type(req.connection) prints as <class 'mp_conn'>, as in mod_python.
#[pyclass(name = "mp_conn")]
pub struct Connection {
    life: Arc<Life>,
    c: SendPtr<raw::conn_rec>,
}

impl Connection {
    /// A view of `c` that lives as long as `life` (a request's, or a
    /// connection handler's call).
    pub fn new(life: Arc<Life>, c: *mut raw::conn_rec) -> Self {
        Connection { life, c: SendPtr(c) }
    }

    /// The conn_rec, while the request or handler that handed it out lives.
    fn c(&self) -> PyResult<*mut raw::conn_rec> {
        self.life.check()?;
        Ok(self.c.0)
    }
}

/// The brigades conn.read/readline and conn.write use, made once in the
/// connection's pool and kept in mod_pyrite's slot of c->conn_config: every
/// view of the connection shares them, so a read's leftovers (the rest of a
/// line longer than asked for) wait for the next read, and repeated calls do
/// not allocate from the connection pool.
#[derive(Clone, Copy)]
struct ConnIo {
    input: Brigade,
    output: Brigade,
}

/// # Safety
/// `c` is a live connection used only by the calling thread.
unsafe fn conn_io(c: *mut raw::conn_rec) -> ConnIo {
    unsafe {
        let slot = crate::ffi::module_config((*c).conn_config) as *mut ConnIo;
        if let Some(io) = slot.as_ref() {
            return *io;
        }
        let io = ConnIo {
            input: Brigade::new((*c).pool, (*c).bucket_alloc),
            output: Brigade::new((*c).pool, (*c).bucket_alloc),
        };
        let p = crate::ffi::pool::adopt((*c).pool, io);
        crate::ffi::set_module_config((*c).conn_config, p as *mut std::ffi::c_void);
        io
    }
}

/// Reads from the connection's input filters (GIL released): at most `max`
/// bytes, or one line of at most `max` bytes. An empty result means the
/// client closed the connection.
fn read_conn(py: Python<'_>, c: *mut raw::conn_rec, max: usize, line: bool) -> PyResult<Vec<u8>> {
    let cp = SendPtr(c);
    // SAFETY: c is live (checked by the caller's Life) and used only by this thread.
    let res = crate::interp::blocking(py, move || unsafe {
        let cp = cp;
        let c = cp.0;
        let bb = conn_io(c).input;
        let mode = if line {
            raw::ap_input_mode_t_AP_MODE_GETLINE
        } else {
            raw::ap_input_mode_t_AP_MODE_READBYTES
        };
        let mut out = Vec::new();
        while out.len() < max {
            while matches!(bb.front(), Front::Flush | Front::Meta) {
                bb.drop_first();
            }
            if bb.is_empty() {
                let want = (max - out.len()).min(64 * 1024) as raw::apr_off_t;
                let rv = raw::ap_get_brigade((*c).input_filters, bb.0, mode, raw::apr_read_type_e_APR_BLOCK_READ, want);
                if rv == raw::APR_EOF as i32 {
                    break;
                }
                if rv != raw::APR_SUCCESS as i32 {
                    bb.cleanup();
                    return Err(rv);
                }
                continue;
            }
            if bb.first_is_eos() {
                bb.cleanup();
                break;
            }
            bb.take_data(max - out.len(), line, &mut out)?;
            // Readbytes returns what is there (at least one byte); a line ends at its newline.
            if !line || out.ends_with(b"\n") {
                break;
            }
        }
        Ok(out)
    });
    res.map_err(|rv| PyOSError::new_err(format!("reading from the connection failed ({})", crate::ffi::apr_error(rv))))
}

/// (ip, port) of an APR socket address.
///
/// # Safety
/// `sa` is NULL or a live apr_sockaddr_t.
pub(crate) unsafe fn addr_tuple<'py>(py: Python<'py>, sa: *mut raw::apr_sockaddr_t) -> PyResult<Bound<'py, PyAny>> {
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
    /// Whether a double reverse DNS lookup was made: 0 not tried, 1 it matched, -1 it failed.
    #[getter]
    fn double_reverse(&self) -> PyResult<i32> {
        // SAFETY: c() checked the connection is live.
        Ok(unsafe { (*self.c()?).double_reverse() } as i32)
    }
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
        let c = self.c()?;
        let text = message.str()?;
        match self.life.get() {
            Ok(r) => log::rerror(r, (level & 0xf) as u32, &text.to_cow()?),
            Err(_) => log::cerror(c, (level & 0xf) as u32, &text.to_cow()?),
        }
        Ok(())
    }

    /// At most `length` bytes from the client, waiting until at least one
    /// arrives; with no length, everything until the client closes. b'' once
    /// the client has closed.
    #[pyo3(signature = (length=-1))]
    fn read<'py>(&self, py: Python<'py>, length: i64) -> PyResult<Bound<'py, PyBytes>> {
        let c = self.c()?;
        let data = if length < 0 {
            let mut all = Vec::new();
            loop {
                let part = read_conn(py, c, 64 * 1024, false)?;
                if part.is_empty() {
                    break;
                }
                all.extend_from_slice(&part);
            }
            all
        } else {
            read_conn(py, c, length as usize, false)?
        };
        Ok(PyBytes::new(py, &data))
    }

    /// One line from the client including its newline (at most `length` bytes).
    #[pyo3(signature = (length=-1))]
    fn readline<'py>(&self, py: Python<'py>, length: i64) -> PyResult<Bound<'py, PyBytes>> {
        let c = self.c()?;
        let max = if length < 0 { usize::MAX } else { length as usize };
        Ok(PyBytes::new(py, &read_conn(py, c, max, true)?))
    }

    /// Sends `data` (str as UTF-8, or bytes) to the client at once, bypassing
    /// the HTTP protocol (for connection handlers).
    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let c = self.c()?;
        let bytes = convert::body_bytes(data)?;
        let cp = SendPtr(c);
        let d = &bytes[..];
        // SAFETY: c is live and used only by this thread; `d` outlives the call.
        let rv = crate::interp::blocking(py, move || unsafe {
            let cp = cp;
            let c = cp.0;
            let bb = conn_io(c).output;
            bb.append(d);
            bb.append_flush();
            let rv = raw::ap_pass_brigade((*c).output_filters, bb.0);
            bb.cleanup();
            rv
        });
        if rv != raw::APR_SUCCESS as i32 {
            return Err(PyOSError::new_err("Write failed, client closed connection."));
        }
        Ok(())
    }
}

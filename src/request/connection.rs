//! `req.connection` (the client connection a request arrived on) and the
//! object a PythonConnectionHandler gets: attributes, and raw reads and
//! writes through the connection's filters.
use super::convert;
use super::life::Life;
use super::server::Server;
use super::table::Table;
use crate::ffi::brigade::Front;
use crate::ffi::connection::Connection as Conn;
use crate::ffi::held::Tied;
use crate::ffi::{log, raw};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use std::sync::Arc;

// No module: type(req.connection) prints as <class 'mp_conn'>, as in mod_python.
#[pyclass(name = "mp_conn")]
pub struct Connection {
    life: Arc<Life>,
    c: Tied<Conn>,
}

impl Connection {
    /// A connection handler's view of its connection, lent with `life` for
    /// the handler's call (`ffi::held::lend_for_call`).
    pub fn new(life: Arc<Life>, c: Tied<Conn>) -> Self {
        Connection { life, c }
    }

    /// `req.connection`: a view of the connection of `life`'s request.
    pub fn of_request(life: Arc<Life>) -> PyResult<Self> {
        let c = life.tie(|r| r.connection())?;
        Ok(Connection { life, c })
    }

    /// The connection, while the request or handler that handed it out lives.
    fn c(&self) -> PyResult<&Conn> {
        self.life.tied(&self.c)
    }
}

/// Reads from the connection's input filters (GIL released): at most `max`
/// bytes, or one line of at most `max` bytes. An empty result means the
/// client closed the connection.
fn read_conn(py: Python<'_>, c: &Conn, max: usize, line: bool) -> PyResult<Vec<u8>> {
    let c = c.on_this_thread();
    let res = crate::interp::blocking(py, move || {
        let bb = c.io_brigades().0;
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
                let rv = c.get_input(bb, mode, raw::apr_read_type_e_APR_BLOCK_READ, want);
                if rv == raw::APR_EOF as i32 {
                    break;
                }
                if rv != raw::APR_SUCCESS as i32 {
                    bb.cleanup();
                    return Err(rv);
                }
                continue;
            }
            if bb.front() == Front::Eos {
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

/// (ip, port) of one end of the connection, None when unknown.
pub(crate) fn addr_pair<'py>(py: Python<'py>, addr: Option<(Option<&[u8]>, u16)>) -> PyResult<Bound<'py, PyAny>> {
    let Some((ip, port)) = addr else {
        return Ok(py.None().into_bound(py));
    };
    let host = convert::opt_bytes_text(py, ip);
    Ok(PyTuple::new(py, [host, (port as i64).into_pyobject(py)?.into_any()])?.into_any())
}

#[pymethods]
impl Connection {
    /// The client's address (the peer of the TCP connection).
    #[getter]
    fn client_ip<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(convert::opt_bytes_text(py, self.c()?.client_ip()))
    }
    /// mod_python's older name for client_ip.
    #[getter]
    fn remote_ip<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.client_ip(py)
    }
    #[getter]
    fn client_addr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        addr_pair(py, self.c()?.client_addr())
    }
    #[getter]
    fn remote_addr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.client_addr(py)
    }
    #[getter]
    fn local_ip<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(convert::opt_bytes_text(py, self.c()?.local_ip()))
    }
    #[getter]
    fn local_addr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        addr_pair(py, self.c()?.local_addr())
    }
    #[getter]
    fn local_host<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(convert::opt_bytes_text(py, self.c()?.local_host()))
    }
    #[getter]
    fn remote_host<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(convert::opt_bytes_text(py, self.c()?.remote_host()))
    }
    #[getter]
    fn remote_logname<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(convert::opt_bytes_text(py, self.c()?.remote_logname()))
    }
    /// A number unique among the connections open at one time.
    /// Whether a double reverse DNS lookup was made: 0 not tried, 1 it matched, -1 it failed.
    #[getter]
    fn double_reverse(&self) -> PyResult<i32> {
        Ok(self.c()?.rec().double_reverse())
    }
    #[getter]
    fn id(&self) -> PyResult<i64> {
        Ok(self.c()?.rec().id)
    }
    #[getter]
    fn keepalive(&self) -> PyResult<i32> {
        Ok(self.c()?.rec().keepalive as i32)
    }
    /// How many requests this connection has served before the current one.
    #[getter]
    fn keepalives(&self) -> PyResult<i32> {
        Ok(self.c()?.rec().keepalives)
    }
    /// Whether httpd has seen the client go away.
    #[getter]
    fn aborted(&self) -> PyResult<bool> {
        Ok(self.c()?.rec().aborted != 0)
    }
    /// The connection's pool: values and cleanups that last across its keep-alive requests.
    #[getter]
    fn pool(&self, py: Python<'_>) -> PyResult<Py<super::pool::Pool>> {
        // The connection's pool is cleared by a worker thread at connection end.
        super::pool::of_pool(py, self.c()?.pool())
    }

    #[getter]
    fn base_server(&self) -> PyResult<Server> {
        Ok(Server::of(self.c()?.base_server()))
    }
    #[getter]
    fn notes(&self) -> PyResult<Table> {
        Ok(Table::of_request(self.life.clone(), self.life.tie_from(&self.c, |c| c.notes())?))
    }

    #[pyo3(signature = (message, level=log::APLOG_ERR as i32))]
    fn log_error(&self, message: &Bound<'_, PyAny>, level: i32) -> PyResult<()> {
        let c = self.c()?;
        let text = message.str()?;
        match self.life.request() {
            Ok(r) => r.log((level & 0xf) as u32, &text.to_cow()?),
            Err(_) => c.log((level & 0xf) as u32, &text.to_cow()?),
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
        let d = &bytes[..];
        let c = c.on_this_thread();
        let rv = crate::interp::blocking(py, move || {
            let bb = c.io_brigades().1;
            bb.append(d);
            bb.append_flush();
            let rv = c.pass_output(bb);
            bb.cleanup();
            rv
        });
        if rv != raw::APR_SUCCESS as i32 {
            return Err(PyOSError::new_err("Write failed, client closed connection."));
        }
        Ok(())
    }
}

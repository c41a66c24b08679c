//! wsgi.file_wrapper: a file returned this way goes out through httpd's file
//! buckets (sendfile) when it is a real file; otherwise it is read in blocks.
use pyo3::prelude::*;

#[pyclass(name = "FileWrapper", module = "mod_wsgi")]
pub struct FileWrapper {
    pub filelike: Py<PyAny>,
    pub blksize: usize,
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, blksize=8192))]
    fn new(filelike: Py<PyAny>, blksize: usize) -> Self {
        FileWrapper {
            filelike,
            blksize: blksize.max(1),
        }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let block = self.filelike.bind(py).call_method1("read", (self.blksize,))?;
        Ok(if block.is_truthy()? { Some(block) } else { None })
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let f = self.filelike.bind(py);
        if f.hasattr("close")? {
            f.call_method0("close")?;
        }
        Ok(())
    }
}

/// The OS file descriptor and current position of a real, regular file, or
/// None when the object is anything else (then it is read in blocks).
/// The descriptor is borrowed from the file object, so it stays open while `f` is held.
pub fn regular_file<'a>(f: &'a Bound<'_, PyAny>) -> Option<(std::os::fd::BorrowedFd<'a>, i64, i64)> {
    use std::os::fd::AsRawFd;
    let fd = crate::ffi::sendfile::python_file_fd(f)?;
    let pos: i64 = f.call_method0("tell").ok()?.extract().ok()?;
    let size = crate::ffi::sendfile::regular_file_size(fd.as_raw_fd())?;
    Some((fd, pos, size))
}

//! Starting CPython in a child and keeping a thread's state (the C API
//! calls behind src/child and src/interp.rs).
use pyo3::ffi;

/// Where Python finds its installation (WSGIPythonHome).
pub enum Home {
    /// An installation prefix (PyConfig.home).
    Prefix(String),
    /// A virtualenv's interpreter: Python finds pyvenv.cfg beside it
    /// (PyConfig.program_name).
    Program(String),
}

/// How Python starts.
pub struct StartOptions<'a> {
    pub optimization_level: i32,
    /// Some(Some(seed)): that seed; Some(None): random; None: Python's default.
    pub hash_seed: Option<Option<u32>>,
    pub write_bytecode: bool,
    /// -W options, in order.
    pub warnings: &'a [String],
    pub home: Option<Home>,
}

/// Why Python did not start.
pub enum StartError {
    /// A -W option holds a NUL byte.
    WarningNul,
    /// A -W option cannot be decoded.
    WarningDecode(String),
    /// A -W option cannot be used.
    WarningUse(String),
    /// The home holds a NUL byte.
    HomeNul,
    /// The home cannot be used.
    HomeUse,
    /// Py_InitializeFromConfig failed, with CPython's message.
    Init(String),
}

/// Initialises CPython in this process (signal handlers left to httpd) and
/// releases the GIL. Once per process, before any other Python API use.
pub fn start(o: &StartOptions<'_>) -> Result<(), StartError> {
    if is_initialized() {
        return Ok(());
    }
    // SAFETY: Python is not initialised yet (checked above; child start runs
    // on one thread); the config is initialised, filled and cleared as the C
    // API requires, and every string handed to it outlives the call using it.
    unsafe {
        let mut config = std::mem::MaybeUninit::<ffi::PyConfig>::zeroed();
        ffi::PyConfig_InitPythonConfig(config.as_mut_ptr());
        let cfg = config.as_mut_ptr();
        (*cfg).install_signal_handlers = 0;
        (*cfg).parse_argv = 0;
        (*cfg).optimization_level = o.optimization_level;
        match o.hash_seed {
            Some(Some(seed)) => {
                (*cfg).use_hash_seed = 1;
                (*cfg).hash_seed = seed as std::ffi::c_ulong;
            }
            Some(None) => (*cfg).use_hash_seed = 0,
            None => {}
        }
        if !o.write_bytecode {
            (*cfg).write_bytecode = 0;
        }
        for w in o.warnings {
            let Ok(c) = std::ffi::CString::new(w.as_str()) else {
                ffi::PyConfig_Clear(cfg);
                return Err(StartError::WarningNul);
            };
            let wide = ffi::Py_DecodeLocale(c.as_ptr(), std::ptr::null_mut());
            if wide.is_null() {
                ffi::PyConfig_Clear(cfg);
                return Err(StartError::WarningDecode(w.clone()));
            }
            let st = ffi::PyWideStringList_Append(&raw mut (*cfg).warnoptions, wide);
            ffi::PyMem_RawFree(wide as *mut std::ffi::c_void);
            if ffi::PyStatus_Exception(st) != 0 {
                ffi::PyConfig_Clear(cfg);
                return Err(StartError::WarningUse(w.clone()));
            }
        }
        if let Some(home) = &o.home {
            let (field, value) = match home {
                Home::Prefix(p) => (&raw mut (*cfg).home, p),
                Home::Program(p) => (&raw mut (*cfg).program_name, p),
            };
            let Ok(value) = std::ffi::CString::new(value.as_str()) else {
                ffi::PyConfig_Clear(cfg);
                return Err(StartError::HomeNul);
            };
            let st = ffi::PyConfig_SetBytesString(cfg, field, value.as_ptr());
            if ffi::PyStatus_Exception(st) != 0 {
                ffi::PyConfig_Clear(cfg);
                return Err(StartError::HomeUse);
            }
        }
        let st = ffi::Py_InitializeFromConfig(cfg);
        ffi::PyConfig_Clear(cfg);
        if ffi::PyStatus_Exception(st) != 0 {
            let msg = if st.err_msg.is_null() {
                "unknown error".to_string()
            } else {
                std::ffi::CStr::from_ptr(st.err_msg).to_string_lossy().into_owned()
            };
            return Err(StartError::Init(msg));
        }
        ffi::PyEval_SaveThread();
    }
    Ok(())
}

/// Whether Python has been started in this process.
pub fn is_initialized() -> bool {
    // SAFETY: callable at any time.
    unsafe { ffi::Py_IsInitialized() != 0 }
}

/// Gives the calling thread a thread state of its own for the rest of its
/// life and leaves the GIL released. For a thread that holds no GIL (an
/// httpd thread at hook entry) once Python runs; does nothing before.
pub fn keep_thread_state() {
    // SAFETY: PyGILState_Check may be called once Python runs.
    if !is_initialized() || unsafe { ffi::PyGILState_Check() } != 0 {
        return;
    }
    // SAFETY: Python runs and this thread holds no GIL (checked above). The
    // Ensure is never released, which keeps the thread state; SaveThread
    // then releases the GIL it took.
    unsafe {
        let _ = ffi::PyGILState_Ensure();
        ffi::PyEval_SaveThread();
    }
}

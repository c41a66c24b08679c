//! Finds httpd's and APR's headers, generates the allow-listed bindings and
//! compiles the small C shim. Fails with one clear message naming the Debian
//! package to install when a piece is missing.
use std::env;
use std::path::PathBuf;
use std::process::Command;

fn fail(msg: &str) -> ! {
    eprintln!("\nmod_pyrite build error: {msg}\n");
    panic!("mod_pyrite build error: {msg}");
}

/// Runs `prog args` and returns trimmed stdout, or None if it cannot run or fails.
fn query(prog: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(prog).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The apxs to ask: $APXS, then apxs, then apxs2 on PATH.
fn find_apxs() -> String {
    let mut candidates = Vec::new();
    if let Ok(a) = env::var("APXS") {
        candidates.push(a);
    }
    candidates.push("apxs".into());
    candidates.push("apxs2".into());
    for c in &candidates {
        if query(c, &["-q", "INCLUDEDIR"]).is_some() {
            return c.clone();
        }
    }
    fail("apxs not found (tried $APXS, apxs, apxs2): install httpd's development files, on Debian `apt-get install apache2-dev`")
}

fn main() {
    println!("cargo:rerun-if-env-changed=APXS");
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-changed=src/ffi/wrapper.h");
    println!("cargo:rerun-if-changed=src/ffi/shim.c");
    println!("cargo:rerun-if-changed=python");

    let apxs = find_apxs();
    let httpd_inc = query(&apxs, &["-q", "INCLUDEDIR"]).unwrap();
    let apr_cfg = query(&apxs, &["-q", "APR_CONFIG"])
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "apr-1-config".into());
    let apr_inc = query(&apr_cfg, &["--includedir"]).unwrap_or_else(|| {
        fail("apr-1-config not found: install APR's development files, on Debian `apt-get install libapr1-dev libaprutil1-dev` (apache2-dev pulls them in)")
    });
    let aprutil_inc = query("apu-1-config", &["--includedir"]).unwrap_or_else(|| apr_inc.clone());
    let cppflags = query(&apr_cfg, &["--cppflags"]).unwrap_or_default();

    // The Python PyO3 links against: Debian's, which the unprivileged httpd user can read.
    let python = env::var("PYO3_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let pyver = query(&python, &["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"])
        .unwrap_or_else(|| fail(&format!("{python} not found: install Python 3 and its embedding library, on Debian `apt-get install python3 libpython3-dev` (or set PYO3_PYTHON)")));
    println!("cargo:rustc-env=PYRITE_PYTHON_VERSION={pyver}");

    let mut clang_args: Vec<String> = vec![format!("-I{httpd_inc}"), format!("-I{apr_inc}")];
    if aprutil_inc != apr_inc {
        clang_args.push(format!("-I{aprutil_inc}"));
    }
    clang_args.extend(cppflags.split_whitespace().map(String::from));

    let bindings = bindgen::Builder::default()
        .header("src/ffi/wrapper.h")
        .clang_args(&clang_args)
        .allowlist_function("ap_.*")
        .allowlist_function("apr_.*")
        .allowlist_function("pyrite_shim_.*")
        .allowlist_type(".*_rec")
        .allowlist_type("ap_.*")
        .allowlist_type("apr_.*")
        .allowlist_type("include_ctx_t|include_handler_fn_t")
        .allowlist_type("authn_provider|authz_provider|authn_status|authz_status")
        .allowlist_var("AUTHN_PROVIDER_.*|AUTHZ_PROVIDER_.*|SATISFY_.*|REMOTE_HOST")
        .allowlist_var("SSI_FLAG_.*|SSI_VALUE_.*")
        .allowlist_var("MODULE_MAGIC_.*")
        .allowlist_var("APR_HOOK_.*")
        .allowlist_var("OK|DECLINED|DONE|SUSPENDED")
        .allowlist_var("HTTP_.*")
        .allowlist_var("M_.*")
        .allowlist_var("RSRC_CONF|ACCESS_CONF|OR_.*|EXEC_ON_READ|NOT_IN_.*|GLOBAL_ONLY")
        .allowlist_var("APLOG_.*")
        .allowlist_var("AP_MPMQ_.*")
        .allowlist_var("REQUEST_.*")
        .allowlist_var("APR_SUCCESS|APR_EOF|APR_EAGAIN|APR_TIMEUP|APR_.*ERROR.*|APR_FOPEN_.*")
        .allowlist_var("AP_.*")
        .allowlist_var("ap_server_.*|ap_conftree|ap_scoreboard_image|ap_unixd_config")
        .allowlist_var("PROXYREQ_.*")
        .blocklist_function("ap_.*vformatter.*")
        .blocklist_function("apr_.*vformatter.*")
        .blocklist_function("ap_log_.*_\\b")
        .default_enum_style(bindgen::EnumVariation::Consts)
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .generate()
        .unwrap_or_else(|e| {
            fail(&format!(
                "bindgen could not read httpd's headers ({e}); bindgen needs libclang: on Debian `apt-get install libclang-dev`"
            ))
        });
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    bindings.write_to_file(out.join("bindings.rs")).expect("write bindings");

    let mut shim = cc::Build::new();
    shim.file("src/ffi/shim.c").include(&httpd_inc).include(&apr_inc);
    if aprutil_inc != apr_inc {
        shim.include(&aprutil_inc);
    }
    for f in cppflags.split_whitespace() {
        shim.flag(f);
    }
    shim.warnings(true).compile("pyrite_shim");

    // The thread-state helpers need Python's headers (of the Python PyO3 links).
    let py_inc = query(&python, &["-c", "import sysconfig; print(sysconfig.get_path('include'))"])
        .unwrap_or_else(|| fail("Python's headers not found: on Debian `apt-get install libpython3-dev`"));
    cc::Build::new()
        .file("src/ffi/pythread.c")
        .include(&py_inc)
        .warnings(true)
        .compile("pyrite_pythread");
    println!("cargo:rerun-if-changed=src/ffi/pythread.c");

    embed_python(&out);

    // httpd dlcloses modules on restart; Rust thread-locals and Python cannot survive that.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    // Symbols httpd provides are resolved when the module is loaded.
    println!("cargo:rustc-cdylib-link-arg=-Wl,--allow-shlib-undefined");
}

/// Writes `embedded_python.rs`: every file under python/ as (module name, is_package, source),
/// so the one .so carries the whole mod_python compatibility package.
fn embed_python(out: &std::path::Path) {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("python");
    let mut entries = Vec::new();
    collect_py(&root, &root, &mut entries);
    entries.sort();
    let mut code = String::from("/// (module name, is_package, source) of the embedded pure-Python modules.\n");
    code.push_str("pub static EMBEDDED: &[(&str, bool, &str)] = &[\n");
    for (name, is_pkg, path) in entries {
        code.push_str(&format!(
            "    ({name:?}, {is_pkg}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    code.push_str("];\n");
    std::fs::write(out.join("embedded_python.rs"), code).expect("write embedded_python.rs");
}

fn collect_py(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<(String, bool, PathBuf)>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "__pycache__") {
                collect_py(root, &p, out);
            }
        } else if p.extension().is_some_and(|x| x == "py") {
            println!("cargo:rerun-if-changed={}", p.display());
            let rel = p.strip_prefix(root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
            let is_pkg = parts.last().is_some_and(|l| l == "__init__");
            if is_pkg {
                parts.pop();
            }
            out.push((parts.join("."), is_pkg, p));
        }
    }
}

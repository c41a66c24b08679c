//! PSP (Python Server Pages, mod_python's templates) translated to Python
//! source: the lexer splits a template into text, code, expressions,
//! directives and comments; the generator writes the Python that mod_python's
//! parser would (same statements, same line numbers for the main template).
pub mod codegen;
pub mod lexer;

use std::path::{Path, PathBuf};

/// How deep `<%@ include %>` may nest (a file that includes itself stops here).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Why a template could not be translated, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PspError {
    /// The template (or included file) at fault, as named to the user.
    pub file: String,
    /// 1-based line of that file.
    pub line: usize,
    pub message: String,
    /// The OS error number when a file could not be read.
    pub errno: Option<i32>,
}

impl std::fmt::Display for PspError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, line {}: {}", self.file, self.line, self.message)
    }
}

/// The Python source of a template and every file it included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    pub source: String,
    pub includes: Vec<PathBuf>,
}

/// Reads a file as text: templates are UTF-8, as their output is.
pub fn read_template(path: &Path) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    String::from_utf8(bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 (byte {} is invalid)", e.utf8_error().valid_up_to()),
        )
    })
}

/// Translates the template file `path`; relative includes are looked up in
/// `include_dir` (the template's own directory when None).
pub fn translate_file(path: &Path, include_dir: Option<&Path>) -> Result<Translation, PspError> {
    let name = path.display().to_string();
    let text = read_template(path).map_err(|e| PspError {
        file: name.clone(),
        line: 0,
        message: format!("cannot read the template: {e}"),
        errno: e.raw_os_error(),
    })?;
    let dir = include_dir.map(Path::to_path_buf).or_else(|| path.parent().map(Path::to_path_buf));
    codegen::generate(&name, &text, dir.as_deref(), &|p| read_template(p))
}

/// Translates a template held in a string; relative includes need `include_dir`.
pub fn translate_string(text: &str, include_dir: Option<&Path>) -> Result<Translation, PspError> {
    codegen::generate("<string>", text, include_dir, &|p| read_template(p))
}

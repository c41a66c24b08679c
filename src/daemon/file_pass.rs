//! A response whose body is a real file (wsgi.file_wrapper) still ends in
//! sendfile from httpd's child: the daemon passes the open file over the
//! UNIX socket (SCM_RIGHTS) with where to start and how much to send, and
//! the child sends it with a file bucket, instead of the daemon writing the
//! bytes for the child to copy. Only for requests the child planned (it
//! reads the descriptor), for GET-like responses whose body is only the
//! file; anything else streams the bytes as before.
use crate::ffi::request::Request;
use std::cell::Cell;
use std::os::fd::BorrowedFd;

/// The byte that carries the descriptor, sent just before the response head.
pub const MARKER: u8 = b'F';
/// The response field that says which part of the passed file is the body: "offset length".
pub const FIELD: &str = "X-Pyrite-File";

thread_local! {
    /// This daemon thread serves a request the child planned (and so reads a passed file).
    static PLANNED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` for a request the child planned.
pub fn planned<T>(f: impl FnOnce() -> T) -> T {
    PLANNED.with(|p| p.set(true));
    let out = f();
    PLANNED.with(|p| p.set(false));
    out
}

/// In a daemon, passes `len` bytes of `fd` from `offset` to the child as the
/// whole response body; false when it cannot (the caller then sends the
/// bytes itself). Called before any byte of the response has been sent.
pub fn offer(r: &Request, fd: BorrowedFd<'_>, offset: i64, len: u64) -> bool {
    if !PLANNED.with(Cell::get) || r.header_only() != 0 || r.sent_bodyct() != 0 || r.bytes_sent() != 0 {
        return false;
    }
    let Some(sock) = r.connection().socket_fd() else { return false };
    if !crate::ffi::daemon::send_fd(sock, fd, MARKER) {
        return false;
    }
    let _ = r.headers_out().set(FIELD.as_bytes(), format!("{offset} {len}").as_bytes());
    // The body on this connection is empty: the child sends the file.
    r.set_content_length(0);
    true
}

/// The part of a passed file a response head names: (offset, length).
pub fn part(value: &[u8]) -> Option<(i64, i64)> {
    let text = std::str::from_utf8(value).ok()?;
    let (a, b) = text.trim().split_once(' ')?;
    let (offset, len) = (a.parse::<i64>().ok()?, b.parse::<i64>().ok()?);
    (offset >= 0 && len >= 0).then_some((offset, len))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parts() {
        assert_eq!(super::part(b"0 12"), Some((0, 12)));
        assert_eq!(super::part(b" 5 1048576 "), Some((5, 1048576)));
        assert_eq!(super::part(b"-1 3"), None);
        assert_eq!(super::part(b"12"), None);
        assert_eq!(super::part(b"a b"), None);
    }
}

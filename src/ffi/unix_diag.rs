//! The queue of a listening UNIX socket, from the kernel's sock_diag
//! interface (what `ss -xl` shows as Recv-Q): connections made to a daemon
//! group's socket that no daemon has accepted yet. Any process may ask;
//! sockets are found by inode.

const NETLINK_SOCK_DIAG: i32 = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const TCP_LISTEN: u32 = 10;
const UDIAG_SHOW_RQLEN: u32 = 0x10;
const UNIX_DIAG_RQLEN: u16 = 4;

#[repr(C)]
struct NlMsgHdr {
    len: u32,
    kind: u16,
    flags: u16,
    seq: u32,
    pid: u32,
}

#[repr(C)]
struct UnixDiagReq {
    family: u8,
    protocol: u8,
    pad: u16,
    states: u32,
    ino: u32,
    show: u32,
    cookie: [u32; 2],
}

#[repr(C)]
struct Request {
    hdr: NlMsgHdr,
    req: UnixDiagReq,
}

/// For each inode, the connections waiting in that listening socket's queue
/// (None: no such listening socket, or the kernel did not answer).
pub fn listen_queues(inodes: &[u64]) -> Vec<Option<u32>> {
    let mut out = vec![None; inodes.len()];
    if inodes.iter().all(|&i| i == 0) {
        return out;
    }
    let _ = dump(|ino, queued| {
        for (i, want) in inodes.iter().enumerate() {
            if *want != 0 && (*want & 0xffff_ffff) as u32 == ino {
                out[i] = Some(queued);
            }
        }
    });
    out
}

/// Asks for every listening UNIX socket with its queue length; calls `f(inode, queued)`.
fn dump(mut f: impl FnMut(u32, u32)) -> Option<()> {
    // SAFETY: a new netlink socket, closed below on every path.
    let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, NETLINK_SOCK_DIAG) };
    if fd < 0 {
        return None;
    }
    let result = (|| {
        let req = Request {
            hdr: NlMsgHdr {
                len: std::mem::size_of::<Request>() as u32,
                kind: SOCK_DIAG_BY_FAMILY,
                flags: (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16,
                seq: 1,
                pid: 0,
            },
            req: UnixDiagReq {
                family: libc::AF_UNIX as u8,
                protocol: 0,
                pad: 0,
                states: 1 << TCP_LISTEN,
                ino: 0,
                show: UDIAG_SHOW_RQLEN,
                cookie: [u32::MAX; 2],
            },
        };
        // SAFETY: sends the request struct's bytes to the kernel (destination: the kernel, the default).
        let sent = unsafe { libc::send(fd, &req as *const Request as *const libc::c_void, std::mem::size_of::<Request>(), 0) };
        if sent < 0 {
            return None;
        }
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            // SAFETY: receives into buf, at most its length.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
            if n <= 0 {
                return None;
            }
            if parse(&buf[..n as usize], &mut f)? {
                return Some(());
            }
        }
    })();
    // SAFETY: closes the socket made above.
    unsafe { libc::close(fd) };
    result
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// One datagram of netlink messages; Some(true) at the end of the dump.
fn parse(mut b: &[u8], f: &mut impl FnMut(u32, u32)) -> Option<bool> {
    const HDR: usize = std::mem::size_of::<NlMsgHdr>();
    // unix_diag_msg: family, type, state, pad (1 byte each), inode, cookie[2].
    const MSG: usize = 16;
    while b.len() >= HDR {
        let len = u32_at(b, 0)? as usize;
        let kind = u16_at(b, 4)?;
        if len < HDR || len > b.len() {
            return None;
        }
        match kind {
            NLMSG_DONE => return Some(true),
            NLMSG_ERROR => return None,
            SOCK_DIAG_BY_FAMILY if len >= HDR + MSG => {
                let msg = &b[HDR..len];
                let ino = u32_at(msg, 4)?;
                let mut attrs = &msg[MSG..];
                while attrs.len() >= 4 {
                    let alen = u16_at(attrs, 0)? as usize;
                    let akind = u16_at(attrs, 2)?;
                    if alen < 4 || alen > attrs.len() {
                        break;
                    }
                    if akind == UNIX_DIAG_RQLEN && alen >= 12 {
                        f(ino, u32_at(attrs, 4)?);
                    }
                    attrs = &attrs[((alen + 3) & !3).min(attrs.len())..];
                }
            }
            _ => {}
        }
        b = &b[((len + 3) & !3).min(b.len())..];
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_socket_shows_its_waiting_connections() {
        let dir = std::env::temp_dir().join(format!("pyrite-diag-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let l = std::os::unix::net::UnixListener::bind(&dir).unwrap();
        let ino = std::fs::metadata(&dir).map(|_| {
            use std::os::fd::AsRawFd;
            // SAFETY: fstat of the listener's own descriptor.
            unsafe {
                let mut st: libc::stat = std::mem::zeroed();
                libc::fstat(l.as_raw_fd(), &mut st);
                st.st_ino
            }
        });
        let ino = ino.unwrap();
        assert_eq!(listen_queues(&[ino]), vec![Some(0)]);
        let c1 = std::os::unix::net::UnixStream::connect(&dir).unwrap();
        let c2 = std::os::unix::net::UnixStream::connect(&dir).unwrap();
        assert_eq!(listen_queues(&[ino, 0]), vec![Some(2), None]);
        drop((c1, c2));
        let _ = std::fs::remove_file(&dir);
    }
}

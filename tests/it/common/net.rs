//! Stand-ins for servers on loopback: a peer that answers what a test tells it to, and an
//! address where nothing answers.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

/// A TCP peer on a free loopback port (its own for as long as it runs): each of its first
/// `connections` connections, one after another, has its request read (one read of up to
/// 1 KiB), then `script` run on the socket, which is then held open for `hold` (as a stuck
/// server would) and closed. Returns the peer's address and its thread, which ends after the
/// last of those connections.
pub fn tcp_peer(
    connections: usize,
    hold: Duration,
    script: impl Fn(&mut TcpStream) + Send + 'static,
) -> (String, JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let thread = std::thread::spawn(move || {
        for mut s in l.incoming().take(connections).flatten() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            script(&mut s);
            std::thread::sleep(hold);
        }
    });
    (addr, thread)
}

/// A loopback address where a connection is refused: a TCP socket bound to a free port but not
/// listening. Unlike a port found free and let go, it stays unreachable for as long as this is
/// kept, since nothing else (a redis-server another test starts, say) can bind the port.
pub struct ClosedPort {
    fd: libc::c_int,
    pub addr: String,
}

impl ClosedPort {
    pub fn bind() -> ClosedPort {
        // SAFETY: plain socket(2), bind(2) and getsockname(2) calls on a socket this function
        // owns, with a sockaddr_in of the right size.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let mut sa: libc::sockaddr_in = std::mem::zeroed();
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            sa.sin_port = 0;
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let rc = libc::bind(fd, &sa as *const _ as *const libc::sockaddr, len);
            assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
            let mut len = len;
            let rc = libc::getsockname(fd, &mut sa as *mut _ as *mut libc::sockaddr, &mut len);
            assert_eq!(rc, 0, "getsockname: {}", std::io::Error::last_os_error());
            ClosedPort {
                fd,
                addr: format!("127.0.0.1:{}", u16::from_be(sa.sin_port)),
            }
        }
    }
}

impl Drop for ClosedPort {
    fn drop(&mut self) {
        // SAFETY: closes the socket this value owns, once.
        unsafe {
            libc::close(self.fd);
        }
    }
}

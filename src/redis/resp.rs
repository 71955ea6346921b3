//! A minimal RESP2 client for talking to a live redis-server: exactly the bytes fragsim's model
//! assumes go over the wire, and clear errors for refused connections, timeouts and non-Redis
//! peers.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// A reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

impl Resp {
    /// The reply as text (simple strings and bulk strings).
    pub fn text(&self) -> Option<String> {
        match self {
            Resp::Simple(s) => Some(s.clone()),
            Resp::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    /// What kind of reply this is, in words (for an error where text was expected).
    pub fn describe(&self) -> String {
        match self {
            Resp::Simple(s) => format!("the status {s:?}"),
            Resp::Error(e) => format!("the error {e:?}"),
            Resp::Int(n) => format!("the integer {n}"),
            Resp::Bulk(None) => "a null reply".into(),
            Resp::Bulk(Some(b)) => format!("a string of {} B", b.len()),
            Resp::Array(None) => "a null array".into(),
            Resp::Array(Some(a)) => format!("an array of {} items", a.len()),
        }
    }
}

/// How long one reply may take to arrive in full (a server that trickles bytes or says nothing
/// is given up on after this).
pub const REPLY_DEADLINE: Duration = Duration::from_secs(20);
/// The longest bulk string accepted: Redis's own `proto-max-bulk-len` default (512 MiB).
pub const MAX_BULK: u64 = 512 << 20;
/// The most elements an array reply may announce, and how deeply arrays may nest.
pub const MAX_ARRAY: u64 = 1 << 24;
const MAX_DEPTH: usize = 8;
/// The longest header line (`+OK`, `-ERR ...`, `$5`): Redis's error replies are short.
const MAX_LINE: usize = 64 << 10;

/// A connection failure or a peer that does not speak RESP.
#[derive(Debug, thiserror::Error)]
pub enum RespError {
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    #[error("{addr}: {source}")]
    Io { addr: String, source: std::io::Error },
    #[error("{addr} does not speak the Redis protocol (it answered {answer:?})")]
    NotRedis { addr: String, answer: String },
    #[error(
        "{addr} did not send a complete reply within {secs} s; check that it is a Redis server and not busy"
    )]
    Timeout { addr: String, secs: u64 },
    #[error("{addr} sent arrays nested more than {max} deep, more than a Redis server sends; is it a Redis server?")]
    TooDeep { addr: String, max: usize },
    #[error("{addr} announced {what} of {len}, more than a Redis server sends (at most {max}); is it a Redis server?")]
    TooLarge {
        addr: String,
        what: &'static str,
        len: String,
        max: u64,
    },
}

/// Replies read from any server so far in this process (for a progress line on slow servers).
pub static REPLIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// While alive, a line on stderr every 10 s saying how many replies the server at `addr` has
/// sent so far, so that a server that answers slowly (but within [`REPLY_DEADLINE`] each time)
/// is seen to be making progress rather than hanging.
pub fn heartbeat(addr: &str, what: &'static str) -> crate::units::Notice {
    let addr = addr.to_string();
    let ten = Duration::from_secs(10);
    crate::units::Notice::every(ten, ten, move |t| {
        format!(
            "fragsim: {what}: {} replies from {addr} so far, {:.0} s",
            REPLIES.load(std::sync::atomic::Ordering::Relaxed),
            t.as_secs_f64()
        )
    })
}

/// Appends `argv` to `buf` as a RESP command: `*N\r\n`, then `$len\r\n<arg>\r\n` per argument.
fn encode<A: AsRef<[u8]>>(buf: &mut Vec<u8>, argv: &[A]) {
    buf.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
    for a in argv.iter().map(|a| a.as_ref()) {
        buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

/// One connection.
pub struct Connection {
    addr: String,
    stream: BufReader<TcpStream>,
    /// How long one reply may take ([`REPLY_DEADLINE`] unless changed).
    deadline: Duration,
}

impl Connection {
    /// Connects to `addr` (`host:port`) with a 3-second timeout; each reply must arrive within
    /// [`REPLY_DEADLINE`].
    pub fn open(addr: &str) -> Result<Self, RespError> {
        let sock = addr
            .to_socket_addrs()
            .map_err(|e| RespError::Connect {
                addr: addr.into(),
                source: e,
            })?
            .next()
            .ok_or_else(|| RespError::Connect {
                addr: addr.into(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
            })?;
        let t = Duration::from_secs(3);
        let s = TcpStream::connect_timeout(&sock, t).map_err(|e| RespError::Connect {
            addr: addr.into(),
            source: e,
        })?;
        s.set_read_timeout(Some(REPLY_DEADLINE)).ok();
        s.set_write_timeout(Some(REPLY_DEADLINE)).ok();
        s.set_nodelay(true).ok();
        Ok(Connection {
            addr: addr.into(),
            stream: BufReader::new(s),
            deadline: REPLY_DEADLINE,
        })
    }

    /// The same connection with another reply deadline.
    pub fn with_deadline(mut self, d: Duration) -> Self {
        self.deadline = d;
        self
    }

    fn io(&self, e: std::io::Error) -> RespError {
        match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => RespError::Timeout {
                addr: self.addr.clone(),
                secs: self.deadline.as_secs(),
            },
            _ => RespError::Io {
                addr: self.addr.clone(),
                source: e,
            },
        }
    }

    /// Sends one command and reads its reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Result<Resp, RespError> {
        let mut buf = Vec::with_capacity(64 + argv.iter().map(|a| a.as_ref().len() + 16).sum::<usize>());
        encode(&mut buf, argv);
        self.stream.get_mut().write_all(&buf).map_err(|e| self.io(e))?;
        let deadline = Instant::now() + self.deadline;
        let r = self.read(deadline, 0);
        REPLIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        r
    }

    /// Sends `batch` pipelined (all commands written, then all replies read) and returns the
    /// replies in order.
    pub fn pipeline<C: AsRef<[A]>, A: AsRef<[u8]>>(&mut self, batch: &[C]) -> Result<Vec<Resp>, RespError> {
        let mut buf = Vec::new();
        for argv in batch {
            encode(&mut buf, argv.as_ref());
        }
        // Written from another thread while this one reads: a large batch's replies would
        // otherwise fill the socket buffers with neither side reading.
        let mut writer = self.stream.get_ref().try_clone().map_err(|e| self.io(e))?;
        let send = std::thread::spawn(move || writer.write_all(&buf));
        let deadline = Instant::now() + self.deadline;
        let mut replies = Vec::with_capacity(batch.len());
        for _ in 0..batch.len() {
            replies.push(self.read(deadline, 0)?);
        }
        send.join()
            .expect("the writer thread does not panic")
            .map_err(|e| self.io(e))?;
        REPLIES.fetch_add(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(replies)
    }

    /// Sends a command given as words.
    pub fn call_str(&mut self, words: &[&str]) -> Result<Resp, RespError> {
        let argv: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        self.call(&argv)
    }

    /// Waits for bytes until `deadline`: the socket's timeout is what is left of it.
    fn fill(&mut self, deadline: Instant) -> Result<&[u8], RespError> {
        // Bytes already buffered need no read (nor a timeout set for one).
        if !self.stream.buffer().is_empty() {
            return Ok(self.stream.buffer());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RespError::Timeout {
                addr: self.addr.clone(),
                secs: self.deadline.as_secs(),
            });
        }
        self.stream.get_ref().set_read_timeout(Some(left)).ok();
        loop {
            match self.stream.fill_buf() {
                Ok([]) => {
                    return Err(self.io(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "connection closed",
                    )))
                }
                // Re-borrowed: the loop's borrow ends here.
                Ok(_) => return Ok(self.stream.buffer()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io(e)),
            }
        }
    }

    /// One header line, `\r\n` included, at most [`MAX_LINE`] bytes.
    fn line(&mut self, deadline: Instant) -> Result<Vec<u8>, RespError> {
        let mut line = Vec::new();
        loop {
            let buf = self.fill(deadline)?;
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            line.extend_from_slice(&buf[..take]);
            self.stream.consume(take);
            if done {
                return Ok(line);
            }
            if line.len() > MAX_LINE {
                return Err(RespError::NotRedis {
                    addr: self.addr.clone(),
                    answer: String::from_utf8_lossy(&line).chars().take(60).collect(),
                });
            }
        }
    }

    /// Exactly `n` bytes (already bounded by the caller), read as they arrive.
    fn exact(&mut self, n: usize, deadline: Instant) -> Result<Vec<u8>, RespError> {
        let mut data = Vec::with_capacity(n.min(1 << 20));
        while data.len() < n {
            let buf = self.fill(deadline)?;
            let take = buf.len().min(n - data.len());
            data.extend_from_slice(&buf[..take]);
            self.stream.consume(take);
        }
        Ok(data)
    }

    /// A reply whose header line is already buffered, read without copying the line: an
    /// integer, a bulk string or an array within the limits; `None` (nothing consumed) for
    /// anything else, which [`read`](Self::read) then reads the careful way.
    fn read_buffered(&mut self, deadline: Instant, depth: usize) -> Result<Option<Resp>, RespError> {
        let buf = self.stream.buffer();
        let Some(nl) = buf.iter().take(32).position(|&b| b == b'\n') else {
            return Ok(None);
        };
        if nl < 3 || buf[nl - 1] != b'\r' || !matches!(buf[0], b':' | b'$' | b'*') {
            return Ok(None);
        }
        let digits = &buf[1..nl - 1];
        let (neg, digits) = match digits.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, digits),
        };
        if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
            return Ok(None);
        }
        let n = digits.iter().fold(0i64, |a, d| a * 10 + (d - b'0') as i64);
        let n = if neg { -n } else { n };
        let kind = buf[0];
        match kind {
            b':' => {
                self.stream.consume(nl + 1);
                Ok(Some(Resp::Int(n)))
            }
            b'$' if n < 0 => {
                self.stream.consume(nl + 1);
                Ok(Some(Resp::Bulk(None)))
            }
            b'$' if n as u64 <= MAX_BULK => {
                self.stream.consume(nl + 1);
                let mut data = self.exact(n as usize + 2, deadline)?;
                if !data.ends_with(b"\r\n") {
                    return Err(RespError::NotRedis {
                        addr: self.addr.clone(),
                        answer: format!("a bulk string of {n} B not ended by CRLF"),
                    });
                }
                data.truncate(n as usize);
                Ok(Some(Resp::Bulk(Some(data))))
            }
            b'*' if n < 0 => {
                self.stream.consume(nl + 1);
                Ok(Some(Resp::Array(None)))
            }
            b'*' if (n as u64) <= MAX_ARRAY && depth < MAX_DEPTH => {
                self.stream.consume(nl + 1);
                let mut items = Vec::with_capacity((n as usize).min(1024));
                for _ in 0..n {
                    items.push(self.read(deadline, depth + 1)?);
                }
                Ok(Some(Resp::Array(Some(items))))
            }
            _ => Ok(None),
        }
    }

    fn read(&mut self, deadline: Instant, depth: usize) -> Result<Resp, RespError> {
        if let Some(r) = self.read_buffered(deadline, depth)? {
            return Ok(r);
        }
        let line = self.line(deadline)?;
        let addr = self.addr.clone();
        let not_redis = |line: &[u8]| RespError::NotRedis {
            addr: addr.clone(),
            answer: String::from_utf8_lossy(line).chars().take(60).collect(),
        };
        if line.len() < 3 || !line.ends_with(b"\r\n") {
            return Err(not_redis(&line));
        }
        let body = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
        let too_large = |what: &'static str, max: u64| RespError::TooLarge {
            addr: addr.clone(),
            what,
            len: body.clone(),
            max,
        };
        match line[0] {
            b'+' => Ok(Resp::Simple(body)),
            b'-' => Ok(Resp::Error(body)),
            b':' => body.parse().map(Resp::Int).map_err(|_| not_redis(&line)),
            b'$' => {
                let len: i64 = body.parse().map_err(|_| not_redis(&line))?;
                if len < 0 {
                    return Ok(Resp::Bulk(None));
                }
                if len as u64 > MAX_BULK {
                    return Err(too_large("a bulk string", MAX_BULK));
                }
                let mut data = self.exact(len as usize + 2, deadline)?;
                if !data.ends_with(b"\r\n") {
                    return Err(not_redis(&line));
                }
                data.truncate(len as usize);
                Ok(Resp::Bulk(Some(data)))
            }
            b'*' => {
                let len: i64 = body.parse().map_err(|_| not_redis(&line))?;
                if len < 0 {
                    return Ok(Resp::Array(None));
                }
                if len as u64 > MAX_ARRAY {
                    return Err(too_large("an array", MAX_ARRAY));
                }
                if depth >= MAX_DEPTH {
                    return Err(RespError::TooDeep {
                        addr: addr.clone(),
                        max: MAX_DEPTH,
                    });
                }
                let mut items = Vec::with_capacity((len as usize).min(1024));
                for _ in 0..len {
                    items.push(self.read(deadline, depth + 1)?);
                }
                Ok(Resp::Array(Some(items)))
            }
            _ => Err(not_redis(&line)),
        }
    }
}

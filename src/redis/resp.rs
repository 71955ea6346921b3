//! A minimal RESP2 client for talking to a live redis-server: exactly the bytes fragsim's model
//! assumes go over the wire, and clear errors for refused connections, timeouts and non-Redis
//! peers.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

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
}

/// A connection failure or a peer that does not speak RESP.
#[derive(Debug, thiserror::Error)]
pub enum RespError {
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    #[error("{addr}: {source}")]
    Io { addr: String, source: std::io::Error },
    #[error("{addr} does not speak the Redis protocol (it answered {answer:?})")]
    NotRedis { addr: String, answer: String },
}

/// One connection.
pub struct Connection {
    addr: String,
    stream: BufReader<TcpStream>,
}

impl Connection {
    /// Connects to `addr` (`host:port`) with a 3-second timeout for connect, reads and writes.
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
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        s.set_write_timeout(Some(Duration::from_secs(30))).ok();
        s.set_nodelay(true).ok();
        Ok(Connection {
            addr: addr.into(),
            stream: BufReader::new(s),
        })
    }

    fn io(&self, e: std::io::Error) -> RespError {
        RespError::Io {
            addr: self.addr.clone(),
            source: e,
        }
    }

    /// Sends one command and reads its reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Result<Resp, RespError> {
        let mut buf = Vec::with_capacity(64 + argv.iter().map(|a| a.as_ref().len() + 16).sum::<usize>());
        buf.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
        for a in argv.iter().map(|a| a.as_ref()) {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        self.stream.get_mut().write_all(&buf).map_err(|e| self.io(e))?;
        self.read()
    }

    /// Sends a command given as words.
    pub fn call_str(&mut self, words: &[&str]) -> Result<Resp, RespError> {
        let argv: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        self.call(&argv)
    }

    fn read(&mut self) -> Result<Resp, RespError> {
        let mut line = Vec::new();
        let n = self.stream.read_until(b'\n', &mut line).map_err(|e| self.io(e))?;
        if n == 0 {
            return Err(self.io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            )));
        }
        if line.len() < 3 || !line.ends_with(b"\r\n") {
            return Err(RespError::NotRedis {
                addr: self.addr.clone(),
                answer: String::from_utf8_lossy(&line).chars().take(60).collect(),
            });
        }
        let body = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
        let not_redis = || RespError::NotRedis {
            addr: self.addr.clone(),
            answer: String::from_utf8_lossy(&line).chars().take(60).collect(),
        };
        match line[0] {
            b'+' => Ok(Resp::Simple(body)),
            b'-' => Ok(Resp::Error(body)),
            b':' => body.parse().map(Resp::Int).map_err(|_| not_redis()),
            b'$' => {
                let len: i64 = body.parse().map_err(|_| not_redis())?;
                if len < 0 {
                    return Ok(Resp::Bulk(None));
                }
                let mut data = vec![0u8; len as usize + 2];
                std::io::Read::read_exact(&mut self.stream, &mut data).map_err(|e| self.io(e))?;
                data.truncate(len as usize);
                Ok(Resp::Bulk(Some(data)))
            }
            b'*' => {
                let len: i64 = body.parse().map_err(|_| not_redis())?;
                if len < 0 {
                    return Ok(Resp::Array(None));
                }
                let mut items = Vec::with_capacity(len as usize);
                for _ in 0..len {
                    items.push(self.read()?);
                }
                Ok(Resp::Array(Some(items)))
            }
            _ => Err(not_redis()),
        }
    }
}

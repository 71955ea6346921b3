//! Servers that do not behave: the RESP client answers each with a clear error, within its
//! deadline, without allocating what the peer announces.

use std::io::Write;
use std::time::{Duration, Instant};

use fragsim::redis::resp::{Connection, Resp, RespError};

use crate::common::tcp_peer;

/// A one-connection server on loopback that reads the command and then runs `script` on the
/// socket, then keeps the socket open a while, as a stuck server would. Returns its address.
fn server(script: impl Fn(&mut std::net::TcpStream) + Send + 'static) -> String {
    tcp_peer(1, Duration::from_secs(3), script).0
}

fn ask(addr: &str, deadline_ms: u64) -> (Result<Resp, RespError>, Duration) {
    let t = Instant::now();
    let mut c = Connection::open(addr)
        .unwrap()
        .with_deadline(Duration::from_millis(deadline_ms));
    (c.call_str(&["PING"]), t.elapsed())
}

fn answer(bytes: &'static [u8]) -> String {
    server(move |s| {
        let _ = s.write_all(bytes);
    })
}

#[test]
fn a_huge_bulk_length_is_refused_without_allocating_it() {
    let (r, took) = ask(&answer(b"$999999999999\r\n"), 2000);
    let e = r.unwrap_err();
    assert!(matches!(e, RespError::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("999999999999"), "{e}");
    assert!(took < Duration::from_secs(1));
}

#[test]
fn a_huge_array_length_is_refused() {
    let (r, _) = ask(&answer(b"*99999999999\r\n"), 2000);
    assert!(matches!(r.unwrap_err(), RespError::TooLarge { .. }));
}

#[test]
fn deeply_nested_arrays_are_refused() {
    let (r, _) = ask(&answer(Box::leak(b"*1\r\n".repeat(64).into_boxed_slice())), 2000);
    let e = r.unwrap_err();
    assert!(e.to_string().contains("nested"), "{e}");
}

#[test]
fn a_silent_server_times_out_at_the_deadline() {
    let (r, took) = ask(&server(|_| {}), 300);
    assert!(matches!(r.unwrap_err(), RespError::Timeout { .. }));
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[test]
fn a_server_that_trickles_bytes_times_out_at_the_deadline() {
    let addr = server(|s| {
        for b in b"$100\r\n".iter().chain([b'x'; 100].iter()) {
            if s.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let (r, took) = ask(&addr, 400);
    assert!(matches!(r.unwrap_err(), RespError::Timeout { .. }));
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn an_endless_line_is_not_redis() {
    let addr = server(|s| {
        let _ = s.write_all(&vec![b'+'; 200 << 10]);
    });
    let (r, _) = ask(&addr, 2000);
    assert!(matches!(r.unwrap_err(), RespError::NotRedis { .. }));
}

#[test]
fn an_http_server_is_not_redis() {
    let (r, _) = ask(&answer(b"HTTP/1.1 400 Bad Request\r\n\r\n"), 2000);
    let e = r.unwrap_err();
    assert!(e.to_string().contains("does not speak the Redis protocol"), "{e}");
}

#[test]
fn a_bulk_without_its_terminator_is_not_redis() {
    let (r, _) = ask(&answer(b"$3\r\nabcXY"), 2000);
    assert!(matches!(r.unwrap_err(), RespError::NotRedis { .. }));
}

#[test]
fn a_large_real_reply_arrives_whole() {
    let addr = server(|s| {
        let mut msg = b"*2\r\n$1048576\r\n".to_vec();
        msg.extend(vec![b'v'; 1 << 20]);
        msg.extend_from_slice(b"\r\n:42\r\n");
        let _ = s.write_all(&msg);
    });
    let (r, _) = ask(&addr, 5000);
    match r.unwrap() {
        Resp::Array(Some(items)) => {
            assert_eq!(items.len(), 2);
            assert_eq!(items[0], Resp::Bulk(Some(vec![b'v'; 1 << 20])));
            assert_eq!(items[1], Resp::Int(42));
        }
        other => panic!("{other:?}"),
    }
}

/// An INFO memory that answers but makes no sense (the fuzz round's servers sent fields missing,
/// negative or out of order, and calibrate wrote a profile of zeros) is refused, naming the field.
#[test]
fn an_info_memory_that_makes_no_sense_is_refused() {
    use fragsim::validate::live_redis::memory_info;
    let good = "# Memory\r\nused_memory:914704\r\nused_memory_startup:876232\r\nused_memory_rss:6709248\r\n\
                allocator_allocated:1690848\r\nallocator_active:1826816\r\nallocator_resident:4497408\r\n\
                mem_allocator:jemalloc-5.3.0\r\n";
    let info = memory_info("a:1", good).unwrap();
    assert_eq!((info.used_memory, info.used_memory_rss), (914_704, 6_709_248));
    for (from, to, says) in [
        ("used_memory:914704", "", "no used_memory field"),
        (
            "used_memory:914704",
            "used_memory:-5",
            "used_memory:-5 is not a whole number",
        ),
        (
            "used_memory_rss:6709248",
            "used_memory_rss:0",
            "used_memory_rss 0",
        ),
        ("allocator_active:1826816", "allocator_active:1", "rising order"),
        ("jemalloc-5.3.0", "libc", "mem_allocator is libc"),
        // The second fuzz round's server repeated every field with another value.
        (
            "used_memory:914704\r\n",
            "used_memory:914704\r\nused_memory:12345\r\n",
            "used_memory appears twice",
        ),
    ] {
        let e = memory_info("a:1", &good.replacen(from, to, 1))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(says) && e.starts_with("a:1 sent an INFO memory"),
            "{e}"
        );
    }
}

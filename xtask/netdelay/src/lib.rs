//! A delaying TCP proxy, modelled on crates.io's test `chaosproxy`: it
//! listens on a loopback port and forwards every connection to an upstream
//! address, holding each chunk of bytes for a set time before passing it
//! on, in each direction. That is a link's latency (a round trip costs twice
//! the delay) without its bandwidth limit: chunks are not serialized behind
//! each other's delay, so a pipelined exchange pays the delay once.
//!
//! Used where loopback would hide the cost of a round trip: the bench puts
//! PostgreSQL behind it, and [`measure_overhead`] says what the proxy adds
//! by itself, so a figure can be read net of it.
//!
//! Plain OS threads, not an async runtime: tokio's timers tick in whole
//! milliseconds, which would turn a 0.5 ms delay into 1–2 ms, while a
//! thread's `sleep` wakes within tens of microseconds; and the proxy must
//! keep forwarding while the program that started it is blocked on
//! something else (the bench waits for wrk). Two threads per direction of
//! each connection; the bench opens a few dozen.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

/// A running proxy; dropping it stops accepting (open connections end when
/// either side closes).
pub struct DelayProxy {
    local: SocketAddr,
    one_way_nanos: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocked `accept`, which then sees the flag.
        let _ = TcpStream::connect(self.local);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl DelayProxy {
    /// Listens on `127.0.0.1:0` and forwards to `upstream`, delaying each
    /// direction by `one_way`.
    pub fn start(upstream: SocketAddr, one_way: Duration) -> Result<DelayProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the delay proxy")?;
        let local = listener.local_addr()?;
        let one_way_nanos = Arc::new(AtomicU64::new(nanos(one_way)));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (delay, stop) = (one_way_nanos.clone(), stop.clone());
            std::thread::Builder::new()
                .name("netdelay-accept".into())
                .spawn(move || {
                    for client in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        let Ok(client) = client else { continue };
                        let delay = delay.clone();
                        std::thread::spawn(move || {
                            if let Ok(server) = TcpStream::connect(upstream) {
                                relay(client, server, &delay);
                            }
                        });
                    }
                })
                .context("starting the delay proxy")?
        };
        Ok(DelayProxy {
            local,
            one_way_nanos,
            stop,
            accept: Some(accept),
        })
    }

    /// Where clients connect.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Changes the delay for every byte that arrives from now on, on open
    /// connections too (so a pool keeps its connections across settings).
    pub fn set_delay(&self, one_way: Duration) {
        self.one_way_nanos.store(nanos(one_way), Ordering::SeqCst);
    }

    pub fn delay(&self) -> Duration {
        Duration::from_nanos(self.one_way_nanos.load(Ordering::SeqCst))
    }
}

/// Both directions of one connection, each delayed; returns when both end.
fn relay(client: TcpStream, server: TcpStream, delay: &Arc<AtomicU64>) {
    // Small messages must not wait for Nagle on either side of the proxy.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(client_out), Ok(server_out)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = {
        let delay = delay.clone();
        std::thread::spawn(move || delayed(client, server_out, &delay))
    };
    delayed(server, client_out, delay);
    let _ = up.join();
}

/// Copies `from` to `to`, each chunk sent its delay after it arrived. The
/// reader never waits for the writer's delay, so chunks keep their spacing.
fn delayed(mut from: TcpStream, to: TcpStream, delay: &AtomicU64) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = {
        let mut to = to.try_clone();
        std::thread::spawn(move || {
            let Ok(to) = to.as_mut() else { return };
            while let Ok((due, chunk)) = rx.recv() {
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if to.write_all(&chunk).is_err() {
                    return;
                }
            }
        })
    };
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let due = Instant::now() + Duration::from_nanos(delay.load(Ordering::Relaxed));
                if tx.send((due, buffer[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.join();
    let _ = to.shutdown(Shutdown::Write);
}

/// The median round trip of a one-byte ping-pong through a proxy with the
/// given delay to a local echo server, and straight to it: what a round
/// trip through the proxy costs beyond its set delay is `(through - direct)
/// - 2 * one_way`.
pub fn measure_overhead(one_way: Duration, rounds: usize) -> Result<RoundTrips> {
    let echo = TcpListener::bind("127.0.0.1:0")?;
    let echo_addr = echo.local_addr()?;
    std::thread::spawn(move || {
        for socket in echo.incoming() {
            let Ok(mut socket) = socket else { return };
            std::thread::spawn(move || {
                let _ = socket.set_nodelay(true);
                let mut byte = [0u8; 1];
                while socket.read_exact(&mut byte).is_ok() {
                    if socket.write_all(&byte).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let proxy = DelayProxy::start(echo_addr, one_way)?;
    let direct = ping_pong(echo_addr, rounds)?;
    let through = ping_pong(proxy.local_addr(), rounds)?;
    Ok(RoundTrips {
        direct,
        through,
        one_way,
    })
}

/// Median round trips measured by [`measure_overhead`].
#[derive(Clone, Copy, Debug)]
pub struct RoundTrips {
    pub direct: Duration,
    pub through: Duration,
    pub one_way: Duration,
}

impl RoundTrips {
    /// What the proxy adds to a round trip beyond the delay it was asked for.
    pub fn overhead(&self) -> Duration {
        self.through
            .saturating_sub(self.direct)
            .saturating_sub(self.one_way * 2)
    }
}

fn ping_pong(addr: SocketAddr, rounds: usize) -> Result<Duration> {
    let mut socket = TcpStream::connect(addr)?;
    socket.set_nodelay(true)?;
    let mut times = Vec::with_capacity(rounds);
    let mut byte = [7u8; 1];
    for _ in 0..rounds.max(1) {
        let started = Instant::now();
        socket.write_all(&byte)?;
        socket.read_exact(&mut byte)?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_trip_through_the_proxy_costs_twice_its_delay() {
        let one_way = Duration::from_millis(5);
        let trips = measure_overhead(one_way, 20).unwrap();
        assert!(
            trips.through >= trips.direct + one_way * 2,
            "{trips:?}: the delay was not applied both ways"
        );
    }

    #[test]
    fn a_sub_millisecond_delay_is_applied_both_ways() {
        // 0.5 ms each way is the bench's link. How close to 1 ms the round
        // trip stays is the bench's to report (it prints the overhead);
        // this only pins the unit.
        let trips = measure_overhead(Duration::from_micros(500), 50).unwrap();
        assert!(trips.through >= Duration::from_millis(1), "{trips:?}");
        assert!(trips.through < Duration::from_millis(50), "{trips:?}");
    }

    #[test]
    fn the_delay_can_change_while_connections_stay_open() {
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let echo_addr = echo.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut socket, _) = echo.accept().unwrap();
            let mut byte = [0u8; 1];
            while socket.read_exact(&mut byte).is_ok() {
                socket.write_all(&byte).unwrap();
            }
        });
        let proxy = DelayProxy::start(echo_addr, Duration::ZERO).unwrap();
        let mut socket = TcpStream::connect(proxy.local_addr()).unwrap();
        socket.set_nodelay(true).unwrap();
        let mut trip = || {
            let started = Instant::now();
            socket.write_all(&[1]).unwrap();
            socket.read_exact(&mut [0u8; 1]).unwrap();
            started.elapsed()
        };
        trip();
        proxy.set_delay(Duration::from_millis(20));
        assert!(trip() >= Duration::from_millis(40));
    }

    #[test]
    fn pipelined_chunks_pay_the_delay_once_not_each() {
        // Ten messages sent back to back arrive about one delay later, not
        // ten: the proxy is latency, not a queue.
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let echo_addr = echo.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut socket, _) = echo.accept().unwrap();
            let mut buffer = [0u8; 10];
            socket.read_exact(&mut buffer).unwrap();
            socket.write_all(&buffer).unwrap();
        });
        let one_way = Duration::from_millis(100);
        let proxy = DelayProxy::start(echo_addr, one_way).unwrap();
        let mut socket = TcpStream::connect(proxy.local_addr()).unwrap();
        socket.set_nodelay(true).unwrap();
        let started = Instant::now();
        for i in 0..10u8 {
            socket.write_all(&[i]).unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
        let mut back = [0u8; 10];
        socket.read_exact(&mut back).unwrap();
        let took = started.elapsed();
        assert_eq!(back, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(took >= one_way * 2, "{took:?}");
        // Queued behind each other's delay they would take over ten delays;
        // the bound leaves a loaded machine room.
        assert!(
            took < one_way * 8,
            "{took:?}: chunks queued behind each other's delay"
        );
    }
}

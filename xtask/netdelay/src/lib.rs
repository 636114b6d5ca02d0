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

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A running proxy; dropping it stops accepting (open connections end when
/// either side closes).
pub struct DelayProxy {
    local: SocketAddr,
    accept: JoinHandle<()>,
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl DelayProxy {
    /// Listens on `127.0.0.1:0` and forwards to `upstream`, delaying each
    /// direction by `one_way`.
    pub async fn start(upstream: SocketAddr, one_way: Duration) -> Result<DelayProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the delay proxy")?;
        let local = listener.local_addr()?;
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, one_way).await;
                    }
                });
            }
        });
        Ok(DelayProxy { local, accept })
    }

    /// Where clients connect.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

/// Both directions of one connection, each delayed.
async fn relay(client: TcpStream, server: TcpStream, one_way: Duration) {
    // Small messages must not wait for Nagle on either side of the proxy.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = tokio::spawn(delayed(client_read, server_write, one_way));
    let down = tokio::spawn(delayed(server_read, client_write, one_way));
    let _ = tokio::join!(up, down);
}

/// Copies `from` to `to`, each chunk sent `delay` after it arrived. The
/// reader never waits for the writer's delay, so chunks keep their spacing.
async fn delayed(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((arrived, chunk)) = rx.recv().await {
            tokio::time::sleep_until((arrived + delay).into()).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx.send((Instant::now(), buffer[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}

/// The median round trip of a one-byte ping-pong through a proxy with the
/// given delay to a local echo server, and straight to it: what a round
/// trip through the proxy costs beyond its set delay is `(through - direct)
/// - 2 * one_way`.
pub async fn measure_overhead(one_way: Duration, rounds: usize) -> Result<RoundTrips> {
    let echo = TcpListener::bind("127.0.0.1:0").await?;
    let echo_addr = echo.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = echo.accept().await {
            tokio::spawn(async move {
                let _ = socket.set_nodelay(true);
                let mut byte = [0u8; 1];
                while socket.read_exact(&mut byte).await.is_ok() {
                    if socket.write_all(&byte).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let proxy = DelayProxy::start(echo_addr, one_way).await?;
    let direct = ping_pong(echo_addr, rounds).await?;
    let through = ping_pong(proxy.local_addr(), rounds).await?;
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

async fn ping_pong(addr: SocketAddr, rounds: usize) -> Result<Duration> {
    let mut socket = TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    let mut times = Vec::with_capacity(rounds);
    let mut byte = [7u8; 1];
    for _ in 0..rounds.max(1) {
        let started = Instant::now();
        socket.write_all(&byte).await?;
        socket.read_exact(&mut byte).await?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_round_trip_through_the_proxy_costs_twice_its_delay() {
        let one_way = Duration::from_millis(5);
        let trips = measure_overhead(one_way, 20).await.unwrap();
        assert!(
            trips.through >= trips.direct + one_way * 2,
            "{trips:?}: the delay was not applied both ways"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipelined_chunks_pay_the_delay_once_not_each() {
        // Ten messages sent back to back arrive about one delay later, not
        // ten: the proxy is latency, not a queue.
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let echo_addr = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = echo.accept().await.unwrap();
            let mut buffer = [0u8; 10];
            socket.read_exact(&mut buffer).await.unwrap();
            socket.write_all(&buffer).await.unwrap();
        });
        let one_way = Duration::from_millis(100);
        let proxy = DelayProxy::start(echo_addr, one_way).await.unwrap();
        let mut socket = TcpStream::connect(proxy.local_addr()).await.unwrap();
        socket.set_nodelay(true).unwrap();
        let started = Instant::now();
        for i in 0..10u8 {
            socket.write_all(&[i]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let mut back = [0u8; 10];
        socket.read_exact(&mut back).await.unwrap();
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

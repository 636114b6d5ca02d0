//! Free TCP ports on the loopback interface.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::Psql;

/// Binds `127.0.0.1:0`, reads the port the kernel chose and releases it. Racy
/// by nature: someone else may take the port before it is used, which is
/// why [`crate::PgCluster`] retries a start on another port.
pub fn free_loopback_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("failed to bind 127.0.0.1:0 to find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// One readiness probe of a server on `127.0.0.1:<port>`: a TCP connect
/// (at most 1 s, so a dead port fails fast without psql), then `select 1`
/// through `psql`.
pub(crate) fn answers_select_1(port: u16, psql: &Psql) -> Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    psql.run("select 1").map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_is_bindable() {
        let port = free_loopback_port().unwrap();
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    }
}

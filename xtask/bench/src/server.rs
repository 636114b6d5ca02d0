//! The release `anitrack-server` under test: started on a free loopback
//! port, stopped (SIGTERM, then SIGKILL) when dropped, so an error anywhere
//! in the bench never leaves it running.

use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anitrack_pg::free_loopback_port;
use anyhow::{Context as _, Result, bail};

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    /// `anitrack-server --database-url URL serve --bind 127.0.0.1:<free> FLAGS`;
    /// returns once `GET /ready` answers 200.
    ///
    /// The server logs at `info` as in production, one line per request on
    /// standard error. That goes into a pipe (as to a log collector), and a
    /// thread here keeps every line but the per-request ones in `log`: at
    /// thousands of requests a second they would fill gigabytes.
    pub fn start(bin: &Path, database_url: &str, flags: &[String], log: &Path) -> Result<Server> {
        let port = free_loopback_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut file = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut child = Command::new(bin)
            .arg("--database-url")
            .arg(database_url)
            .arg("serve")
            .arg("--bind")
            .arg(addr.to_string())
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        if let Some(stderr) = child.stderr.take() {
            std::thread::spawn(move || {
                // Bytes, not strings: a reader that stopped on bad UTF-8
                // would leave the pipe full and stall the server.
                let mut reader = BufReader::new(stderr);
                let mut line = Vec::new();
                while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                    if !line.windows(17).any(|w| w == b"request completed") {
                        let _ = file.write_all(&line);
                    }
                    line.clear();
                }
            });
        }
        let mut server = Server {
            child: Some(child),
            addr,
            log: log.to_path_buf(),
        };
        server.wait_ready()?;
        Ok(server)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.child = None;
                bail!(
                    "anitrack-server exited during start-up ({status}); last lines of {}:\n{}",
                    self.log.display(),
                    tail(&self.log, 30)
                );
            }
            if http_status(self.addr, "/ready").ok() == Some(200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "anitrack-server did not become ready on {} within {READY_TIMEOUT:?}; last lines of {}:\n{}",
                    self.addr,
                    self.log.display(),
                    tail(&self.log, 30)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, a graceful wait, then SIGKILL.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill()?;
        child.wait()?;
        bail!("anitrack-server did not stop within {STOP_TIMEOUT:?} of SIGTERM; killed it")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            eprintln!("bench: {error:#}");
        }
    }
}

/// The status code of a plain `GET path` (HTTP/1.1, connection closed).
pub fn http_status(addr: SocketAddr, path: &str) -> Result<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .context("no HTTP status line")
}

/// The last `lines` lines of a text file.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

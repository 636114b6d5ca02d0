//! Load generators: `wrk` for closed-loop runs (N connections, each sends
//! its next request when the previous answered) and a small open-loop
//! client for fixed-rate runs (requests leave on a schedule whatever the
//! server does; latency is measured from the scheduled start, so a stalled
//! server is not hidden by coordinated omission).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use hdrhistogram::Histogram;

/// One request of a rotation: `path`, bearer `token` (empty: none) and an
/// argument substituted into a body template (`@ARG@`).
#[derive(Clone, Debug)]
pub struct Line {
    pub path: String,
    pub token: String,
    pub arg: String,
}

impl Line {
    pub fn new(path: impl Into<String>, token: impl Into<String>) -> Line {
        Line {
            path: path.into(),
            token: token.into(),
            arg: String::new(),
        }
    }
}

/// Writes a rotation for wrk's script: `PATH<TAB>TOKEN<TAB>ARG` per line.
pub fn write_lines(path: &Path, lines: &[Line]) -> Result<()> {
    let mut text = String::with_capacity(lines.len() * 80);
    for line in lines {
        let _ = writeln!(text, "{}\t{}\t{}", line.path, line.token, line.arg);
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// What a run measured.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub requests: u64,
    pub seconds: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Requests that failed: transport errors, timeouts, non-2xx answers
    /// (and, open-loop, requests not sent because too many were in flight).
    pub errors: u64,
    pub error_detail: String,
    /// Bytes received, headers included (wrk runs only; 0 when unknown).
    pub bytes: u64,
}

impl Stats {
    fn from_histogram(hist: &Histogram<u64>, seconds: f64, errors: u64, detail: String) -> Stats {
        let ms = |us: u64| us as f64 / 1000.0;
        let requests = hist.len() + errors;
        Stats {
            requests,
            seconds,
            rps: if seconds > 0.0 {
                hist.len() as f64 / seconds
            } else {
                0.0
            },
            p50_ms: ms(hist.value_at_quantile(0.50)),
            p90_ms: ms(hist.value_at_quantile(0.90)),
            p99_ms: ms(hist.value_at_quantile(0.99)),
            max_ms: ms(hist.max()),
            errors,
            error_detail: detail,
            bytes: 0,
        }
    }
}

/// The wrk script: rotates through a lines file, prints a JSON summary.
const WRK_SCRIPT: &str = r#"-- Written by `cargo xtask bench` (xtask/bench/src/load.rs).
-- wrk -s THIS URL -- LINES_FILE METHOD START_OFFSET [BODY_TEMPLATE [ARG_HEADER]]
-- LINES_FILE holds PATH<TAB>TOKEN<TAB>ARG per line. Each thread walks the
-- lines in order from its own offset; TOKEN (when not empty) goes into
-- "Authorization: Bearer"; in BODY_TEMPLATE, @ARG@ becomes ARG and @N@ a
-- per-thread counter (so every PATCH changes something); ARG_HEADER (when
-- not empty) is a header sent with ARG as its value (e.g. If-None-Match).
local next_tid = 0
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

local paths, tokens, args, prebuilt = {}, {}, {}, {}
local n, idx, counter = 0, 0, 0
local method, template, arg_header

local function headers_for(token, arg)
  local h = {}
  if token ~= "" then h["Authorization"] = "Bearer " .. token end
  if template then h["Content-Type"] = "application/json" end
  if arg_header then h[arg_header] = arg end
  return h
end

function init(argv)
  local file = argv[1]
  method = argv[2] or "GET"
  local start = tonumber(argv[3]) or 0
  template = argv[4]
  if template == "" then template = nil end
  arg_header = argv[5]
  if arg_header == "" then arg_header = nil end
  for line in io.lines(file) do
    local path, token, arg = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    if path then
      n = n + 1
      paths[n], tokens[n], args[n] = path, token, arg
    end
  end
  if n == 0 then error("no request lines in " .. tostring(file)) end
  if not template then
    for i = 1, n do prebuilt[i] = wrk.format(method, paths[i], headers_for(tokens[i], args[i])) end
  end
  idx = (start + (tid or 0) * math.floor(n / 4)) % n
end

function request()
  idx = idx + 1
  if idx > n then idx = 1 end
  if not template then return prebuilt[idx] end
  counter = counter + 1
  local body = template:gsub("@ARG@", args[idx])
  body = body:gsub("@N@", tostring(counter) .. "-" .. tostring(tid or 0))
  return wrk.format(method, paths[idx], headers_for(tokens[idx], args[idx]), body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d,\"connect\":%d,\"read\":%d,\"write\":%d,\"status\":%d,\"timeout\":%d,\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"max_us\":%d}\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"#;

/// A closed-loop wrk run.
pub struct Wrk<'a> {
    pub base_url: &'a str,
    pub lines: &'a Path,
    pub method: &'a str,
    pub body_template: Option<&'a str>,
    /// A header that carries each line's argument (e.g. `If-None-Match`).
    pub arg_header: Option<&'a str>,
    pub connections: usize,
    pub duration: Duration,
    pub start_offset: usize,
    pub timeout: Duration,
}

pub struct WrkChild {
    child: Child,
}

/// Writes the wrk script into `dir`; returns its path.
pub fn install_script(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("rotate.lua");
    std::fs::write(&path, WRK_SCRIPT).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

impl Wrk<'_> {
    /// One wrk thread: on a 2-core box every core wrk takes is a core the
    /// server and PostgreSQL do not get; one thread drives tens of
    /// thousands of requests a second.
    pub fn spawn(&self, script: &Path) -> Result<WrkChild> {
        let child = Command::new("wrk")
            .arg("-t1")
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{}s", self.duration.as_secs().max(1)))
            .arg(format!("--timeout={}s", self.timeout.as_secs().max(1)))
            .arg("-s")
            .arg(script)
            .arg(self.base_url)
            .arg("--")
            .arg(self.lines)
            .arg(self.method)
            .arg(self.start_offset.to_string())
            .arg(self.body_template.unwrap_or(""))
            .arg(self.arg_header.unwrap_or(""))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting wrk")?;
        Ok(WrkChild { child })
    }

    pub fn run(&self, script: &Path) -> Result<Stats> {
        self.spawn(script)?.finish()
    }
}

impl WrkChild {
    pub fn finish(self) -> Result<Stats> {
        let out = self.child.wait_with_output().context("waiting for wrk")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let Some(json) = stdout.lines().find_map(|l| l.strip_prefix("WRKJSON ")) else {
            bail!(
                "wrk printed no summary ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let v: serde_json::Value = serde_json::from_str(json).context("parsing wrk's summary")?;
        let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        let ms = |k: &str| n(k) as f64 / 1000.0;
        let seconds = n("duration_us") as f64 / 1e6;
        let kinds = ["connect", "read", "write", "timeout", "status"];
        // wrk counts a non-2xx/3xx answer in `status` and still in
        // `requests`; transport errors are not in `requests`.
        let errors: u64 = kinds.iter().map(|k| n(k)).sum();
        let detail = kinds
            .iter()
            .filter(|k| n(k) > 0)
            .map(|k| format!("{k} {}", n(k)))
            .collect::<Vec<_>>()
            .join(", ");
        let ok = n("requests").saturating_sub(n("status"));
        Ok(Stats {
            requests: n("requests"),
            seconds,
            rps: if seconds > 0.0 {
                ok as f64 / seconds
            } else {
                0.0
            },
            p50_ms: ms("p50_us"),
            p90_ms: ms("p90_us"),
            p99_ms: ms("p99_us"),
            max_ms: ms("max_us"),
            errors,
            error_detail: detail,
            bytes: n("bytes"),
        })
    }
}

/// A fixed-rate (open-loop) run.
pub struct OpenLoop<'a> {
    pub base_url: &'a str,
    pub lines: &'a [Line],
    pub method: reqwest::Method,
    /// A JSON body with `@ARG@` (the line's argument) and `@N@` (a counter).
    pub body_template: Option<&'a str>,
    pub rate: f64,
    pub duration: Duration,
    pub start_offset: usize,
    /// Requests beyond this many in flight are not sent and count as errors.
    pub max_in_flight: usize,
}

/// Latencies of an open-loop run, kept so that rounds can be merged.
pub struct OpenLoopResult {
    pub stats: Stats,
    pub histogram: Histogram<u64>,
    pub errors: u64,
    pub detail: String,
}

pub fn new_histogram() -> Result<Histogram<u64>> {
    // 1 µs .. 120 s, 3 significant digits.
    Histogram::new_with_bounds(1, 120_000_000, 3).context("creating a histogram")
}

pub fn merged_stats(results: &[&OpenLoopResult]) -> Result<Stats> {
    let mut hist = new_histogram()?;
    let mut seconds = 0.0;
    let mut errors = 0;
    for r in results {
        hist.add(&r.histogram).context("merging histograms")?;
        seconds += r.stats.seconds;
        errors += r.errors;
    }
    Ok(Stats::from_histogram(
        &hist,
        seconds,
        errors,
        results
            .iter()
            .map(|r| r.detail.as_str())
            .filter(|d| !d.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
    ))
}

impl OpenLoop<'_> {
    pub async fn run(&self, client: &reqwest::Client) -> Result<OpenLoopResult> {
        if self.lines.is_empty() || self.rate <= 0.0 {
            bail!("an open-loop run needs requests and a positive rate");
        }
        let hist = Arc::new(Mutex::new(new_histogram()?));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let failed_status = Arc::new(Mutex::new(std::collections::BTreeMap::<u16, u64>::new()));
        let transport = Arc::new(AtomicU64::new(0));
        let mut dropped = 0u64;
        let total = (self.rate * self.duration.as_secs_f64()).round() as u64;
        let start = tokio::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..total {
            let due = start + Duration::from_secs_f64(i as f64 / self.rate);
            tokio::time::sleep_until(due).await;
            // Reap finished tasks as we go so the set stays small.
            while tasks.try_join_next().is_some() {}
            if in_flight.load(Ordering::Relaxed) >= self.max_in_flight {
                dropped += 1;
                continue;
            }
            let line = &self.lines[(self.start_offset + i as usize) % self.lines.len()];
            let mut request = client.request(
                self.method.clone(),
                format!("{}{}", self.base_url, line.path),
            );
            if !line.token.is_empty() {
                request = request.bearer_auth(&line.token);
            }
            if let Some(template) = self.body_template {
                let body = template
                    .replace("@ARG@", &line.arg)
                    .replace("@N@", &format!("{i}-o"));
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body);
            }
            let (hist, in_flight, failed_status, transport) = (
                hist.clone(),
                in_flight.clone(),
                failed_status.clone(),
                transport.clone(),
            );
            in_flight.fetch_add(1, Ordering::Relaxed);
            tasks.spawn(async move {
                let outcome = match request.send().await {
                    Ok(response) => {
                        let status = response.status();
                        match response.bytes().await {
                            Ok(_) if status.is_success() => Ok(()),
                            Ok(_) => Err(Some(status.as_u16())),
                            Err(_) => Err(None),
                        }
                    }
                    Err(_) => Err(None),
                };
                let micros = due.elapsed().as_micros().clamp(1, 120_000_000) as u64;
                match outcome {
                    Ok(()) => {
                        if let Ok(mut h) = hist.lock() {
                            let _ = h.record(micros);
                        }
                    }
                    Err(Some(code)) => {
                        if let Ok(mut m) = failed_status.lock() {
                            *m.entry(code).or_default() += 1;
                        }
                    }
                    Err(None) => {
                        transport.fetch_add(1, Ordering::Relaxed);
                    }
                }
                in_flight.fetch_sub(1, Ordering::Relaxed);
            });
        }
        while tasks.join_next().await.is_some() {}
        let seconds = start.elapsed().as_secs_f64();
        let histogram = hist
            .lock()
            .map_err(|_| anyhow::anyhow!("histogram lock poisoned"))?
            .clone();
        let statuses = failed_status
            .lock()
            .map_err(|_| anyhow::anyhow!("status lock poisoned"))?
            .clone();
        let transport = transport.load(Ordering::Relaxed);
        let mut detail: Vec<String> = statuses
            .iter()
            .map(|(code, n)| format!("status {code}: {n}"))
            .collect();
        if transport > 0 {
            detail.push(format!("transport {transport}"));
        }
        if dropped > 0 {
            detail.push(format!(
                "not sent (over {} in flight) {dropped}",
                self.max_in_flight
            ));
        }
        let errors = statuses.values().sum::<u64>() + transport + dropped;
        let detail = detail.join(", ");
        Ok(OpenLoopResult {
            stats: Stats::from_histogram(&histogram, seconds, errors, detail.clone()),
            histogram,
            errors,
            detail,
        })
    }
}

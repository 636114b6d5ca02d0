//! The table printed at the end and `target/bench/results.json`.

use std::fmt::Write as _;

use super::load::Stats;
use super::sys::CpuUse;

/// One measured run.
pub struct Run {
    pub scenario: &'static str,
    pub name: String,
    /// Which tool produced the numbers.
    pub tool: &'static str,
    /// `closed c=32` or `fixed 500/s`.
    pub mode: String,
    pub stats: Stats,
    pub cpu: CpuUse,
}

impl Run {
    /// `seconds` of CPU per successful request, in µs.
    pub fn per_request_us(&self, seconds: f64) -> f64 {
        let ok = self.stats.requests.saturating_sub(self.stats.errors);
        if ok == 0 {
            0.0
        } else {
            seconds * 1e6 / ok as f64
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let s = &self.stats;
        serde_json::json!({
            "scenario": self.scenario,
            "name": self.name,
            "tool": self.tool,
            "mode": self.mode,
            "requests": s.requests,
            "seconds": round(s.seconds, 2),
            "rps": round(s.rps, 1),
            "p50_ms": round(s.p50_ms, 3),
            "p90_ms": round(s.p90_ms, 3),
            "p99_ms": round(s.p99_ms, 3),
            "max_ms": round(s.max_ms, 3),
            "errors": s.errors,
            "error_detail": s.error_detail,
            "bytes_per_response": (s.bytes > 0 && s.requests > 0)
                .then(|| round(s.bytes as f64 / s.requests as f64, 0)),
            "cpu_us_per_request": {
                "server": round(self.per_request_us(self.cpu.server), 1),
                "postgres": round(self.per_request_us(self.cpu.postgres), 1),
                "load_generator": round(self.per_request_us(self.cpu.load), 1),
            },
            "other_load_cores": round(self.other_cores(), 2),
        })
    }

    /// CPU used by everything else on the machine, in cores.
    fn other_cores(&self) -> f64 {
        if self.cpu.wall > 0.0 {
            self.cpu.other / self.cpu.wall
        } else {
            0.0
        }
    }
}

pub fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

/// The runs as a fixed-width table.
pub fn runs_table(runs: &[Run]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<9} {:<28} {:<8} {:<13} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}  {:>6} {:>6} {:>6} {:>5}",
        "scenario",
        "run",
        "tool",
        "mode",
        "requests",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "errors",
        "srv µs",
        "pg µs",
        "gen µs",
        "other"
    );
    for r in runs {
        let s = &r.stats;
        let _ = writeln!(
            out,
            "{:<9} {:<28} {:<8} {:<13} {:>8} {:>8.0} {:>8.2} {:>8.2} {:>8.2} {:>6}  {:>6.0} {:>6.0} {:>6.0} {:>5.2}",
            r.scenario,
            r.name,
            r.tool,
            r.mode,
            s.requests,
            s.rps,
            s.p50_ms,
            s.p90_ms,
            s.p99_ms,
            s.errors,
            r.per_request_us(r.cpu.server),
            r.per_request_us(r.cpu.postgres),
            r.per_request_us(r.cpu.load),
            r.other_cores(),
        );
    }
    out
}

/// A headline figure and its target.
pub struct Figure {
    pub key: &'static str,
    pub value: f64,
    pub unit: &'static str,
    pub target: Option<Target>,
}

#[derive(Clone, Copy)]
pub enum Target {
    AtLeast(f64),
    AtMost(f64),
}

impl Figure {
    pub fn plain(key: &'static str, value: f64, unit: &'static str) -> Figure {
        Figure {
            key,
            value,
            unit,
            target: None,
        }
    }

    pub fn met(&self) -> Option<bool> {
        self.target.map(|t| match t {
            Target::AtLeast(x) => self.value >= x,
            Target::AtMost(x) => self.value <= x,
        })
    }

    fn target_text(&self) -> String {
        match self.target {
            Some(Target::AtLeast(x)) => format!(">= {x}"),
            Some(Target::AtMost(x)) => format!("<= {x}"),
            None => String::new(),
        }
    }
}

pub fn figures_table(figures: &[Figure]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<34} {:>12} {:<6} {:<10} verdict",
        "figure", "value", "unit", "target"
    );
    for f in figures {
        let verdict = match f.met() {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "",
        };
        let _ = writeln!(
            out,
            "{:<34} {:>12.2} {:<6} {:<10} {}",
            f.key,
            f.value,
            f.unit,
            f.target_text(),
            verdict
        );
    }
    out
}

pub fn figures_json(figures: &[Figure]) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    for f in figures {
        map.insert(f.key.to_string(), serde_json::json!(round(f.value, 3)));
    }
    map
}

pub fn targets_json(figures: &[Figure]) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for f in figures {
        if let Some(met) = f.met() {
            map.insert(
                f.key.to_string(),
                serde_json::json!({ "target": f.target_text(), "met": met }),
            );
        }
    }
    serde_json::Value::Object(map)
}

pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

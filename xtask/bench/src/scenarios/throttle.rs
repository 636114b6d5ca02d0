//! Throttle at scale: what 100,000 distinct active tokens cost against
//! 100, on server B (the per-token limit raised so that 100 tokens can
//! carry the load).

use anyhow::Result;

use crate::plan::RAISED_LIMIT;
use crate::report::{self, Figure, Target, median};
use crate::runner::{Bench, Closed, ratio};
use crate::server::Server;

impl Bench<'_> {
    /// Reads over 100 tokens vs over every bench token, on server B (the
    /// per-token limit raised so that 100 tokens can carry the load; both
    /// sides run on it).
    pub(crate) fn throttle(&mut self, server: &Server) -> Result<Vec<Figure>> {
        let many = self.lines.read_all_lines.len();
        println!("bench: throttle at scale: reads over 100 vs {many} distinct tokens");
        let read_100 = self.lines.read_100.clone();
        let read_all = self.lines.read_all.clone();
        let run = self.plan.run;
        self.sweep_tokens(server)?;
        let (mut few, mut lots) = (Vec::new(), Vec::new());
        // Two more rounds than elsewhere: this figure is a small difference
        // of two noisy throughputs (±15 % between 15 s runs on this box).
        let rounds = if self.plan.rounds > 1 {
            self.plan.rounds + 2
        } else {
            1
        };
        for round in 1..=rounds {
            let name = format!("read 100 tokens #{round}");
            let c = Closed::get("throttle", &name, &read_100, run);
            few.push(self.closed(server, c, false)?.rps);
            let name = format!("read {many} tokens #{round}");
            let c = Closed {
                shared: true,
                ..Closed::get("throttle", &name, &read_all, run)
            };
            lots.push(self.closed(server, c, false)?.rps);
        }
        // Each round's pair ran back to back, so its ratio cancels the slow
        // drift of a shared box; the median of the pairs ignores one stall.
        let mut overheads: Vec<f64> = few
            .iter()
            .zip(&lots)
            .map(|(f, l)| (ratio(*f, *l) - 1.0) * 100.0)
            .collect();
        let per_round: Vec<f64> = overheads.iter().map(|o| report::round(*o, 1)).collect();
        let overhead = median(&mut overheads);
        let (few_rps, lots_rps) = (median(&mut few), median(&mut lots));
        self.notes.insert(
            "throttle".into(),
            serde_json::json!({
                "few_tokens": 100,
                "many_tokens": many,
                "few_rps": report::round(few_rps, 1),
                "many_rps": report::round(lots_rps, 1),
                "overhead_pct_per_round": per_round,
                "overhead_pct_of_medians": report::round((ratio(few_rps, lots_rps) - 1.0) * 100.0, 1),
                "per_token_limit_raised_to": RAISED_LIMIT,
            }),
        );
        Ok(vec![Figure {
            key: "throttle_100k_overhead_pct",
            value: overhead,
            unit: "%",
            target: Some(Target::AtMost(10.0)),
        }])
    }
}

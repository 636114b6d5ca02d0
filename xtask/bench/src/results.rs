//! The end of a run: `target/bench/results.json` and the tables.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, Result};

use crate::plan::{CONNECTIONS, POOL_SIZE};
use crate::report::{self, Figure, Run};
use crate::runner::Bench;
use crate::sys;

impl Bench<'_> {
    pub fn finish(self, root: &Path, figures: &[Figure], started: Instant) -> Result<()> {
        let (commit, dirty) = sys::git_commit(root);
        let mut json = report::figures_json(figures);
        json.insert("targets".into(), report::targets_json(figures));
        json.insert(
            "mode".into(),
            serde_json::json!(if self.plan.quick { "quick" } else { "full" }),
        );
        json.insert(
            "date".into(),
            serde_json::json!(chrono::Utc::now().to_rfc3339()),
        );
        json.insert("commit".into(), serde_json::json!(commit));
        json.insert("work_tree_dirty".into(), serde_json::json!(dirty));
        json.insert("machine".into(), sys::machine(&self.pgbench));
        json.insert("seed".into(), self.data.sizes.to_json());
        json.insert(
            "plan".into(),
            serde_json::json!({
                "run_seconds": self.plan.run.as_secs(),
                "warm_up_seconds": self.plan.warm.as_secs(),
                "rounds": self.plan.rounds,
                "http_connections": CONNECTIONS,
                "db_pool_size": POOL_SIZE,
                "pgbench_clients": POOL_SIZE,
            }),
        );
        json.insert("notes".into(), serde_json::Value::Object(self.notes));
        json.insert(
            "runs".into(),
            serde_json::Value::Array(self.runs.iter().map(Run::to_json).collect()),
        );
        json.insert(
            "elapsed_seconds".into(),
            serde_json::json!(report::round(started.elapsed().as_secs_f64(), 1)),
        );
        let path = self.dir.join("results.json");
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&serde_json::Value::Object(json))?,
        )
        .with_context(|| format!("writing {}", path.display()))?;

        println!();
        print!("{}", report::runs_table(&self.runs));
        println!(
            "(srv/pg/gen µs: CPU per successful request of the server, PostgreSQL and the load generator; other: cores used by the rest of the machine)"
        );
        println!();
        print!("{}", report::figures_table(figures));
        println!();
        println!(
            "bench: done in {:.0} s; wrote {}",
            started.elapsed().as_secs_f64(),
            path.display()
        );
        Ok(())
    }
}

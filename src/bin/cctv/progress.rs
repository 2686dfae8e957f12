// SPDX-License-Identifier: MIT
//! Progress: one bar per running job on a terminal (bytes, frames, rate,
//! ETA), plain lines every few seconds otherwise, nothing with `--quiet`.

use crate::out::errln;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
    plain: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        Self {
            multi: (!quiet && terminal)
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            plain: !quiet && !terminal,
        }
    }

    pub fn job(&self, name: &str, total_bytes: u64) -> Job {
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new(total_bytes));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:20!} [{bar:25}] {bytes}/{total_bytes} {msg} {bytes_per_sec} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(name.to_string());
            bar
        });
        Job {
            bar,
            plain: self.plain,
            name: name.to_string(),
            total: total_bytes,
            started: Instant::now(),
            last_line: Instant::now(),
            last_json: Instant::now(),
        }
    }

    /// A line that does not disturb the bars.
    pub fn println(&self, line: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(line);
            }
            None => errln!("{line}"),
        }
    }
}

pub struct Job {
    bar: Option<ProgressBar>,
    plain: bool,
    name: String,
    total: u64,
    started: Instant,
    last_line: Instant,
    last_json: Instant,
}

impl Job {
    pub fn update(&mut self, bytes: u64, frames: u64) {
        // batch (plan.rs): --log-json progress, every 2 s per job.
        if crate::plan::log_enabled() && self.last_json.elapsed() >= crate::plan::log_interval() {
            self.last_json = Instant::now();
            let elapsed = self.started.elapsed().as_secs_f64();
            crate::plan::log_progress(&self.name, bytes, self.total, frames, elapsed);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(bytes.min(self.total));
            bar.set_message(format!("{frames} frames"));
        } else if self.plain && self.last_line.elapsed() >= Duration::from_secs(2) {
            self.last_line = Instant::now();
            let pct = if self.total > 0 {
                bytes.min(self.total) as f64 * 100.0 / self.total as f64
            } else {
                0.0
            };
            let rate = bytes as f64 / self.started.elapsed().as_secs_f64().max(1e-3) / 1e6;
            errln!(
                "{}: {pct:.0}% ({:.1}/{:.1} MB, {frames} frames, {rate:.1} MB/s)",
                self.name,
                bytes as f64 / 1e6,
                self.total as f64 / 1e6
            );
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

// SPDX-License-Identifier: MIT
//! Output names of a `convert` run: unique within the run (`name-2.mp4`
//! for the second input called `name`), given in input order whatever the
//! timing of the parallel jobs, in linear time over any number of inputs.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Names taken so far in one output directory.
#[derive(Default)]
pub struct Namer {
    taken: HashSet<OsString>,
    /// Per wanted name, the next suffix to try: each suffix is tried once
    /// per wanted name, so N inputs with one name cost O(N), not O(N²)
    /// probes of an O(N) list.
    next: HashMap<OsString, u64>,
}

impl Namer {
    /// `base.ext`, or `base-N.ext` with the smallest N ≥ 2 not taken.
    pub fn claim(&mut self, base: &OsStr, ext: &str) -> OsString {
        let with = |suffix: Option<u64>| {
            let mut n = base.to_os_string();
            if let Some(k) = suffix {
                n.push(format!("-{k}"));
            }
            n.push(".");
            n.push(ext);
            n
        };
        let first = with(None);
        if self.taken.insert(first.clone()) {
            return first;
        }
        let k = self.next.entry(first).or_insert(2);
        loop {
            let candidate = with(Some(*k));
            *k += 1;
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
        }
    }
}

/// The namer, handed to the inputs in their order: input `i` names its
/// outputs only after inputs `0..i` have named theirs (or failed before).
pub struct Turns {
    state: Mutex<(usize, Namer)>,
    changed: Condvar,
}

impl Turns {
    pub fn new() -> Self {
        Self {
            state: Mutex::new((0, Namer::default())),
            changed: Condvar::new(),
        }
    }

    fn wait_for(&self, i: usize) -> MutexGuard<'_, (usize, Namer)> {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while g.0 < i {
            g = self.changed.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        g
    }

    /// Input `i`'s ticket. Its drop gives the turn on if `i` never named
    /// anything (failed, interrupted or panicked first), so later inputs
    /// cannot wait for it forever.
    pub fn ticket(&self, i: usize) -> Ticket<'_> {
        Ticket { turns: self, i }
    }
}

pub struct Ticket<'a> {
    turns: &'a Turns,
    i: usize,
}

impl Ticket<'_> {
    /// Runs `f` with the namer on this input's turn. Inputs that come
    /// earlier and are still being planned are waited for (they were taken
    /// by other jobs before this one, so they are running).
    pub fn with_namer<T>(&self, f: impl FnOnce(&mut Namer) -> T) -> T {
        let mut g = self.turns.wait_for(self.i);
        let r = if g.0 == self.i {
            let r = f(&mut g.1);
            g.0 = self.i + 1;
            r
        } else {
            // Cannot happen (one naming per ticket): name anyway.
            f(&mut g.1)
        };
        drop(g);
        self.turns.changed.notify_all();
        r
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut g = self.turns.wait_for(self.i);
        if g.0 == self.i {
            g.0 = self.i + 1;
            drop(g);
            self.turns.changed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn suffixes_in_order_and_around_names_already_taken() {
        let mut n = Namer::default();
        let c = |n: &mut Namer, b: &str| n.claim(OsStr::new(b), "mp4").into_string().unwrap();
        assert_eq!(c(&mut n, "a"), "a.mp4");
        assert_eq!(c(&mut n, "a-3"), "a-3.mp4");
        assert_eq!(c(&mut n, "a"), "a-2.mp4");
        assert_eq!(c(&mut n, "a"), "a-4.mp4");
        assert_eq!(c(&mut n, "a-2"), "a-2-2.mp4");
    }

    #[test]
    fn many_same_named_inputs_are_named_in_linear_time() {
        // 1,600 took 27 s with a list searched for each suffix (O(N³)).
        let t = Instant::now();
        let mut n = Namer::default();
        let mut last = OsString::new();
        for _ in 0..20_000 {
            last = n.claim(OsStr::new("camera-0001"), "mp4");
        }
        assert_eq!(last, "camera-0001-20000.mp4");
        assert!(t.elapsed().as_secs_f64() < 2.0, "{:?}", t.elapsed());
    }

    #[test]
    fn turns_follow_the_input_order() {
        let turns = Turns::new();
        let order = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for i in (0..8).rev() {
                let (turns, order) = (&turns, &order);
                s.spawn(move || {
                    let t = turns.ticket(i);
                    if i == 3 {
                        // Fails before naming: the others go on.
                        return;
                    }
                    t.with_namer(|_| order.lock().unwrap().push(i));
                });
            }
        });
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 4, 5, 6, 7]);
    }
}

// SPDX-License-Identifier: MIT
//! What the command line names: files, rf1 segments or camera directories,
//! or directories searched for recordings (recognised by content).

use gstcctv::engine::probe;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Pavs,
    Says,
    Rf1,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pavs => "pavs",
            Kind::Says => "says",
            Kind::Rf1 => "rf1",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Recording {
    pub path: PathBuf,
    pub kind: Kind,
    /// Output file names start with this.
    pub stem: String,
    /// The rf1 track a track file names (`<base>_<track>.rf1i`).
    pub track: Option<String>,
}

/// An input that cannot be used: the name as given and why.
pub struct Failure {
    pub name: PathBuf,
    pub reason: String,
}

/// Expands the inputs in order. Every recording found, and one failure per
/// unusable input.
pub fn expand(args: &[PathBuf]) -> (Vec<Recording>, Vec<Failure>) {
    let mut found = Vec::new();
    let mut failed = Vec::new();
    for arg in args {
        match classify(arg) {
            Ok(list) => found.extend(list),
            Err(reason) => failed.push(Failure {
                name: arg.clone(),
                reason,
            }),
        }
    }
    (found, failed)
}

fn classify(path: &Path) -> Result<Vec<Recording>, String> {
    if !path.exists() {
        if let Some(rec) = rf1_segment_base(path) {
            return Ok(vec![rec]);
        }
        return Err("no such file or directory".into());
    }
    if path.is_dir() {
        let mut out = Vec::new();
        walk(path, &mut out).map_err(|e| format!("cannot read directory: {e}"))?;
        if out.is_empty() {
            return Err("no recordings found in this directory".into());
        }
        return Ok(out);
    }
    match recognise_file(path) {
        Ok(Some(rec)) => Ok(vec![rec]),
        Ok(None) => {
            Err("not a known recording (VMax .psf, Rosco .nvr or Cyclops rf1 .rf1i/.rf1p)".into())
        }
        Err(e) => Err(format!("cannot read: {e}")),
    }
}

fn stem_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "recording".into())
}

fn has_rf1_index(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "rf1i"))
    })
}

/// `dir/<base>` naming a segment whose `<base>_<track>.rf1i` files exist.
fn rf1_segment_base(path: &Path) -> Option<Recording> {
    let name = path.file_name()?.to_str()?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let prefix = format!("{name}_");
    let any = fs::read_dir(dir).ok()?.flatten().any(|e| {
        let n = e.file_name();
        let n = n.to_string_lossy();
        n.starts_with(&prefix) && n.ends_with(".rf1i")
    });
    any.then(|| Recording {
        path: path.to_path_buf(),
        kind: Kind::Rf1,
        stem: name.to_string(),
        track: None,
    })
}

fn walk(dir: &Path, out: &mut Vec<Recording>) -> std::io::Result<()> {
    if has_rf1_index(dir) {
        out.push(Recording {
            path: dir.to_path_buf(),
            kind: Kind::Rf1,
            stem: stem_of(dir),
            track: None,
        });
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)?.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out)?;
        } else if let Ok(Some(rec)) = recognise_file(&path) {
            out.push(rec);
        }
    }
    Ok(())
}

/// A file recognised by content (rf1 track files by name: they have no
/// magic of their own in the packet file).
fn recognise_file(path: &Path) -> std::io::Result<Option<Recording>> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if ext == "rf1i" || ext == "rf1p" {
        // `<base>_<track>`: the file names its track, and so does the
        // output (`<base>_<track>.mp4`).
        let stem = stem_of(path);
        let track = stem
            .split_once('_')
            .map(|(_, t)| t.to_string())
            .filter(|t| !t.is_empty());
        return Ok(Some(Recording {
            path: path.to_path_buf(),
            kind: Kind::Rf1,
            stem,
            track,
        }));
    }
    let mut head = Vec::with_capacity(probe::PAVS_PROBE_WINDOW);
    fs::File::open(path)?
        .take(probe::PAVS_PROBE_WINDOW as u64)
        .read_to_end(&mut head)?;
    let kind = if probe::says(&head).is_some() {
        Kind::Says
    } else if probe::pavs(&head).is_some() {
        Kind::Pavs
    } else {
        return Ok(None);
    };
    Ok(Some(Recording {
        path: path.to_path_buf(),
        kind,
        stem: stem_of(path),
        track: None,
    }))
}

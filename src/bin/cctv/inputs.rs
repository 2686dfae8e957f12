// SPDX-License-Identifier: MIT
//! What the command line names: files, rf1 segments or camera directories,
//! or directories searched for recordings (recognised by content).

use crate::files::{self, FileId};
use crate::out::{self, errln};
use gstcctv::engine::probe;
use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
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
    /// Output file names start with this (the input's own bytes: a name
    /// that is not UTF-8 stays as it is).
    pub stem: OsString,
    /// The rf1 track a track file names (`<base>_<track>.rf1i`).
    pub track: Option<String>,
}

/// An input that cannot be used: the name as given and why.
pub struct Failure {
    pub name: PathBuf,
    pub reason: String,
}

/// Expands the inputs in order. Every recording found, once per real file
/// (device and inode: links and repeated names are one recording), and one
/// failure per unusable input. Things in searched directories that are
/// not regular files (FIFOs, sockets, devices) are never opened: each is
/// reported as skipped on stderr.
pub fn expand(args: &[PathBuf]) -> (Vec<Recording>, Vec<Failure>) {
    let mut found = Vec::new();
    let mut failed = Vec::new();
    let mut seen = HashSet::new();
    for arg in args {
        match classify(arg, &mut seen) {
            Ok(list) => found.extend(list),
            Err(reason) => failed.push(Failure {
                name: arg.clone(),
                reason,
            }),
        }
    }
    (found, failed)
}

fn classify(path: &Path, seen: &mut HashSet<FileId>) -> Result<Vec<Recording>, String> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(rec) = rf1_segment_base(path) {
                return Ok(vec![rec]);
            }
            return Err("no such file or directory".into());
        }
        Err(e) => return Err(format!("cannot read: {e}")),
    };
    if !seen.insert(FileId::of_meta(&meta)) {
        // Named already (itself, through a link, or inside a directory).
        return Ok(Vec::new());
    }
    if meta.is_dir() {
        let mut out = Vec::new();
        let mut repeated = false;
        walk(path, seen, &mut out, &mut repeated)
            .map_err(|e| format!("cannot read directory: {e}"))?;
        if out.is_empty() && !repeated {
            return Err("no recordings found in this directory".into());
        }
        return Ok(out);
    }
    if !meta.is_file() {
        return Err(format!("not a regular file ({})", files::kind_name(&meta)));
    }
    match recognise_file(path) {
        Ok(Some(rec)) => Ok(vec![rec]),
        Ok(None) => {
            Err("not a known recording (VMax .psf, Rosco .nvr or Cyclops rf1 .rf1i/.rf1p)".into())
        }
        Err(e) => Err(format!("cannot read: {e}")),
    }
}

fn stem_of(path: &Path) -> OsString {
    path.file_stem()
        .map(OsStr::to_os_string)
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
    let name = path.file_name()?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let mut prefix = name.as_bytes().to_vec();
    prefix.push(b'_');
    let any = fs::read_dir(dir).ok()?.flatten().any(|e| {
        let n = e.file_name();
        n.as_bytes().starts_with(&prefix) && n.as_bytes().ends_with(b".rf1i")
    });
    any.then(|| Recording {
        path: path.to_path_buf(),
        kind: Kind::Rf1,
        stem: name.to_os_string(),
        track: None,
    })
}

/// Sorted entries of `dir`.
fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)?.flatten().map(|e| e.path()).collect();
    entries.sort();
    Ok(entries)
}

/// Depth first in name order, each real directory and file once (links
/// to `.` or `..` cannot loop), with an explicit stack (no recursion
/// limit from the nesting depth). Only regular files are opened.
fn walk(
    root: &Path,
    seen: &mut HashSet<FileId>,
    out: &mut Vec<Recording>,
    repeated: &mut bool,
) -> std::io::Result<()> {
    if has_rf1_index(root) {
        out.push(Recording {
            path: root.to_path_buf(),
            kind: Kind::Rf1,
            stem: stem_of(root),
            track: None,
        });
        return Ok(());
    }
    let mut stack = vec![sorted_entries(root)?.into_iter()];
    while let Some(top) = stack.last_mut() {
        let Some(path) = top.next() else {
            stack.pop();
            continue;
        };
        // Links followed; a dangling link is nothing.
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if !seen.insert(FileId::of_meta(&meta)) {
            *repeated = true;
            continue;
        }
        if meta.is_dir() {
            if has_rf1_index(&path) {
                out.push(Recording {
                    path: path.clone(),
                    kind: Kind::Rf1,
                    stem: stem_of(&path),
                    track: None,
                });
                continue;
            }
            match sorted_entries(&path) {
                Ok(entries) => stack.push(entries.into_iter()),
                Err(e) => errln!(
                    "cctv: {}: skipped: cannot read directory: {e}",
                    out::path(&path)
                ),
            }
        } else if meta.is_file() {
            if let Ok(Some(rec)) = recognise_file(&path) {
                out.push(rec);
            }
        } else {
            errln!(
                "cctv: {}: skipped: not a regular file ({})",
                out::path(&path),
                files::kind_name(&meta)
            );
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
            .as_bytes()
            .splitn(2, |&b| b == b'_')
            .nth(1)
            .filter(|t| !t.is_empty())
            .map(|t| String::from_utf8_lossy(t).into_owned());
        return Ok(Some(Recording {
            path: path.to_path_buf(),
            kind: Kind::Rf1,
            stem,
            track,
        }));
    }
    let mut head = Vec::with_capacity(probe::PAVS_PROBE_WINDOW);
    files::open_regular(path)?
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

/// The identities of every file a recording reads (an rf1 directory or
/// segment is many files): no output may be one of them.
pub fn file_ids(rec: &Recording) -> Vec<FileId> {
    let mut ids: Vec<FileId> = files::id_of(&rec.path).into_iter().collect();
    if rec.kind != Kind::Rf1 {
        return ids;
    }
    let mut dirs = Vec::new();
    let mut seen = HashSet::new();
    if rec.path.is_dir() {
        dirs.push(rec.path.clone());
    } else if let Some(name) = rec.path.file_name() {
        let dir = rec.path.parent().filter(|p| !p.as_os_str().is_empty());
        let dir = dir.unwrap_or(Path::new("."));
        let base = rec.stem.as_bytes();
        for e in fs::read_dir(dir).into_iter().flatten().flatten() {
            let n = e.file_name();
            if n.as_bytes().starts_with(base) || n == name {
                ids.extend(files::id_of(&e.path()));
            }
        }
    }
    while let Some(d) = dirs.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(m) = fs::metadata(e.path()) else {
                continue;
            };
            let id = FileId::of_meta(&m);
            if !seen.insert(id) {
                continue;
            }
            if m.is_dir() {
                dirs.push(e.path());
            } else {
                ids.push(id);
            }
        }
    }
    ids
}

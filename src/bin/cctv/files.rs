// SPDX-License-Identifier: MIT
//! Files as the file system knows them: identity (device and inode, so a
//! hard link or a symlink is the same file), opening only regular files,
//! handing an already opened file to GStreamer, and temporary outputs that
//! cannot be redirected through a planted link.

use anyhow::{Result, anyhow};
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A file's identity: two names with the same one are the same file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    pub fn of_meta(m: &fs::Metadata) -> Self {
        Self {
            dev: m.dev(),
            ino: m.ino(),
        }
    }
}

/// The identity of what `path` names (links followed); `None` if nothing.
pub fn id_of(path: &Path) -> Option<FileId> {
    fs::metadata(path).ok().map(|m| FileId::of_meta(&m))
}

/// What kind of thing a non-regular file is, for messages.
pub fn kind_name(m: &fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else if t.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// Opens `path` for reading only if it is a regular file. Non-blocking, so
/// that a FIFO swapped in after the check cannot stall the open; the type
/// is checked again on what was opened.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    let not_regular = |m: &fs::Metadata| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a regular file ({})", kind_name(m)),
        )
    };
    let m = fs::metadata(path)?;
    if !m.is_file() {
        return Err(not_regular(&m));
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let m = file.metadata()?;
    if !m.is_file() {
        return Err(not_regular(&m));
    }
    Ok(file)
}

/// A path GStreamer can open that names exactly `file`, already open:
/// `/proc/self/fd/N`. GStreamer locations are UTF-8 strings, so a name
/// that is not UTF-8 would otherwise be spelt lossily (and could name
/// another file); and reopening by name could meet a different file.
/// Without /proc: the name itself when it is UTF-8.
pub fn gst_location(file: &File, path: &Path) -> Result<PathBuf> {
    let fd = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    if fd.exists() {
        return Ok(fd);
    }
    path.to_str()
        .map(PathBuf::from)
        .ok_or_else(|| anyhow!("this name is not UTF-8 and /proc is not mounted: rename the file"))
}

/// Temporary files: `.cctv-<12 random characters>.part` in the output
/// directory (short, whatever the output name: within NAME_MAX).
const PART_PREFIX: &str = ".cctv-";
const PART_SUFFIX: &str = ".part";
const PART_RANDOM: usize = 12;

/// Whether `name` is one of our temporary files.
fn is_part_name(name: &[u8]) -> bool {
    name.len() == PART_PREFIX.len() + PART_RANDOM + PART_SUFFIX.len()
        && name.starts_with(PART_PREFIX.as_bytes())
        && name.ends_with(PART_SUFFIX.as_bytes())
        && name[PART_PREFIX.len()..PART_PREFIX.len() + PART_RANDOM]
            .iter()
            .all(u8::is_ascii_alphanumeric)
}

/// An output being written: created exclusively (`O_EXCL`: a planted link
/// or file at the name makes creation pick another name, never follow it),
/// locked while this process lives (so a later run can tell a part of a
/// killed run from one being written), removed on drop unless persisted.
pub struct Part {
    file: tempfile::NamedTempFile,
}

impl Part {
    pub fn new_in(dir: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let file = tempfile::Builder::new()
            .prefix(PART_PREFIX)
            .suffix(PART_SUFFIX)
            .rand_bytes(PART_RANDOM)
            // As File::create would (the umask applies).
            .permissions(fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)?;
        // flock: released by the kernel however the process ends. Where
        // the file system has no locks the part goes unlocked, and
        // `remove_stale_parts` (which cannot lock it either) leaves it.
        let _ = file.as_file().try_lock();
        Ok(Self { file })
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    pub fn file(&self) -> &File {
        self.file.as_file()
    }

    /// Renames the part to `to` (replacing a file there only with
    /// `replace`). On failure the part is removed.
    pub fn persist(self, to: &Path, replace: bool) -> std::io::Result<()> {
        let r = if replace {
            self.file.persist(to).map(drop)
        } else {
            self.file.persist_noclobber(to).map(drop)
        };
        // The error holds the temporary file: dropping it removes it.
        r.map_err(|e| e.error)
    }
}

/// Removes the parts that runs killed before they could clean up left in
/// `dir` (ours by name, unlocked: their process is gone, and last written
/// before this call). Parts of a run still going are locked and kept.
/// Returns the names removed.
///
/// A part is created, then locked: between the two it is unlocked for an
/// instant, and a run started at the same time (the shards of a batch job
/// sharing an output directory) removed another's part in that instant
/// ("cannot write a.mp4: No such file or directory", 1 run in 12 of 3
/// shards). A part written since this call cannot be of a dead run: kept
/// (a later run removes it if it is stale). "Since" is by the file
/// system's clock (a part of our own, created here, gives it): the
/// kernel's time stamps lag the system clock by up to a tick.
pub fn remove_stale_parts(dir: &Path) -> Vec<OsString> {
    let now = Part::new_in(dir)
        .ok()
        .and_then(|p| p.file().metadata().and_then(|m| m.modified()).ok());
    let Some(now) = now else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return removed;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if !is_part_name(name.as_bytes()) {
            continue;
        }
        let path = e.path();
        // Only a regular file of ours, never through a link.
        if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let Ok(f) = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
        else {
            continue;
        };
        let before_us = f
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < now);
        if before_us && f.try_lock().is_ok() && fs::remove_file(&path).is_ok() {
            removed.push(name);
        }
    }
    removed.sort();
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_are_short_and_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let p = Part::new_in(dir.path()).unwrap();
        let name = p.path().file_name().unwrap().as_bytes().to_vec();
        assert!(is_part_name(&name), "{}", String::from_utf8_lossy(&name));
        assert!(name.len() < 32);
        // Locked while alive: not stale.
        assert!(remove_stale_parts(dir.path()).is_empty());
        assert!(p.path().exists());
        assert!(!is_part_name(b".notes.part"));
        assert!(!is_part_name(b".cctv-abc.part"));
    }

    #[test]
    fn a_part_written_since_the_cleanup_began_is_kept() {
        // Parts as another run leaves them in the instant between creating
        // and locking (unlocked): one last written before this cleanup
        // (stale), one after it began (of a run going on at the same time:
        // its time stamp is set ahead to stand for that).
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join(".cctv-aaaaaaaaaaaa.part");
        let new = dir.path().join(".cctv-bbbbbbbbbbbb.part");
        let now = std::time::SystemTime::now();
        let five = std::time::Duration::from_secs(5);
        for (p, t) in [(&old, now - five), (&new, now + five)] {
            fs::write(p, b"x").unwrap();
            let f = File::options().write(true).open(p).unwrap();
            f.set_modified(t).unwrap();
        }
        let removed = remove_stale_parts(dir.path());
        assert_eq!(removed, [OsString::from(".cctv-aaaaaaaaaaaa.part")]);
        assert!(new.exists(), "a part of a concurrent run was removed");
        // The probe that read the clock is gone.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

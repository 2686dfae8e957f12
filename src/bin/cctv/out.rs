// SPDX-License-Identifier: MIT
//! Terminal output that can neither panic nor be abused: writes to a
//! closed stdout/stderr (`cctv … | head`) are dropped quietly (the work
//! goes on), and names from files and recordings are shown with control
//! characters escaped, so a camera name cannot drive the terminal.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// One line to stderr; nothing (and no panic) when stderr is closed.
pub fn err_line(args: std::fmt::Arguments<'_>) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_fmt(args).and_then(|()| e.write_all(b"\n"));
}

/// Text to stdout; `false` once stdout is closed (a reader that went away).
pub fn out_text(text: &str) -> bool {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return false;
    }
    let mut o = std::io::stdout().lock();
    if o.write_all(text.as_bytes())
        .and_then(|()| o.flush())
        .is_err()
    {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        return false;
    }
    true
}

/// Whether a write to stdout has failed.
pub fn stdout_gone() -> bool {
    STDOUT_GONE.load(Ordering::Relaxed)
}

/// `eprintln!` that survives a closed stderr.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::out::err_line(format_args!($($arg)*))
    };
}
pub(crate) use errln;

/// Characters a terminal acts on: C0/C1 controls and DEL, and the
/// bidirectional overrides that reorder what is shown.
fn hostile(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if hostile(c) && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if hostile(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// `text` with control characters escaped (`\x1b`, `\n`, `\u{9b}`).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text);
    out
}

/// A file name as bytes: control characters escaped, and bytes that are
/// not UTF-8 shown as `\xNN` (not as U+FFFD, which would name another file).
pub fn os(name: &OsStr) -> String {
    let mut out = String::with_capacity(name.len());
    for chunk in name.as_bytes().utf8_chunks() {
        push_escaped(&mut out, chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// A path for messages (see [`os`]).
pub fn path(p: &Path) -> String {
    os(p.as_os_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn escapes_controls_and_invalid_bytes() {
        assert_eq!(
            escape("a\x1b[2Jb\u{9b}c\u{202e}d"),
            "a\\x1b[2Jb\\u{9b}c\\u{202e}d"
        );
        assert_eq!(escape("café ok"), "café ok");
        assert_eq!(
            os(OsStr::from_bytes(b"caf\xe9\x07.psf")),
            "caf\\xe9\\x07.psf"
        );
    }
}

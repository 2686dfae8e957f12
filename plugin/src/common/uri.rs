// SPDX-License-Identifier: MIT
//! The source elements' URIs: `rf1:///path?tracks=…`, `cctv:///path?camera=…`.

use gst::glib;
use std::path::{Path, PathBuf};

/// `path` (made absolute against the working directory) as a
/// `scheme://` URI.
pub fn path_uri(path: &Path, scheme: &str) -> Option<String> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    let uri = glib::filename_to_uri(&absolute, None).ok()?;
    Some(uri.replacen("file://", &format!("{scheme}://"), 1))
}

/// The path of a `scheme://` URI (also `file://` where `accept_file`) and
/// the decoded value of its one query parameter `param`. Errors: another
/// scheme (`usage` says which to use), a bad path, another parameter
/// (`hint` says which it takes).
pub fn parse_source_uri(
    uri: &str,
    scheme: &str,
    accept_file: bool,
    usage: &str,
    param: &str,
    hint: &str,
) -> Result<(PathBuf, Option<String>), glib::Error> {
    let (path_part, query) = uri.split_once('?').unwrap_or((uri, ""));
    let file_uri = match path_part.strip_prefix(&format!("{scheme}://")) {
        Some(rest) => format!("file://{rest}"),
        None if accept_file && path_part.starts_with("file://") => path_part.to_owned(),
        None => {
            return Err(glib::Error::new(
                gst::URIError::UnsupportedProtocol,
                &format!("Unsupported URI {uri}: use {usage}"),
            ));
        }
    };
    let (path, _) = glib::filename_from_uri(&file_uri)
        .map_err(|e| glib::Error::new(gst::URIError::BadUri, &format!("Invalid URI {uri}: {e}")))?;
    let mut value = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, text) = pair.split_once('=').unwrap_or((pair, ""));
        if key != param {
            return Err(glib::Error::new(
                gst::URIError::BadUri,
                &format!("Invalid URI {uri}: unknown parameter \"{key}\" ({hint})"),
            ));
        }
        value = Some(percent_decode(text));
    }
    Ok((path, value))
}

/// `%XX` escapes of a URI query value decoded (invalid ones kept as they are).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` as a URI query value: unreserved characters as they are, every
/// other byte as `%XX`.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_round_trip() {
        for text in ["9", "ALLEY [09]", "caf\u{e9} 100%", "a&b=c"] {
            assert_eq!(super::percent_decode(&super::percent_encode(text)), text);
        }
    }
}

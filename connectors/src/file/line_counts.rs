//! Line counts of finished splits, shared by the workers of a process, so a worker can
//! number the lines of its split without reading the splits before it.
//!
//! Workers read a file in blocks dealt round-robin (see `plan_splits`), so a worker knows
//! the line numbers of its split only once it knows how many lines the earlier blocks
//! hold, most of which other workers read. Each worker publishes the count of every split
//! it finishes; the line number of a line is then the sum of the counts before its split
//! plus its position in it. A worker in another process publishes nowhere, so the reader
//! falls back to counting newlines itself.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Split start -> (split end, lines whose first byte is in the split).
type Splits = BTreeMap<u64, (u64, u64)>;

/// The published splits of each file.
#[derive(Debug, Default)]
pub struct LineCounts {
    files: Mutex<HashMap<PathBuf, Splits>>,
}

impl LineCounts {
    /// Records that the lines starting in `[start, end)` of `path` number `lines`.
    pub fn publish(&self, path: &Path, start: u64, end: u64, lines: u64) {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        files
            .entry(path.to_path_buf())
            .or_default()
            .insert(start, (end, lines));
    }

    /// The number of lines starting before `start` in `path`, if the splits covering
    /// `[0, start)` have all been published.
    pub fn lines_before(&self, path: &Path, start: u64) -> Option<u64> {
        let files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let splits = files.get(path);
        let (mut at, mut lines) = (0, 0);
        while at < start {
            let (end, n) = splits?.get(&at)?;
            (at, lines) = (*end, lines + n);
        }
        (at == start).then_some(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_before_a_split_need_every_split_before_it() {
        let c = LineCounts::default();
        let p = Path::new("f");
        assert_eq!(c.lines_before(p, 0), Some(0));
        c.publish(p, 0, 10, 3);
        c.publish(p, 20, 30, 4);
        assert_eq!(c.lines_before(p, 10), Some(3));
        assert_eq!(c.lines_before(p, 30), None, "[10, 20) is missing");
        c.publish(p, 10, 20, 5);
        assert_eq!(c.lines_before(p, 20), Some(8));
        assert_eq!(c.lines_before(p, 30), Some(12));
        assert_eq!(c.lines_before(p, 15), None, "not a split boundary");
        assert_eq!(c.lines_before(Path::new("g"), 10), None);
    }
}

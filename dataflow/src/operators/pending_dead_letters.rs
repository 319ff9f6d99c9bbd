//! Dead letters held back until their origin (file and line) is known.

use std::time::{Duration, Instant};

use connectors::source::{LineId, RecordSource};

use crate::record::DeadLetter;

/// Dead letters waiting for their origin: a file line's number can depend on blocks other
/// workers are still reading (see `connectors::file::line_counts`). They wait at most
/// [`PendingDeadLetters::MAX_WAIT`] or until the input ends, then the reader counts the
/// lines itself.
#[derive(Default)]
pub(crate) struct PendingDeadLetters {
    waiting: Vec<(LineId, DeadLetter)>,
    oldest: Option<Instant>,
}

impl PendingDeadLetters {
    const MAX_WAIT: Duration = Duration::from_secs(1);
    const MAX_WAITING: usize = 1 << 16;

    pub(crate) fn push(&mut self, id: LineId, letter: DeadLetter) {
        self.oldest.get_or_insert_with(Instant::now);
        self.waiting.push((id, letter));
    }

    /// The dead letters whose origin is known now, in arrival order; with `end` (or once
    /// the oldest has waited long enough) all of them.
    pub(crate) fn ready(&mut self, r: &mut dyn RecordSource, end: bool) -> Vec<DeadLetter> {
        if self.waiting.is_empty() {
            return Vec::new();
        }
        let force = end
            || self.waiting.len() >= Self::MAX_WAITING
            || self.oldest.is_some_and(|t| t.elapsed() >= Self::MAX_WAIT);
        let mut ready = Vec::new();
        self.waiting.retain_mut(|(id, letter)| {
            let origin = if force {
                Some(r.resolve(*id))
            } else {
                r.try_resolve(*id)
            };
            match origin {
                Some(o) => {
                    letter.file = o.location;
                    letter.line = o.position;
                    ready.push(std::mem::take(letter));
                    false
                }
                None => true,
            }
        });
        if self.waiting.is_empty() {
            self.oldest = None;
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connectors::source::{Item, Origin, Poll, SourceError};

    /// Knows the line numbers of splits below `known`; `resolve` (the reader counting
    /// newlines itself) answers 1000 + the line, to tell the two apart.
    struct Splits {
        known: u32,
    }

    impl RecordSource for Splits {
        fn poll(&mut self, _: usize, _: &mut dyn FnMut(Item<'_>)) -> Result<Poll, SourceError> {
            unreachable!("not read")
        }
        fn resolve(&mut self, id: LineId) -> Origin {
            Origin {
                location: format!("s{}", id.split),
                position: 1000 + id.line,
            }
        }
        fn try_resolve(&mut self, id: LineId) -> Option<Origin> {
            (id.split < self.known).then(|| Origin {
                location: format!("s{}", id.split),
                position: id.line,
            })
        }
    }

    fn letter(reason: &str) -> DeadLetter {
        DeadLetter {
            reason: reason.into(),
            ..DeadLetter::default()
        }
    }

    fn shown(letters: Vec<DeadLetter>) -> Vec<(String, String, u64)> {
        letters
            .into_iter()
            .map(|d| (d.reason, d.file, d.line))
            .collect()
    }

    #[test]
    fn letters_wait_for_their_lines_in_order_and_none_is_lost() {
        let mut src = Splits { known: 1 };
        let mut p = PendingDeadLetters::default();
        p.push(LineId { split: 0, line: 1 }, letter("a"));
        p.push(LineId { split: 1, line: 2 }, letter("b"));
        p.push(LineId { split: 0, line: 3 }, letter("c"));
        assert_eq!(
            shown(p.ready(&mut src, false)),
            vec![("a".into(), "s0".into(), 1), ("c".into(), "s0".into(), 3)]
        );
        assert!(p.ready(&mut src, false).is_empty(), "b waits for split 1");
        src.known = 2;
        assert_eq!(
            shown(p.ready(&mut src, false)),
            vec![("b".into(), "s1".into(), 2)]
        );
        // The end of input: what is still unknown is counted by the reader.
        p.push(LineId { split: 5, line: 7 }, letter("d"));
        assert_eq!(
            shown(p.ready(&mut src, true)),
            vec![("d".into(), "s5".into(), 1007)]
        );
        // Waiting too long has the same effect.
        p.push(LineId { split: 5, line: 8 }, letter("e"));
        assert!(p.ready(&mut src, false).is_empty());
        p.oldest = Instant::now().checked_sub(PendingDeadLetters::MAX_WAIT);
        assert_eq!(
            shown(p.ready(&mut src, false)),
            vec![("e".into(), "s5".into(), 1008)]
        );
        assert!(p.waiting.is_empty() && p.oldest.is_none());
    }
}

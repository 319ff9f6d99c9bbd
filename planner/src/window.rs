//! Event-time window definitions shared by the logical and physical plans.

use std::fmt;

use serde::Serialize;

use crate::duration::format_duration_ms;

/// Window kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    /// Fixed, non-overlapping windows.
    Tumble,
    /// Sliding windows: `size` long, a new one every `slide`.
    Hop,
    /// Cumulating windows: within each `size`-long period `[k * size, (k + 1) * size)`,
    /// windows `[k * size, k * size + i * step)` for `i = 1..=size / step`, all with the
    /// period's start (Flink's `CUMULATE`). `slide` holds the step.
    Cumulate,
    /// Gap-based sessions per key (Flink's `SESSION`): events closer than the gap (held in
    /// `size`, `slide` and `pane`) share a session `[first event, last event + gap)`.
    /// Sessions are not aligned to the epoch and have no panes: the session operator
    /// (`dataflow::operators::session`) computes them, and the pane geometry below treats
    /// them like `TUMBLE(gap)`, which no operator relies on.
    Session,
}

/// An event-time window assigner. Windows are aligned to the epoch, as in Flink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Kind.
    pub kind: WindowKind,
    /// Window length, ms.
    pub size_ms: u64,
    /// Distance between consecutive window ends, ms: `size` for TUMBLE, the slide for
    /// HOP, the step for CUMULATE.
    pub slide_ms: u64,
    /// Pane width, ms: `gcd(size, slide)` (the step for CUMULATE). State is kept per pane,
    /// and a window is the union of the panes it covers.
    pub pane_ms: u64,
}

impl Window {
    /// `TUMBLE(size)`.
    pub fn tumble(size_ms: u64) -> Window {
        Window {
            kind: WindowKind::Tumble,
            size_ms,
            slide_ms: size_ms,
            pane_ms: size_ms,
        }
    }

    /// `HOP(slide, size)`.
    pub fn hop(slide_ms: u64, size_ms: u64) -> Window {
        Window {
            kind: WindowKind::Hop,
            size_ms,
            slide_ms,
            pane_ms: gcd(size_ms, slide_ms),
        }
    }

    /// `CUMULATE(step, max_size)`; `size` must be a positive multiple of `step`.
    pub fn cumulate(step_ms: u64, size_ms: u64) -> Window {
        debug_assert!(step_ms > 0 && size_ms.is_multiple_of(step_ms));
        Window {
            kind: WindowKind::Cumulate,
            size_ms,
            slide_ms: step_ms,
            pane_ms: step_ms,
        }
    }

    /// `SESSION(gap)`; `gap` must be positive.
    pub fn session(gap_ms: u64) -> Window {
        debug_assert!(gap_ms > 0);
        Window {
            kind: WindowKind::Session,
            size_ms: gap_ms,
            slide_ms: gap_ms,
            pane_ms: gap_ms,
        }
    }

    /// The session gap, for SESSION windows.
    pub fn session_gap_ms(&self) -> Option<u64> {
        (self.kind == WindowKind::Session).then_some(self.size_ms)
    }

    /// Pane width.
    #[inline]
    pub fn pane_ms(&self) -> u64 {
        self.pane_ms
    }

    /// Start of the pane that holds event time `t`.
    #[inline]
    pub fn pane_of(&self, t: u64) -> u64 {
        t - t % self.pane_ms
    }

    /// Ends of the windows that contain pane `p`, ascending, `slide` apart. As in Flink,
    /// HOP window starts are multiples of the slide, so a window is
    /// `[k * slide, k * slide + size)`; CUMULATE windows of a pane are those of its period
    /// ending after it.
    ///
    /// Invariants the window operator relies on, for every kind: the ends of a pane are
    /// consecutive window ends (`slide` apart) from `first_end_of_pane` to
    /// `last_end_of_pane`; every window end is `first_end_after` of something, window ends
    /// are exactly the values `first_end_after` returns, consecutive ends are `slide`
    /// apart; and `window_start(end)` never decreases as `end` grows.
    #[inline]
    pub fn window_ends_of_pane(&self, p: u64) -> impl Iterator<Item = u64> {
        let slide = self.slide_ms;
        let first = self.first_end_of_pane(p);
        let last = self.last_end_of_pane(p);
        let count = if last >= first {
            (last - first) / slide + 1
        } else {
            0
        };
        (0..count).map(move |i| first + i * slide)
    }

    /// The last window end that contains pane `p` (the window starting at or before it).
    #[inline]
    pub fn last_end_of_pane(&self, p: u64) -> u64 {
        match self.kind {
            WindowKind::Tumble | WindowKind::Cumulate | WindowKind::Session => {
                p - p % self.size_ms + self.size_ms
            }
            WindowKind::Hop => p - p % self.slide_ms + self.size_ms,
        }
    }

    /// The first window end that contains pane `p`.
    #[inline]
    pub fn first_end_of_pane(&self, p: u64) -> u64 {
        match self.kind {
            WindowKind::Tumble | WindowKind::Session => p - p % self.size_ms + self.size_ms,
            WindowKind::Hop => self.first_end_after(p as i64),
            WindowKind::Cumulate => p - p % self.slide_ms + self.slide_ms,
        }
    }

    /// The smallest window end strictly greater than `t` (which may be negative).
    #[inline]
    pub fn first_end_after(&self, t: i64) -> u64 {
        let (size, slide) = (self.size_ms as i64, self.slide_ms as i64);
        match self.kind {
            WindowKind::Tumble | WindowKind::Hop | WindowKind::Session => {
                // Ends are `start + size` with `start` a multiple of the slide; want
                // start > t - size.
                let start = (t - size).div_euclid(slide) * slide + slide;
                (start + size).max(0) as u64
            }
            // Every positive multiple of the step ends a window of its period.
            WindowKind::Cumulate => (t.div_euclid(slide) * slide + slide).max(0) as u64,
        }
    }

    /// Start of the window ending at `end` (negative for the first HOP windows).
    #[inline]
    pub fn window_start(&self, end: u64) -> i64 {
        match self.kind {
            WindowKind::Tumble | WindowKind::Hop | WindowKind::Session => {
                end as i64 - self.size_ms as i64
            }
            WindowKind::Cumulate => self.pane_window_start(end) as i64,
        }
    }

    /// `window_start` clamped at 0, for comparing with pane starts.
    #[inline]
    pub fn pane_window_start(&self, end: u64) -> u64 {
        match self.kind {
            WindowKind::Tumble | WindowKind::Hop | WindowKind::Session => {
                end.saturating_sub(self.size_ms)
            }
            // The period holding `end - 1`; 0 for `end = 0`, which ends no window.
            WindowKind::Cumulate => {
                let last = end.saturating_sub(1);
                last - last % self.size_ms
            }
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            WindowKind::Tumble => write!(f, "tumble size={}", format_duration_ms(self.size_ms)),
            WindowKind::Hop => write!(
                f,
                "hop size={} slide={} pane={}",
                format_duration_ms(self.size_ms),
                format_duration_ms(self.slide_ms),
                format_duration_ms(self.pane_ms)
            ),
            WindowKind::Cumulate => write!(
                f,
                "cumulate size={} step={}",
                format_duration_ms(self.size_ms),
                format_duration_ms(self.slide_ms)
            ),
            WindowKind::Session => write!(f, "session gap={}", format_duration_ms(self.size_ms)),
        }
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_panes_and_window_ends() {
        let w = Window::hop(10, 30);
        assert_eq!(w.pane_ms(), 10);
        assert_eq!(w.pane_of(25), 20);
        assert_eq!(
            w.window_ends_of_pane(20).collect::<Vec<_>>(),
            vec![30, 40, 50]
        );
        let odd = Window::hop(10, 25);
        assert_eq!(odd.pane_ms(), 5);
        // Flink: windows start at multiples of the slide: [0,25) and [10,35) hold pane [15,20).
        assert_eq!(
            odd.window_ends_of_pane(15).collect::<Vec<_>>(),
            vec![25, 35]
        );
        assert_eq!(odd.last_end_of_pane(15), 35);
        assert_eq!(odd.first_end_after(25), 35);
        assert_eq!(w.first_end_after(30), 40);
        assert_eq!(w.first_end_after(-100), 0);
    }

    #[test]
    fn cumulate_windows_share_their_period_start() {
        // Daily windows updated every 6 hours: [0,6h), [0,12h), [0,18h), [0,24h).
        let h = 3_600_000;
        let w = Window::cumulate(6 * h, 24 * h);
        assert_eq!(w.pane_ms(), 6 * h);
        assert_eq!(w.pane_of(7 * h), 6 * h);
        assert_eq!(
            w.window_ends_of_pane(6 * h).collect::<Vec<_>>(),
            vec![12 * h, 18 * h, 24 * h]
        );
        assert_eq!(
            w.window_ends_of_pane(18 * h).collect::<Vec<_>>(),
            vec![24 * h]
        );
        assert_eq!(
            w.window_ends_of_pane(24 * h).collect::<Vec<_>>(),
            vec![30 * h, 36 * h, 42 * h, 48 * h]
        );
        assert_eq!(w.window_start(18 * h), 0);
        assert_eq!(w.window_start(24 * h), 0);
        assert_eq!(w.window_start(30 * h), 24 * h as i64);
        assert_eq!(w.first_end_after(24 * h as i64), 30 * h);
        assert_eq!(w.first_end_after(-1), 0);
        assert_eq!(w.to_string(), "cumulate size=1d step=6h");
    }

    /// Every window `[start, end)` of a kind, brute force, with ends in `[lo, hi]`.
    fn brute_windows(kind: WindowKind, slide: i64, size: i64, lo: i64, hi: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        match kind {
            WindowKind::Tumble | WindowKind::Hop => {
                let mut start = (lo - size).div_euclid(slide) * slide - slide;
                while start + size <= hi + slide {
                    out.push((start, start + size));
                    start += slide;
                }
            }
            WindowKind::Session => unreachable!("sessions are not enumerated"),
            WindowKind::Cumulate => {
                let mut k = (lo - size).div_euclid(size);
                while k * size <= hi + size {
                    for i in 1..=size / slide {
                        out.push((k * size, k * size + i * slide));
                    }
                    k += 1;
                }
            }
        }
        out.retain(|(_, e)| *e >= lo && *e <= hi);
        out.sort_by_key(|(s, e)| (*e, *s));
        out
    }

    fn window_of(kind: WindowKind, a: u64, b: u64) -> Window {
        match kind {
            WindowKind::Tumble => Window::tumble(a),
            WindowKind::Hop => Window::hop(a, a + b),
            WindowKind::Cumulate => Window::cumulate(a, a * (1 + b % 9)),
            WindowKind::Session => Window::session(a),
        }
    }

    proptest::proptest! {
        /// The windows containing `t` and their starts equal a brute-force enumeration; the
        /// invariants the window operator's walk relies on hold.
        #[test]
        fn geometry_equals_brute_force(
            kind in proptest::sample::select(vec![WindowKind::Tumble, WindowKind::Hop, WindowKind::Cumulate]),
            a in 1u64..50,
            b in 0u64..120,
            t in 0u64..5_000,
            x in -300i64..5_000,
        ) {
            let w = window_of(kind, a, b);
            let (slide, size) = (w.slide_ms as i64, w.size_ms as i64);
            let all = brute_windows(kind, slide, size, -2 * size - 2 * slide, 6_000 + 2 * size + 2 * slide);
            let containing: Vec<(i64, i64)> = all
                .iter()
                .copied()
                .filter(|(s, e)| *s <= t as i64 && (t as i64) < *e)
                .collect();
            // Windows of t's pane: the same windows, ascending by end, with their starts.
            let p = w.pane_of(t);
            proptest::prop_assert!(p <= t && t < p + w.pane_ms());
            let got: Vec<(i64, i64)> = w
                .window_ends_of_pane(p)
                .map(|e| (w.window_start(e), e as i64))
                .collect();
            proptest::prop_assert_eq!(&got, &containing);
            // Every window holds whole panes.
            for (s, e) in &containing {
                proptest::prop_assert!(*s <= p as i64 && (p + w.pane_ms()) as i64 <= *e);
            }
            proptest::prop_assert_eq!(w.first_end_of_pane(p) as i64, containing[0].1);
            proptest::prop_assert_eq!(w.last_end_of_pane(p) as i64, containing.last().unwrap().1);
            // first_end_after: the smallest window end above x (0 when that is negative).
            let want = all.iter().map(|(_, e)| *e).find(|e| *e > x).unwrap().max(0);
            proptest::prop_assert_eq!(w.first_end_after(x) as i64, want);
            // Consecutive distinct ends are `slide` apart; starts never decrease along them.
            let mut ends: Vec<i64> = all.iter().map(|(_, e)| *e).filter(|e| *e > 0).collect();
            ends.dedup();
            for pair in ends.windows(2) {
                proptest::prop_assert_eq!(pair[1] - pair[0], slide);
                proptest::prop_assert!(w.window_start(pair[0] as u64) <= w.window_start(pair[1] as u64));
            }
            for (s, e) in all.iter().filter(|(_, e)| *e > 0) {
                proptest::prop_assert_eq!(w.window_start(*e as u64), *s);
                proptest::prop_assert_eq!(w.pane_window_start(*e as u64), (*s).max(0) as u64);
            }
        }
    }

    #[test]
    fn tumble_has_one_window_per_pane() {
        let w = Window::tumble(60);
        assert_eq!(w.window_ends_of_pane(120).collect::<Vec<_>>(), vec![180]);
    }
}

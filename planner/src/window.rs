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
}

/// An event-time window assigner. Windows are aligned to the epoch, as in Flink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Kind.
    pub kind: WindowKind,
    /// Window length, ms.
    pub size_ms: u64,
    /// Distance between window starts, ms (`size` for TUMBLE).
    pub slide_ms: u64,
    /// Pane width, ms: `gcd(size, slide)`. State is kept per pane, and a window is the
    /// union of `size / pane` panes.
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

    /// Ends of the windows that contain pane `p`, ascending. As in Flink, window starts
    /// are multiples of the slide, so a window is `[k * slide, k * slide + size)`.
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
            WindowKind::Tumble => p - p % self.size_ms + self.size_ms,
            WindowKind::Hop => p - p % self.slide_ms + self.size_ms,
        }
    }

    /// The first window end that contains pane `p`.
    #[inline]
    pub fn first_end_of_pane(&self, p: u64) -> u64 {
        match self.kind {
            WindowKind::Tumble => p - p % self.size_ms + self.size_ms,
            WindowKind::Hop => self.first_end_after(p as i64),
        }
    }

    /// The smallest window end strictly greater than `t` (which may be negative).
    #[inline]
    pub fn first_end_after(&self, t: i64) -> u64 {
        let (size, slide) = (self.size_ms as i64, self.slide_ms as i64);
        // Ends are `start + size` with `start` a multiple of the slide; want start > t - size.
        let start = (t - size).div_euclid(slide) * slide + slide;
        (start + size).max(0) as u64
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
    fn tumble_has_one_window_per_pane() {
        let w = Window::tumble(60);
        assert_eq!(w.window_ends_of_pane(120).collect::<Vec<_>>(), vec![180]);
    }
}

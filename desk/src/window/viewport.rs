//! Where the end user's screen sits in the viewer window, and back: window pixels to remote
//! pixels through the current scaling.
//!
//! Contract: pure arithmetic on sizes and positions; never touches a window. Scale-to-fit
//! keeps the aspect ratio and centres the picture (bars on the sides); 1:1 shows remote
//! pixels as they are, centred when smaller than the window and scrollable when larger. A
//! position maps to a remote pixel only inside the picture, never into the bars.

/// A size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl Size {
    /// `width` x `height`.
    pub const fn new(width: u32, height: u32) -> Self {
        Self { width, height }
    }

    fn is_empty(self) -> bool {
        self.width == 0 || self.height == 0
    }
}

/// Why a `WIDTHxHEIGHT` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a window size — give WIDTHxHEIGHT, such as 1280x720")]
pub struct SizeParseError(String);

impl std::str::FromStr for Size {
    type Err = SizeParseError;
    /// Parses `WIDTHxHEIGHT`, each side 1 to 16384.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refuse = || SizeParseError(text.to_string());
        let (width, height) = text.split_once('x').ok_or_else(refuse)?;
        let side = |v: &str| match v.trim().parse::<u32>() {
            Ok(v) if (1..=16384).contains(&v) => Ok(v),
            _ => Err(refuse()),
        };
        Ok(Size::new(side(width)?, side(height)?))
    }
}

/// A rectangle in whole pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// How the remote screen is scaled into the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaling {
    /// As large as the window allows, aspect kept.
    Fit,
    /// One remote pixel per window pixel.
    Actual,
}

/// The part of the remote screen shown and the window rectangle it fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Remote pixels shown (the whole screen when fitting).
    pub source: Rect,
    /// Window pixels they fill.
    pub dest: Rect,
}

impl Placement {
    /// Whether the picture is drawn pixel for pixel (a plain copy, no resampling).
    pub fn is_one_to_one(&self) -> bool {
        self.source.width == self.dest.width && self.source.height == self.dest.height
    }
}

/// Share of the local monitor a new window may take (room for panels and decorations).
pub const MONITOR_SHARE: f64 = 0.9;

/// The window size a new viewer opens with: the remote screen, scaled down (aspect kept)
/// to fit [`MONITOR_SHARE`] of the local monitor when it is larger; never scaled up.
pub fn initial_window_size(remote: Size, monitor: Option<Size>) -> Size {
    let remote = Size::new(remote.width.max(1), remote.height.max(1));
    let Some(monitor) = monitor.filter(|m| !m.is_empty()) else {
        return remote;
    };
    let room_w = f64::from(monitor.width) * MONITOR_SHARE;
    let room_h = f64::from(monitor.height) * MONITOR_SHARE;
    let scale = (room_w / f64::from(remote.width))
        .min(room_h / f64::from(remote.height))
        .min(1.0);
    Size::new(
        scaled(remote.width, scale).max(1),
        scaled(remote.height, scale).max(1),
    )
}

fn scaled(length: u32, scale: f64) -> u32 {
    (f64::from(length) * scale).round() as u32
}

/// The mapping between the window and the remote screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Viewport {
    remote: Size,
    window: Size,
    scaling: Scaling,
    /// Top-left remote pixel shown in 1:1 when the screen is larger than the window.
    scroll: (u32, u32),
}

impl Viewport {
    /// A viewport fitting `remote` into `window`.
    pub fn new(remote: Size, window: Size) -> Self {
        Self {
            remote,
            window,
            scaling: Scaling::Fit,
            scroll: (0, 0),
        }
    }

    /// The window was resized.
    pub fn set_window(&mut self, window: Size) {
        self.window = window;
        self.clamp_scroll();
    }

    /// The remote screen has a new size (a frame of another size arrived).
    pub fn set_remote(&mut self, remote: Size) {
        self.remote = remote;
        self.clamp_scroll();
    }

    /// The remote screen size.
    pub fn remote(&self) -> Size {
        self.remote
    }

    /// The window size.
    pub fn window(&self) -> Size {
        self.window
    }

    /// The current scaling.
    pub fn scaling(&self) -> Scaling {
        self.scaling
    }

    /// Switches between fit and 1:1.
    pub fn toggle_scaling(&mut self) {
        self.scaling = match self.scaling {
            Scaling::Fit => Scaling::Actual,
            Scaling::Actual => Scaling::Fit,
        };
        self.clamp_scroll();
    }

    /// Scrolls the 1:1 view by window pixels (positive: towards the right / bottom). Does
    /// nothing when fitting or when the screen fits in the window.
    pub fn scroll_by(&mut self, dx: i32, dy: i32) {
        if self.scaling != Scaling::Actual {
            return;
        }
        let step = |at: u32, by: i32| i64::from(at).saturating_add(i64::from(by)).max(0);
        self.scroll = (
            u32::try_from(step(self.scroll.0, dx)).unwrap_or(u32::MAX),
            u32::try_from(step(self.scroll.1, dy)).unwrap_or(u32::MAX),
        );
        self.clamp_scroll();
    }

    fn clamp_scroll(&mut self) {
        let max_x = self.remote.width.saturating_sub(self.window.width);
        let max_y = self.remote.height.saturating_sub(self.window.height);
        self.scroll = (self.scroll.0.min(max_x), self.scroll.1.min(max_y));
    }

    /// Remote pixels per window pixel as a percentage (100 at 1:1).
    pub fn percent(&self) -> u32 {
        match self.placement() {
            Some(p) => (f64::from(p.dest.width) * 100.0 / f64::from(p.source.width)).round() as u32,
            None => 100,
        }
    }

    /// Where the picture goes; `None` while the window or the screen has no area.
    pub fn placement(&self) -> Option<Placement> {
        if self.remote.is_empty() || self.window.is_empty() {
            return None;
        }
        let (remote, window) = (self.remote, self.window);
        Some(match self.scaling {
            Scaling::Fit => {
                let scale = (f64::from(window.width) / f64::from(remote.width))
                    .min(f64::from(window.height) / f64::from(remote.height));
                let width = scaled(remote.width, scale).clamp(1, window.width);
                let height = scaled(remote.height, scale).clamp(1, window.height);
                Placement {
                    source: Rect {
                        x: 0,
                        y: 0,
                        width: remote.width,
                        height: remote.height,
                    },
                    dest: Rect {
                        x: (window.width - width) / 2,
                        y: (window.height - height) / 2,
                        width,
                        height,
                    },
                }
            }
            Scaling::Actual => {
                let axis = |remote: u32, window: u32, scroll: u32| {
                    if remote <= window {
                        (0, (window - remote) / 2, remote)
                    } else {
                        (scroll, 0, window)
                    }
                };
                let (sx, dx, width) = axis(remote.width, window.width, self.scroll.0);
                let (sy, dy, height) = axis(remote.height, window.height, self.scroll.1);
                Placement {
                    source: Rect {
                        x: sx,
                        y: sy,
                        width,
                        height,
                    },
                    dest: Rect {
                        x: dx,
                        y: dy,
                        width,
                        height,
                    },
                }
            }
        })
    }

    /// The remote pixel under window position (`x`, `y`) (pixel `n` spans `n..n+1`), or
    /// `None` outside the picture.
    pub fn to_remote(&self, x: f64, y: f64) -> Option<(i32, i32)> {
        let p = self.placement()?;
        let axis = |at: f64, dest_at: u32, dest_len: u32, src_at: u32, src_len: u32| {
            let pixel = at.floor() - f64::from(dest_at);
            if !(0.0..f64::from(dest_len)).contains(&pixel) {
                return None;
            }
            // The pixel's centre, in remote pixels.
            let remote = ((pixel + 0.5) * f64::from(src_len) / f64::from(dest_len)).floor();
            let remote = (remote as u32).min(src_len - 1) + src_at;
            i32::try_from(remote).ok()
        };
        Some((
            axis(x, p.dest.x, p.dest.width, p.source.x, p.source.width)?,
            axis(y, p.dest.y, p.dest.height, p.source.y, p.source.height)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL_HD: Size = Size::new(1920, 1080);

    #[test]
    fn new_windows_fit_the_monitor_and_keep_the_aspect() {
        assert_eq!(
            initial_window_size(FULL_HD, Some(Size::new(1280, 1024))),
            Size::new(1152, 648)
        );
        // A small remote screen opens at its own size, never scaled up.
        assert_eq!(
            initial_window_size(Size::new(800, 600), Some(FULL_HD)),
            Size::new(800, 600)
        );
        // Tall monitors: height decides.
        assert_eq!(
            initial_window_size(FULL_HD, Some(Size::new(3000, 1000))),
            Size::new(1600, 900)
        );
        assert_eq!(initial_window_size(FULL_HD, None), FULL_HD);
        assert_eq!(initial_window_size(FULL_HD, Some(Size::new(0, 0))), FULL_HD);
    }

    #[test]
    fn fit_centres_with_bars_and_keeps_the_aspect() {
        let mut v = Viewport::new(FULL_HD, Size::new(1152, 648));
        let p = v.placement().unwrap();
        assert_eq!(
            p.dest,
            Rect {
                x: 0,
                y: 0,
                width: 1152,
                height: 648
            }
        );
        assert_eq!(v.percent(), 60);
        v.set_window(Size::new(800, 600));
        let p = v.placement().unwrap();
        assert_eq!(
            p.dest,
            Rect {
                x: 0,
                y: 75,
                width: 800,
                height: 450
            }
        );
        assert!(!p.is_one_to_one());
        v.set_window(Size::new(1000, 1080));
        assert_eq!(v.placement().unwrap().dest.x, 0);
        v.set_window(Size::new(2000, 540));
        let p = v.placement().unwrap();
        assert_eq!((p.dest.x, p.dest.width, p.dest.height), (520, 960, 540));
    }

    #[test]
    fn window_positions_map_to_remote_pixels_through_the_scale() {
        let mut v = Viewport::new(FULL_HD, Size::new(1152, 648));
        assert_eq!(v.to_remote(0.0, 0.0), Some((0, 0)));
        // Window pixel 100 covers remote 166.67..168.33: its centre is in pixel 167.
        assert_eq!(v.to_remote(100.0, 100.0), Some((167, 167)));
        assert_eq!(v.to_remote(100.7, 100.2), Some((167, 167)));
        assert_eq!(v.to_remote(1151.0, 647.0), Some((1919, 1079)));
        assert_eq!(v.to_remote(1152.0, 10.0), None);
        assert_eq!(v.to_remote(-0.5, 10.0), None);
        v.set_window(Size::new(800, 600));
        // The bars map to nothing; the picture starts at row 75.
        assert_eq!(v.to_remote(10.0, 74.0), None);
        assert_eq!(v.to_remote(10.0, 75.0), Some((25, 1)));
        assert_eq!(v.to_remote(10.0, 525.0), None);
        // Every window pixel lands within one scale step of its exact position.
        for x in 0..800 {
            let (rx, _) = v.to_remote(f64::from(x), 300.0).unwrap();
            let exact = (f64::from(x) + 0.5) * 1920.0 / 800.0;
            assert!((f64::from(rx) - exact).abs() < 1.0, "{x}: {rx}");
        }
    }

    #[test]
    fn one_to_one_centres_small_screens_and_scrolls_large_ones() {
        let mut v = Viewport::new(FULL_HD, Size::new(800, 600));
        v.toggle_scaling();
        assert_eq!(v.scaling(), Scaling::Actual);
        let p = v.placement().unwrap();
        assert!(p.is_one_to_one());
        assert_eq!((p.source.x, p.source.y, p.dest.x, p.dest.y), (0, 0, 0, 0));
        assert_eq!(v.to_remote(123.0, 77.0), Some((123, 77)));
        v.scroll_by(500, 100);
        assert_eq!(v.to_remote(123.0, 77.0), Some((623, 177)));
        // Scrolling stops at the edges.
        v.scroll_by(5000, -5000);
        let p = v.placement().unwrap();
        assert_eq!((p.source.x, p.source.y), (1120, 0));
        assert_eq!(v.to_remote(799.0, 0.0), Some((1919, 0)));
        // A larger window shrinks the scroll range; a window larger than the screen centres it.
        v.set_window(Size::new(1900, 600));
        assert_eq!(v.placement().unwrap().source.x, 20);
        v.set_window(Size::new(2000, 1200));
        let p = v.placement().unwrap();
        assert_eq!((p.dest.x, p.dest.y, p.source.x), (40, 60, 0));
        assert_eq!(v.to_remote(39.0, 100.0), None);
        assert_eq!(v.to_remote(40.0, 60.0), Some((0, 0)));
        assert_eq!(v.percent(), 100);
        // Back to fit: scrolling does nothing.
        v.toggle_scaling();
        v.scroll_by(10, 10);
        assert_eq!(v.scaling(), Scaling::Fit);
    }

    #[test]
    fn empty_sizes_place_nothing() {
        let v = Viewport::new(FULL_HD, Size::new(0, 600));
        assert_eq!(v.placement(), None);
        assert_eq!(v.to_remote(1.0, 1.0), None);
        let mut v = Viewport::new(Size::new(0, 0), Size::new(100, 100));
        assert_eq!(v.placement(), None);
        v.set_remote(Size::new(10, 10));
        assert!(v.placement().is_some());
        assert_eq!(v.remote(), Size::new(10, 10));
        assert_eq!(v.window(), Size::new(100, 100));
    }
}

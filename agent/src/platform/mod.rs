//! The platform edge: screen capture and input injection behind two small traits, so the
//! pipeline and the injector can be tested with fakes and other systems can be added.
//!
//! Contract: implementations only capture or inject when called; they never decide whether
//! they may (consent is checked before they are reached). A [`ScreenSource`] and an
//! [`InputSink`] are created on, and stay on, the thread that uses them (X11 capture handles
//! are not `Send`), which is why [`Platform`] hands out factories rather than objects.

use crate::input::Action;
use sos_codec::BgraFrame;
use sos_transport::wire::{DisplayInfo, MonitorInfo};
use std::time::{Instant, SystemTime};

#[cfg(target_os = "linux")]
pub mod clipboard;
#[cfg(target_os = "linux")]
mod damage;
#[cfg(target_os = "linux")]
mod keyboard;
#[cfg(target_os = "linux")]
mod monitors;
#[cfg(target_os = "linux")]
pub mod x11;

/// Failures of screen capture.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// No screen could be opened (no `$DISPLAY`, no X server, no XShm).
    #[error("cannot open the screen: {0} — is a graphical session running?")]
    Open(String),
    /// Capturing a frame failed.
    #[error("screen capture failed: {0}")]
    Capture(String),
    /// The monitor asked for does not exist (any more).
    #[error("there is no monitor {0} to share")]
    NoSuchMonitor(u32),
}

/// Failures of input injection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InjectError {
    /// The input device could not be opened.
    #[error("cannot open the keyboard and mouse: {0}")]
    Open(String),
    /// The platform refused the event as invalid.
    #[error("the system refused the input: {0}")]
    Refused(String),
    /// Injection failed.
    #[error("input injection failed: {0}")]
    Failed(String),
}

/// The monitors of the desktop, left to right (indexed from 0 in that order), and the one
/// the screen capture shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Monitors {
    /// Every active monitor; empty when unknown (the shared screen is then the only one).
    pub list: Vec<MonitorInfo>,
    /// Index in `list` of the monitor [`Platform::open_screen`] captures by default.
    pub shared: Option<u32>,
    /// For each monitor of `list`, its position in the system's own list (the order the
    /// capture library enumerates monitors in).
    pub system_order: Vec<usize>,
}

impl Monitors {
    /// The monitor numbered `index`, if there is one.
    pub fn get(&self, index: u32) -> Option<&MonitorInfo> {
        self.list.iter().find(|m| m.index == index)
    }
}

/// One captured image, lent to the caller for the duration of a callback.
#[derive(Debug, Clone, Copy)]
pub struct Captured<'a> {
    /// The pixels.
    pub frame: BgraFrame<'a>,
    /// Best estimate of when the pixels were read from the screen.
    pub captured_at: SystemTime,
}

/// A screen that can be captured repeatedly.
pub trait ScreenSource {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Captures the screen and lends the image to `use_frame`. Returns `Ok(false)` (without
    /// calling `use_frame`) when no new image is available yet.
    fn capture(&mut self, use_frame: &mut dyn FnMut(Captured<'_>)) -> Result<bool, CaptureError>;

    /// Waits until the screen may have changed, at most until `deadline`. Returns false
    /// when it surely did not change (no need to capture). Screens that cannot tell return
    /// true at once.
    fn wait_for_change(&mut self, deadline: Instant) -> bool {
        let _ = deadline;
        true
    }
}

/// A keyboard and mouse that accept injected events.
pub trait InputSink {
    /// Applies one checked action.
    fn apply(&mut self, action: &Action) -> Result<(), InjectError>;
    /// Where the pointer is now, in screen coordinates, when that can be read.
    fn pointer(&mut self) -> Option<(i32, i32)>;
}

/// The machine the agent runs on.
pub trait Platform: Send + Sync + 'static {
    /// The screens that can be shared (empty when none can be opened).
    fn displays(&self) -> Vec<DisplayInfo>;
    /// The monitors of the desktop and which one the screen capture shows.
    fn monitors(&self) -> Monitors;
    /// Opens a monitor for capture (`None`: the default one, see [`Monitors::shared`]), on
    /// the calling thread.
    fn open_screen(&self, monitor: Option<u32>) -> Result<Box<dyn ScreenSource>, CaptureError>;
    /// Opens the keyboard and mouse for injection, on the calling thread.
    fn open_input(&self) -> Result<Box<dyn InputSink>, InjectError>;
}

#[cfg(test)]
pub mod fake;

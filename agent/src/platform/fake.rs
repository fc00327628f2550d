//! Test doubles: a screen whose pixels the test sets, and a sink that records actions.

use super::{CaptureError, Captured, InjectError, InputSink, Monitors, Platform, ScreenSource};
use crate::input::Action;
use sos_codec::BgraFrame;
use sos_transport::wire::DisplayInfo;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// A fake machine. Clones share the screen and the recorded actions.
#[derive(Debug, Clone)]
pub struct FakePlatform {
    /// Screen width.
    pub width: u32,
    /// Screen height.
    pub height: u32,
    /// BGRA pixels, `width * 4` bytes per row.
    pub screen: Arc<Mutex<Vec<u8>>>,
    /// Every action applied, in order.
    pub actions: Arc<Mutex<Vec<Action>>>,
    /// Monitors reported (none by default: the screen is one monitor).
    pub monitors: Monitors,
    /// Number of captures made.
    pub captures: Arc<AtomicU64>,
}

impl FakePlatform {
    /// A uniformly grey screen of this size.
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            screen: Arc::new(Mutex::new(vec![40; (width * height * 4) as usize])),
            actions: Arc::default(),
            monitors: Monitors::default(),
            captures: Arc::default(),
        }
    }

    /// Paints a `size`-pixel square at (`x`, `y`) in grey `level`.
    pub fn paint(&self, x: u32, y: u32, size: u32, level: u8) {
        let mut screen = self.screen.lock().unwrap();
        for row in y..(y + size).min(self.height) {
            for col in x..(x + size).min(self.width) {
                let at = ((row * self.width + col) * 4) as usize;
                screen[at..at + 4].copy_from_slice(&[level, level, level, 255]);
            }
        }
    }

    /// Number of captures made so far.
    pub fn capture_count(&self) -> u64 {
        self.captures.load(Ordering::SeqCst)
    }

    /// The actions applied so far.
    pub fn actions(&self) -> Vec<Action> {
        self.actions.lock().unwrap().clone()
    }
}

impl Platform for FakePlatform {
    fn displays(&self) -> Vec<DisplayInfo> {
        vec![DisplayInfo {
            index: 0,
            width: self.width,
            height: self.height,
            primary: true,
        }]
    }

    fn monitors(&self) -> Monitors {
        self.monitors.clone()
    }

    fn open_screen(&self, monitor: Option<u32>) -> Result<Box<dyn ScreenSource>, CaptureError> {
        // The fake's picture stands for whichever monitor is asked for, if it exists.
        match monitor {
            Some(index) if self.monitors.get(index).is_none() => {
                Err(CaptureError::NoSuchMonitor(index))
            }
            _ => Ok(Box::new(self.clone())),
        }
    }

    fn open_input(&self) -> Result<Box<dyn InputSink>, InjectError> {
        Ok(Box::new(self.clone()))
    }
}

impl ScreenSource for FakePlatform {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn capture(&mut self, use_frame: &mut dyn FnMut(Captured<'_>)) -> Result<bool, CaptureError> {
        let screen = self
            .screen
            .lock()
            .map_err(|e| CaptureError::Capture(e.to_string()))?;
        use_frame(Captured {
            frame: BgraFrame {
                width: self.width,
                height: self.height,
                stride: self.width as usize * 4,
                data: &screen,
            },
            captured_at: SystemTime::now(),
        });
        Ok(true)
    }
}

impl InputSink for FakePlatform {
    /// The last position moved to (the origin before any move).
    fn pointer(&mut self) -> Option<(i32, i32)> {
        let actions = self.actions.lock().ok()?;
        let last = actions.iter().rev().find_map(|a| match a {
            Action::MoveTo { x, y } => Some((*x, *y)),
            _ => None,
        });
        Some(last.unwrap_or((0, 0)))
    }

    fn apply(&mut self, action: &Action) -> Result<(), InjectError> {
        if action == &Action::Text("fail".into()) {
            return Err(InjectError::Failed("asked to fail".into()));
        }
        self.actions
            .lock()
            .map_err(|e| InjectError::Failed(e.to_string()))?
            .push(action.clone());
        Ok(())
    }
}

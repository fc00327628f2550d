//! X11: capture with `scrap` (XShm), injection with `enigo` (XTest through x11rb), kept
//! right across keyboard layout changes by the keyboard watch (`super::keyboard`).
//!
//! Contract: opens `$DISPLAY`; the capturer and the injector are created on the thread that
//! uses them. scrap pipelines XShm requests (each call returns the image requested by the
//! previous call); an image older than `max_capture_age` is refreshed before it is used, so
//! the technician never sees a screen from before the last pause.

use super::damage::DamageWatch;
use super::keyboard::KeyboardWatch;
use super::{CaptureError, Captured, InjectError, InputSink, Monitors, Platform, ScreenSource};
use crate::input::Action;
use enigo::{Axis, Coordinate, Enigo, InputError, Keyboard, Mouse, Settings};
use sos_codec::BgraFrame;
use sos_transport::wire::DisplayInfo;
use std::io::ErrorKind;
use std::time::{Duration, Instant, SystemTime};

/// The X11 desktop named by `$DISPLAY`.
#[derive(Debug, Clone, Copy)]
pub struct X11Platform {
    /// Oldest pending image a capture may return; older ones are captured again.
    pub max_capture_age: Duration,
}

impl Default for X11Platform {
    fn default() -> Self {
        Self {
            max_capture_age: Duration::from_millis(10),
        }
    }
}

impl Platform for X11Platform {
    fn displays(&self) -> Vec<DisplayInfo> {
        match scrap::Display::primary() {
            Ok(display) => vec![DisplayInfo {
                // Numbered like the monitors, when they are known.
                index: self.monitors().shared.unwrap_or(0),
                width: u32::try_from(display.width()).unwrap_or(0),
                height: u32::try_from(display.height()).unwrap_or(0),
                primary: true,
            }],
            Err(error) => {
                tracing::warn!(%error, "no screen to share");
                Vec::new()
            }
        }
    }

    fn monitors(&self) -> Monitors {
        match super::monitors::read() {
            Ok(monitors) => monitors,
            Err(error) => {
                tracing::info!(%error, "monitors unknown; the shared screen counts as one");
                Monitors::default()
            }
        }
    }

    fn open_screen(&self, monitor: Option<u32>) -> Result<Box<dyn ScreenSource>, CaptureError> {
        let display = match monitor {
            None => scrap::Display::primary().map_err(|e| CaptureError::Open(describe_open(&e)))?,
            Some(index) => {
                let monitors = self.monitors();
                let position = monitors
                    .list
                    .iter()
                    .position(|m| m.index == index)
                    .and_then(|i| monitors.system_order.get(i).copied())
                    .ok_or(CaptureError::NoSuchMonitor(index))?;
                // scrap lists the monitors in the server's order, as `system_order` counts.
                scrap::Display::all()
                    .map_err(|e| CaptureError::Open(describe_open(&e)))?
                    .into_iter()
                    .nth(position)
                    .ok_or(CaptureError::NoSuchMonitor(index))?
            }
        };
        let width =
            u32::try_from(display.width()).map_err(|e| CaptureError::Open(e.to_string()))?;
        let height =
            u32::try_from(display.height()).map_err(|e| CaptureError::Open(e.to_string()))?;
        let capturer =
            scrap::Capturer::new(display).map_err(|e| CaptureError::Open(e.to_string()))?;
        let damage = DamageWatch::open()
            .map_err(|error| {
                tracing::info!(%error, "no damage reports: the screen is polled at the frame rate");
            })
            .ok();
        Ok(Box::new(ScrapScreen {
            capturer,
            damage,
            width,
            height,
            // Capturer::new already requested the first image.
            requested: (Instant::now(), SystemTime::now()),
            max_age: self.max_capture_age,
        }))
    }

    fn open_input(&self) -> Result<Box<dyn InputSink>, InjectError> {
        // The watch first: it must see the mapping as enigo reads it.
        let keyboard = KeyboardWatch::open()
            .map_err(|error| tracing::warn!(%error, "keyboard layout changes go unseen"))
            .ok();
        Ok(Box::new(EnigoSink {
            enigo: Some(open_enigo()?),
            keyboard,
        }))
    }
}

fn describe_open(error: &std::io::Error) -> String {
    match error.kind() {
        ErrorKind::ConnectionRefused => "cannot connect to the X server named by $DISPLAY".into(),
        ErrorKind::NotFound => "the X server has no screen".into(),
        _ => error.to_string(),
    }
}

struct ScrapScreen {
    capturer: scrap::Capturer,
    /// Reports drawing, so an unchanged screen is not captured at all.
    damage: Option<DamageWatch>,
    width: u32,
    height: u32,
    /// When the image scrap will return next was requested.
    requested: (Instant, SystemTime),
    max_age: Duration,
}

impl ScrapScreen {
    fn discard_one(&mut self) -> Result<(), CaptureError> {
        match self.capturer.frame() {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(CaptureError::Capture(e.to_string())),
        }
        self.requested = (Instant::now(), SystemTime::now());
        Ok(())
    }
}

impl ScreenSource for ScrapScreen {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn wait_for_change(&mut self, deadline: Instant) -> bool {
        match self.damage.as_mut() {
            Some(damage) => damage.wait(deadline),
            None => true,
        }
    }

    fn capture(&mut self, use_frame: &mut dyn FnMut(Captured<'_>)) -> Result<bool, CaptureError> {
        if self.requested.0.elapsed() > self.max_age {
            self.discard_one()?;
        }
        let captured_at = self.requested.1;
        let frame = match self.capturer.frame() {
            Ok(frame) => frame,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(CaptureError::Capture(e.to_string())),
        };
        // scrap issued the next request before returning.
        self.requested = (Instant::now(), SystemTime::now());
        let data: &[u8] = &frame;
        let stride = data.len() / (self.height.max(1) as usize);
        use_frame(Captured {
            frame: BgraFrame {
                width: self.width,
                height: self.height,
                stride,
                data,
            },
            captured_at,
        });
        Ok(true)
    }
}

fn open_enigo() -> Result<Enigo, InjectError> {
    Enigo::new(&Settings::default()).map_err(|e| InjectError::Open(e.to_string()))
}

struct EnigoSink {
    /// Always `Some` between calls; empty only while being reopened.
    enigo: Option<Enigo>,
    keyboard: Option<KeyboardWatch>,
}

impl EnigoSink {
    /// Reopens enigo on the current mapping when the end user changed layouts.
    fn follow_layout(&mut self) -> Result<(), InjectError> {
        let Some(keyboard) = self.keyboard.as_mut() else {
            return Ok(());
        };
        if keyboard.mapping_changed() {
            tracing::info!("keyboard layout changed; reading it again");
            // The old connection gives its remapped keycodes back when dropped; that must
            // happen before the new one reads the mapping.
            self.enigo = None;
            self.enigo = Some(open_enigo()?);
            if let Err(error) = keyboard.rescan() {
                tracing::warn!(%error, "cannot read the keyboard mapping");
            }
        }
        Ok(())
    }
}

impl InputSink for EnigoSink {
    fn pointer(&mut self) -> Option<(i32, i32)> {
        if self.enigo.is_none() {
            self.enigo = open_enigo().ok();
        }
        self.enigo.as_ref()?.location().ok()
    }

    fn apply(&mut self, action: &Action) -> Result<(), InjectError> {
        if matches!(action, Action::Text(_) | Action::Key { .. }) {
            self.follow_layout()?;
        }
        if self.enigo.is_none() {
            self.enigo = Some(open_enigo()?);
        }
        let Some(enigo) = self.enigo.as_mut() else {
            return Err(InjectError::Failed(
                "the keyboard and mouse are closed".into(),
            ));
        };
        let watch = self.keyboard.as_ref();
        let result = match action {
            Action::MoveTo { x, y } => enigo.move_mouse(*x, *y, Coordinate::Abs),
            Action::Button { button, direction } => enigo.button(*button, *direction),
            Action::Scroll { dx, dy } => {
                let vertical = match *dy {
                    0 => Ok(()),
                    dy => enigo.scroll(dy, Axis::Vertical),
                };
                vertical.and_then(|()| match *dx {
                    0 => Ok(()),
                    dx => enigo.scroll(dx, Axis::Horizontal),
                })
            }
            Action::Text(text) => in_first_group(watch, || enigo.text(text)),
            Action::Key { key, direction } => in_first_group(watch, || enigo.key(*key, *direction)),
        };
        result.map_err(|e| match e {
            InputError::InvalidInput(reason) => InjectError::Refused(reason.to_string()),
            other => InjectError::Failed(other.to_string()),
        })
    }
}

/// Runs a keyboard injection with the first layout group active, when the group is known.
fn in_first_group<T>(watch: Option<&KeyboardWatch>, inject: impl FnOnce() -> T) -> T {
    match watch {
        Some(watch) => watch.in_first_group(inject),
        None => inject(),
    }
}

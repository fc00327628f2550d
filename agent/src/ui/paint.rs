//! Drawing the three windows from their views, in the branding's colours and font.
//!
//! Contract: draws only into the buffer given ([`Canvas`] clips); reads no clock (the time
//! shown is passed in); shows names exactly as the session sanitised them.

use super::bar::{self, BarView};
use super::consent::{self, ConsentView};
use super::status::{self, Focus, Mode, StatusButton, StatusView};
use crate::consent::Choice;
use sos_branding::ui::{Canvas, Logo, Rect, TextPainter};
use sos_branding::{Colour, Colours};
use std::time::Instant;

/// The red of Stop and of error lines, the same in every branding.
pub const DANGER: Colour = Colour([0xc6, 0x28, 0x28]);
/// The background of the scam warning.
const WARNING_BG: u32 = 0x00ff_f4ce;
/// The text of the scam warning.
const WARNING_TEXT: u32 = 0x005c_3c00;
const MARGIN: u32 = 24;

/// The branding's look: colours, names, the font.
#[derive(Debug)]
pub struct Look {
    /// Product name, in titles.
    pub product: String,
    /// Colours.
    pub colours: Colours,
    /// The organisation's own words for every permission question (may be empty).
    pub consent_text: String,
    /// Text drawing with the bundled font.
    pub text: TextPainter,
    /// The organisation's logo, before every title.
    pub logo: Option<Logo>,
}

impl Look {
    /// The look of `product` in `colours`, with the organisation's `consent_text` and
    /// logo (a PNG).
    pub fn new(
        product: &str,
        colours: Colours,
        consent_text: &str,
        logo_png: Option<&[u8]>,
    ) -> Result<Self, String> {
        let logo = logo_png.and_then(|png| {
            Logo::decode(png)
                .inspect_err(|error| tracing::warn!(%error, "the logo is left out"))
                .ok()
        });
        Ok(Self {
            product: product.to_string(),
            colours,
            consent_text: consent_text.to_string(),
            text: TextPainter::new()?,
            logo,
        })
    }
}

/// Black or white, whichever reads better on `background`.
pub fn ink_on(background: Colour) -> u32 {
    let white = Colour([0xff, 0xff, 0xff]);
    if white.contrast(background) >= Colour([0, 0, 0]).contrast(background) {
        white.pixel()
    } else {
        0
    }
}

/// How a button is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// Filled with this colour: the default or the urgent action.
    Filled(Colour),
    /// An outline in the primary colour.
    Outlined,
}

impl Look {
    fn background(&self, canvas: &mut Canvas<'_>) {
        let bg = self.colours.background.pixel();
        canvas.pixels().fill(bg);
    }

    fn header(&mut self, canvas: &mut Canvas<'_>, title: &str, height: u32) {
        let band = Rect {
            x: 0,
            y: 0,
            width: canvas.width(),
            height,
        };
        canvas.fill(band, self.colours.primary.pixel());
        let ink = ink_on(self.colours.primary);
        let mut x = MARGIN;
        if let Some(logo) = &self.logo {
            let side = height.saturating_sub(16);
            canvas.logo(logo, (x, 8), side);
            x += logo.width_at(side) + 12;
        }
        let px = 20;
        let y = (height.saturating_sub(self.text.line_height(px))) / 2;
        self.text
            .draw(canvas, (to_i32(x), to_i32(y)), title, px, ink);
    }

    fn button(
        &mut self,
        canvas: &mut Canvas<'_>,
        rect: Rect,
        label: &str,
        style: Style,
        emphasis: bool,
    ) {
        let ink = match style {
            Style::Filled(fill) => {
                canvas.fill(rect, fill.pixel());
                ink_on(fill)
            }
            Style::Outlined => {
                canvas.fill(rect, self.colours.background.pixel());
                canvas.outline(rect, 2, self.colours.primary.pixel());
                self.colours.primary.pixel()
            }
        };
        if emphasis {
            // A ring around the button: where Enter goes.
            let ring = Rect {
                x: rect.x.saturating_sub(4),
                y: rect.y.saturating_sub(4),
                width: rect.width + 8,
                height: rect.height + 8,
            };
            canvas.outline(ring, 2, self.colours.text.pixel());
        }
        self.text.draw_centred(canvas, rect, label, 16, ink);
    }

    /// Wrapped text from (`x`, `y`), at most `width` wide; returns the next free row.
    fn paragraph(
        &mut self,
        canvas: &mut Canvas<'_>,
        (x, y): (u32, u32),
        width: u32,
        text: &str,
        px: u32,
        color: u32,
    ) -> u32 {
        let line_height = self.text.line_height(px);
        let mut y = y;
        for line in self.text.wrap(text, px, width) {
            self.text
                .draw(canvas, (to_i32(x), to_i32(y)), &line, px, color);
            y += line_height;
        }
        y
    }
}

/// The permission window at `now`.
pub fn paint_consent(canvas: &mut Canvas<'_>, look: &mut Look, view: &ConsentView, now: Instant) {
    look.background(canvas);
    let title = format!("{} — permission request", look.product);
    look.header(canvas, &title, 52);
    let text = look.colours.text.pixel();
    let width = consent::WIDTH - 2 * MARGIN;
    let mut y = look.paragraph(canvas, (MARGIN, 68), width, &view.headline(), 22, text);
    y = look.paragraph(
        canvas,
        (MARGIN, y + 2),
        width,
        view.request_text(),
        16,
        text,
    );
    let warning_lines = look.text.wrap(&view.warning(), 15, width - 24).len() as u32;
    let warning = Rect {
        x: MARGIN,
        y: y + 10,
        width,
        height: warning_lines * look.text.line_height(15) + 20,
    };
    canvas.fill(warning, WARNING_BG);
    canvas.outline(warning, 1, WARNING_TEXT);
    let warning_text = view.warning();
    y = look.paragraph(
        canvas,
        (MARGIN + 12, warning.y + 10),
        width - 24,
        &warning_text,
        15,
        WARNING_TEXT,
    );
    y += 14;
    if !look.consent_text.is_empty() {
        let words = look.consent_text.clone();
        y = look.paragraph(canvas, (MARGIN, y), width, &words, 14, text) + 6;
    }
    let left = view.seconds_left(now);
    let countdown = format!("Denied automatically in {left} s if you do nothing.");
    look.paragraph(
        canvas,
        (MARGIN, y.max(consent::BUTTONS_Y - 30)),
        width,
        &countdown,
        14,
        text,
    );
    let armed = view.armed(now);
    let buttons: Vec<(Choice, Rect)> = view.buttons().iter().copied().collect();
    for (choice, rect) in buttons {
        let style = match choice {
            Choice::Deny => Style::Filled(look.colours.primary),
            Choice::Allow | Choice::AllowViewOnly => Style::Outlined,
        };
        look.button(
            canvas,
            rect,
            view.label(choice),
            style,
            choice == Choice::Deny,
        );
        if !armed && choice != Choice::Deny {
            // Not clickable yet: faded.
            canvas.blend(rect, look.colours.background.pixel(), 150);
        }
    }
}

/// The in-session bar.
pub fn paint_bar(canvas: &mut Canvas<'_>, look: &mut Look, view: &BarView) {
    let primary = look.colours.primary;
    canvas.pixels().fill(primary.pixel());
    let ink = ink_on(primary);
    let buttons: Vec<_> = view.buttons().iter().copied().collect();
    let room = buttons
        .iter()
        .map(|(_, rect)| rect.x)
        .min()
        .unwrap_or(bar::WIDTH)
        .saturating_sub(16 + 12);
    // One line at 16 px when it fits, else at most two at 14 px (names can be long).
    let text = view.text();
    let (px, mut lines) = if look.text.width(&text, 16) <= room {
        (16, vec![text])
    } else {
        (14, look.text.wrap(&text, 14, room))
    };
    if lines.len() > 2 {
        lines.truncate(2);
        lines[1].push('…');
    }
    let line_height = look.text.line_height(px);
    let top = bar::HEIGHT.saturating_sub(line_height * lines.len() as u32) / 2;
    for (i, line) in lines.iter().enumerate() {
        let y = top + i as u32 * line_height;
        look.text.draw(canvas, (16, to_i32(y)), line, px, ink);
    }
    // Whatever is still too long stops short of the buttons.
    let cover = Rect {
        x: 16 + room,
        y: 0,
        width: 12,
        height: bar::HEIGHT,
    };
    canvas.fill(cover, primary.pixel());
    for (button, rect) in buttons {
        let style = match button {
            bar::Button::Stop => Style::Filled(DANGER),
            bar::Button::Pause => Style::Outlined,
        };
        look.button(canvas, rect, view.label(button), style, false);
    }
}

/// The main window.
pub fn paint_status(canvas: &mut Canvas<'_>, look: &mut Look, view: &StatusView) {
    look.background(canvas);
    let title = format!("{} — remote support", look.product);
    look.header(canvas, &title, status::HEADER);
    let text = look.colours.text.pixel();
    let width = status::WIDTH - 2 * MARGIN;
    let mut focused_button = None;
    match view.mode() {
        Mode::Form {
            fields,
            focus,
            error,
        } => {
            for (index, field) in fields.iter().enumerate() {
                let (label_y, rect) = StatusView::field_place(index);
                look.text.draw(
                    canvas,
                    (to_i32(MARGIN), to_i32(label_y)),
                    field.label(),
                    15,
                    text,
                );
                canvas.fill(rect, look.colours.background.pixel());
                let focused = *focus == Focus::Field(index);
                let ring = if focused {
                    look.colours.primary
                } else {
                    look.colours.text
                };
                canvas.outline(rect, if focused { 3 } else { 1 }, ring.pixel());
                let shown = if focused {
                    format!("{}|", field.value)
                } else {
                    field.value.clone()
                };
                let at = (to_i32(rect.x + 10), to_i32(rect.y + 8));
                look.text.draw(canvas, at, &shown, 18, text);
            }
            if let Some(error) = error {
                let (_, last) = StatusView::field_place(fields.len().saturating_sub(1));
                let at = (MARGIN, last.y + last.height + 10);
                look.paragraph(canvas, at, width, error, 15, DANGER.pixel());
            }
            if let Focus::Button(button) = focus {
                focused_button = Some(*button);
            }
        }
        Mode::Progress(lines) => {
            let mut y = status::HEADER + 20;
            for line in lines {
                y = look.paragraph(canvas, (MARGIN, y), width, line, 16, text) + 4;
            }
        }
        Mode::Finished(message) => {
            look.paragraph(
                canvas,
                (MARGIN, status::HEADER + 24),
                width,
                message,
                18,
                text,
            );
        }
    }
    let buttons: Vec<_> = view.buttons().iter().copied().collect();
    for (button, rect) in buttons {
        let style = match button {
            StatusButton::Connect | StatusButton::Close => Style::Filled(look.colours.primary),
            StatusButton::Cancel => Style::Outlined,
        };
        let focused = focused_button == Some(button);
        look.button(canvas, rect, StatusView::label(button), style, focused);
    }
}

fn to_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn look() -> Look {
        Look {
            product: "sosdesk".into(),
            colours: Colours::GENERIC,
            consent_text: "Acme never asks for passwords.".into(),
            text: TextPainter::new().unwrap(),
            logo: None,
        }
    }

    fn count(pixels: &[u32], rect: Rect, stride: u32, color: u32) -> usize {
        (rect.y..rect.y + rect.height)
            .flat_map(|y| (rect.x..rect.x + rect.width).map(move |x| (x, y)))
            .filter(|(x, y)| pixels[(y * stride + x) as usize] == color)
            .count()
    }

    #[test]
    fn the_consent_window_shows_text_and_a_default_deny() {
        let mut look = look();
        let now = Instant::now();
        let view = ConsentView::new(
            1,
            "Ann".into(),
            "Acme".into(),
            true,
            Duration::from_secs(60),
            now,
        );
        let (w, h) = (consent::WIDTH, consent::HEIGHT);
        let mut pixels = vec![0u32; (w * h) as usize];
        let mut canvas = Canvas::new(&mut pixels, w, h).unwrap();
        paint_consent(&mut canvas, &mut look, &view, now + Duration::from_secs(2));
        let primary = Colours::GENERIC.primary.pixel();
        let deny = consent::DENY;
        // The Deny button is filled (its corner, away from the label).
        assert_eq!(pixels[((deny.y + 4) * w + deny.x + 4) as usize], primary);
        // Text in the title band and in the body.
        let title = Rect {
            x: 0,
            y: 0,
            width: w,
            height: 52,
        };
        assert!(count(&pixels, title, w, 0x00ff_ffff) > 100);
        let body = Rect {
            x: 0,
            y: 60,
            width: w,
            height: 40,
        };
        assert!(count(&pixels, body, w, Colours::GENERIC.text.pixel()) > 50);
    }

    #[test]
    fn bar_and_status_draw_in_any_state() {
        let mut look = look();
        let (w, h) = (bar::WIDTH, bar::HEIGHT);
        let mut pixels = vec![0u32; (w * h) as usize];
        let mut canvas = Canvas::new(&mut pixels, w, h).unwrap();
        paint_bar(
            &mut canvas,
            &mut look,
            &BarView::new("Ann".into(), "Acme".into(), true),
        );
        let stop = bar::STOP;
        assert_eq!(
            pixels[((stop.y + 3) * w + stop.x + 3) as usize],
            DANGER.pixel()
        );
        let (w, h) = (status::WIDTH, status::HEIGHT);
        let mut pixels = vec![0u32; (w * h) as usize];
        let mut canvas = Canvas::new(&mut pixels, w, h).unwrap();
        let mut view = StatusView::form(None, true, Some("PIN not accepted".into()));
        paint_status(&mut canvas, &mut look, &view);
        view.push_line("Connecting…".into());
        paint_status(&mut canvas, &mut look, &view);
        view.finish("Session ended.".into());
        paint_status(&mut canvas, &mut look, &view);
        assert!(ink_on(Colour([255, 255, 255])) == 0 && ink_on(Colour([0, 0, 80])) == 0x00ff_ffff);
    }
}

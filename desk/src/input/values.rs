//! Values of `sos-desk input` options: positions, drags, wheel steps, buttons.
//!
//! Contract: pure parsing; every refusal says what is expected.

use sos_transport::wire::MouseButton;
use std::fmt;
use std::str::FromStr;

/// A pointer position in the shared screen's (or a monitor's) pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    /// Column.
    pub x: i32,
    /// Row.
    pub y: i32,
}

/// Why a `--move` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a position — give X,Y as two whole numbers, such as 10,20")]
pub struct PointParseError {
    text: String,
}

/// Parses `X,Y` (spaces around the numbers allowed).
pub fn parse_point(text: &str) -> Result<Point, PointParseError> {
    let refuse = || PointParseError {
        text: text.to_string(),
    };
    let (x, y) = text.split_once(',').ok_or_else(refuse)?;
    let number = |part: &str| part.trim().parse::<i32>().map_err(|_| refuse());
    Ok(Point {
        x: number(x)?,
        y: number(y)?,
    })
}

impl FromStr for Point {
    type Err = PointParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_point(text)
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.x, self.y)
    }
}

/// A drag from one position to another with the left button held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drag {
    /// Where the button goes down.
    pub from: Point,
    /// Where it comes up.
    pub to: Point,
}

/// Why a `--drag` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a drag — give X1,Y1:X2,Y2, such as 10,20:300,400")]
pub struct DragParseError {
    text: String,
}

/// Parses `X1,Y1:X2,Y2`.
pub fn parse_drag(text: &str) -> Result<Drag, DragParseError> {
    let refuse = |_| DragParseError {
        text: text.to_string(),
    };
    let (from, to) = text.split_once(':').ok_or(DragParseError {
        text: text.to_string(),
    })?;
    Ok(Drag {
        from: parse_point(from).map_err(refuse)?,
        to: parse_point(to).map_err(refuse)?,
    })
}

impl fmt::Display for Drag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.from, self.to)
    }
}

/// Wheel steps: positive `dx` scrolls right, positive `dy` down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WheelSteps {
    /// Horizontal steps.
    pub dx: i32,
    /// Vertical steps.
    pub dy: i32,
}

/// Why a `--wheel` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a number of wheel steps — give DX,DY between -100 and 100, such as 0,3 (down) or -2,0 (left)"
)]
pub struct WheelParseError {
    text: String,
}

/// Parses `DX,DY`, each within ±100.
pub fn parse_wheel(text: &str) -> Result<WheelSteps, WheelParseError> {
    let refuse = || WheelParseError {
        text: text.to_string(),
    };
    let Point { x, y } = parse_point(text).map_err(|_| refuse())?;
    let fits = |v: i32| (-100..=100).contains(&v);
    if !fits(x) || !fits(y) || (x, y) == (0, 0) {
        return Err(refuse());
    }
    Ok(WheelSteps { dx: x, dy: y })
}

impl fmt::Display for WheelSteps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.dx, self.dy)
    }
}

/// A mouse button as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ButtonArg {
    /// Left button.
    Left,
    /// Middle button.
    Middle,
    /// Right button.
    Right,
}

impl ButtonArg {
    /// The wire button.
    pub fn button(self) -> MouseButton {
        match self {
            ButtonArg::Left => MouseButton::Left,
            ButtonArg::Middle => MouseButton::Middle,
            ButtonArg::Right => MouseButton::Right,
        }
    }

    /// How the button is named in the output.
    pub fn name(self) -> &'static str {
        match self {
            ButtonArg::Left => "left",
            ButtonArg::Middle => "middle",
            ButtonArg::Right => "right",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_parse_with_spaces_and_signs() {
        assert_eq!(parse_point("10,20"), Ok(Point { x: 10, y: 20 }));
        assert_eq!(parse_point(" 3 , -4 "), Ok(Point { x: 3, y: -4 }));
    }

    #[test]
    fn bad_points_say_what_is_expected() {
        for bad in [
            "",
            "10",
            "10,",
            ",20",
            "a,b",
            "1.5,2",
            "10,20,30",
            "10;20",
            "99999999999,1",
        ] {
            let err = parse_point(bad).unwrap_err();
            assert!(err.to_string().contains("such as 10,20"), "{bad}: {err}");
        }
    }

    #[test]
    fn drags_and_wheels_parse() {
        let drag = parse_drag("10,20:300,400").unwrap();
        assert_eq!(drag.from, Point { x: 10, y: 20 });
        assert_eq!(drag.to, Point { x: 300, y: 400 });
        assert_eq!(drag.to_string(), "10,20:300,400");
        for bad in ["10,20", "10,20:", ":1,2", "1,2:3", "1,2:3,4:5,6"] {
            let err = parse_drag(bad).unwrap_err().to_string();
            assert!(err.contains("X1,Y1:X2,Y2"), "{bad}: {err}");
        }
        assert_eq!(parse_wheel("0,3"), Ok(WheelSteps { dx: 0, dy: 3 }));
        assert_eq!(parse_wheel("-2, 0"), Ok(WheelSteps { dx: -2, dy: 0 }));
        for bad in ["0,0", "101,0", "0,-101", "3", "a,1"] {
            let err = parse_wheel(bad).unwrap_err().to_string();
            assert!(err.contains("wheel steps"), "{bad}: {err}");
        }
    }
}

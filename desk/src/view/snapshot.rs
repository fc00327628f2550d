//! Writing a decoded frame to a file, for tests that compare it with the real screen.
//!
//! Formats: binary PPM (`P6`, RGB, maxval 255) for `.ppm`; for `.bgra` the magic `BGRA`,
//! width and height as little-endian `u32`, then `width * height * 4` bytes B,G,R,A.

use sos_codec::DecodedFrame;
use std::path::Path;

/// Which format a snapshot file gets, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotFormat {
    /// Binary PPM, RGB.
    Ppm,
    /// Raw BGRA after a 12-byte header.
    Bgra,
}

/// Why a snapshot path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a snapshot file ends in .ppm (binary PPM) or .bgra (raw BGRA with a header)")]
pub struct SnapshotFormatError;

impl SnapshotFormat {
    /// The format for `path`, by its extension (case-insensitive).
    pub fn of(path: &Path) -> Result<Self, SnapshotFormatError> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("ppm") => Ok(Self::Ppm),
            Some("bgra") => Ok(Self::Bgra),
            _ => Err(SnapshotFormatError),
        }
    }

    /// The frame's bytes in this format.
    pub fn encode(self, frame: &DecodedFrame) -> Vec<u8> {
        match self {
            Self::Ppm => ppm(frame),
            Self::Bgra => bgra(frame),
        }
    }
}

fn ppm(frame: &DecodedFrame) -> Vec<u8> {
    let header = format!("P6\n{} {}\n255\n", frame.width, frame.height);
    let mut out = Vec::with_capacity(header.len() + frame.bgra.len() / 4 * 3);
    out.extend_from_slice(header.as_bytes());
    for pixel in frame.bgra.chunks_exact(4) {
        out.extend_from_slice(&[pixel[2], pixel[1], pixel[0]]);
    }
    out
}

fn bgra(frame: &DecodedFrame) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + frame.bgra.len());
    out.extend_from_slice(b"BGRA");
    out.extend_from_slice(&frame.width.to_le_bytes());
    out.extend_from_slice(&frame.height.to_le_bytes());
    out.extend_from_slice(&frame.bgra);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_pixels() -> DecodedFrame {
        DecodedFrame {
            width: 2,
            height: 1,
            bgra: vec![1, 2, 3, 255, 10, 20, 30, 255],
        }
    }

    #[test]
    fn ppm_is_p6_rgb() {
        let bytes = SnapshotFormat::Ppm.encode(&two_pixels());
        assert_eq!(bytes, b"P6\n2 1\n255\n\x03\x02\x01\x1e\x14\x0a");
    }

    #[test]
    fn bgra_has_a_small_header() {
        let bytes = SnapshotFormat::Bgra.encode(&two_pixels());
        assert_eq!(&bytes[..4], b"BGRA");
        assert_eq!(&bytes[4..12], &[2, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(&bytes[12..], &two_pixels().bgra[..]);
    }

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(
            SnapshotFormat::of(Path::new("a/b.PPM")),
            Ok(SnapshotFormat::Ppm)
        );
        assert_eq!(
            SnapshotFormat::of(Path::new("x.bgra")),
            Ok(SnapshotFormat::Bgra)
        );
        assert_eq!(
            SnapshotFormat::of(Path::new("x.png")),
            Err(SnapshotFormatError)
        );
        assert_eq!(SnapshotFormat::of(Path::new("x")), Err(SnapshotFormatError));
    }
}

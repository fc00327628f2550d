//! Errors of the codec crate.
//!
//! Contract: local misuse (a frame that does not match its own description, a picture of the
//! wrong size) is kept apart from [`CodecError::InvalidBitstream`], which is the only variant
//! caused by bytes that came from the peer. Every message says what happened and what to do.

/// Everything that can go wrong while converting, encoding or decoding frames.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum CodecError {
    /// The frame is smaller than one 2x2 block once cropped to even width and height.
    #[error("frame is {width}x{height} pixels; at least 2x2 is needed — check the capture size")]
    FrameTooSmall {
        /// Width as given.
        width: u32,
        /// Height as given.
        height: u32,
    },
    /// The frame is larger than the H.264 encoder and decoder accept.
    #[error(
        "frame is {width}x{height} pixels; the largest supported size is {max_width}x{max_height} \
         (either orientation) — lower the capture resolution"
    )]
    FrameTooLarge {
        /// Width as given.
        width: u32,
        /// Height as given.
        height: u32,
        /// Largest supported width (landscape).
        max_width: u32,
        /// Largest supported height (landscape).
        max_height: u32,
    },
    /// The row stride of a BGRA frame is shorter than one row of pixels.
    #[error(
        "BGRA stride is {stride} bytes but a row of {width} pixels needs {needed} — \
         pass the capture's real stride"
    )]
    StrideTooSmall {
        /// Stride as given.
        stride: usize,
        /// Width in pixels.
        width: u32,
        /// Minimum stride in bytes (`width * 4`).
        needed: usize,
    },
    /// The BGRA buffer is shorter than its width, height and stride say.
    #[error(
        "BGRA buffer holds {actual} bytes but {needed} are needed for its size and stride — \
         the capture buffer was truncated or described wrongly"
    )]
    BufferTooShort {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        actual: usize,
    },
    /// A picture handed to the encoder does not have the size the encoder was built for.
    #[error(
        "picture is {actual_width}x{actual_height} but the encoder was built for \
         {expected_width}x{expected_height} — create a new Encoder when the screen size changes"
    )]
    PictureSizeMismatch {
        /// Size the encoder was configured with.
        expected_width: u32,
        /// Size the encoder was configured with.
        expected_height: u32,
        /// Size of the picture handed in.
        actual_width: u32,
        /// Size of the picture handed in.
        actual_height: u32,
    },
    /// The encoder configuration cannot be used.
    #[error("encoder settings rejected: {reason} — fix the EncoderConfig")]
    InvalidConfig {
        /// What is wrong with it.
        reason: String,
    },
    /// The colour conversion library refused the input.
    #[error("colour conversion failed: {0} — this is a bug in sos-codec, please report it")]
    Conversion(String),
    /// OpenH264 could not create or configure an encoder or decoder.
    #[error("could not start the H.264 {component}: {reason} — restart the session")]
    Init {
        /// `"encoder"` or `"decoder"`.
        component: &'static str,
        /// What OpenH264 reported.
        reason: String,
    },
    /// OpenH264 failed to encode a picture.
    #[error("H.264 encoding failed: {0} — request a keyframe or restart the stream")]
    Encode(String),
    /// An access unit from the peer is larger than any frame this crate produces.
    #[error(
        "H.264 access unit of {len} bytes exceeds the {max}-byte limit — the peer sent \
         a corrupt or hostile stream; ask for a keyframe"
    )]
    AccessUnitTooLarge {
        /// Size received.
        len: usize,
        /// Largest accepted size.
        max: usize,
    },
    /// Bytes from the peer are not a decodable H.264 stream (the peer misbehaved, or data was
    /// lost before the next keyframe).
    #[error("H.264 stream could not be decoded: {0} — ask the sender for a keyframe")]
    InvalidBitstream(String),
}

//! sosdesk video codec: BGRA capture -> I420 -> H.264 Annex-B -> I420 -> BGRA, plus tiled
//! change detection so an unchanged screen is never re-encoded.
//!
//! Contract:
//! - Pure computation: never touches the network, files or the clock; timestamps handed to
//!   the encoder are derived from the frame count.
//! - Colour is BT.601 limited range in both directions, signalled in the stream's VUI.
//! - Odd capture sizes are cropped to even (the last column/row is dropped).
//! - The encoder emits an IDR (with SPS/PPS in front) only for the first picture and on
//!   request; it never skips a frame.
//! - The decoder treats its input as hostile: it never panics on any byte sequence and
//!   refuses oversized input before decoding it.
#![forbid(unsafe_code)]

mod change;
mod convert;
mod decoder;
mod encoder;
mod error;
mod frame;
mod quality;
pub mod synthetic;

pub use change::{Change, ChangeDetector, TILE_SIZE};
pub use convert::bgra_to_i420;
pub use decoder::{DecodedFrame, Decoder, MAX_ACCESS_UNIT_BYTES};
pub use encoder::{EncodedFrame, Encoder, EncoderConfig};
pub use error::CodecError;
pub use frame::{BgraFrame, I420Picture};
pub use quality::psnr_bgra;

#[cfg(test)]
mod round_trip_tests;

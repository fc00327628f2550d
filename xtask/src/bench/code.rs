//! The timestamp code the bench scenes paint in a corner of every frame, and its reader.
//!
//! Two rows of 32 blocks of 16x16 pixels, black or white, aligned to the 16-pixel
//! macroblock grid near the bottom-left corner: 64 bits holding the paint time (the low 32
//! bits of the Unix time in milliseconds), the scene's frame number (24 bits), both
//! Gray-coded, and a CRC-8 over them. Blocks that large and that contrasted survive H.264
//! at any quality the bench uses; the reader looks at the middle of each block only and
//! rejects a code whose blocks are not clearly black or white or whose CRC does not match,
//! so a misread is dropped, never counted as a latency.
//!
//! Contract: pure functions of their arguments; never reads the clock (the caller unwraps
//! the 32-bit time against its own `now`).

/// Side of one block in pixels.
pub const BLOCK: u32 = 16;
/// Blocks per row.
const COLUMNS: u32 = 32;
/// Rows of blocks.
const ROWS: u32 = 2;
/// Frame numbers wrap at 2^24 (more than 6 days at 30 frames per second).
pub const FRAME_MASK: u32 = (1 << 24) - 1;
/// Mean luma below this reads as black.
const BLACK_BELOW: u32 = 80;
/// Mean luma above this reads as white.
const WHITE_ABOVE: u32 = 176;

/// What one code carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// Low 32 bits of the Unix time in milliseconds when the frame was painted.
    pub painted_ms: u32,
    /// The scene's frame number, modulo 2^24.
    pub frame: u32,
}

/// Where the code sits on a `width` x `height` screen: (x, y, width, height) in pixels.
pub fn area(_width: u32, height: u32) -> (u32, u32, u32, u32) {
    let y = height.saturating_sub(3 * BLOCK) / BLOCK * BLOCK;
    (BLOCK, y, COLUMNS * BLOCK, ROWS * BLOCK)
}

fn gray(value: u32) -> u32 {
    value ^ (value >> 1)
}

fn from_gray(mut value: u32) -> u32 {
    let mut shift = 1;
    while shift < 32 {
        value ^= value >> shift;
        shift <<= 1;
    }
    value
}

/// CRC-8 (polynomial 0x07) of the 56 payload bits, most significant first. It starts from
/// a non-zero value so that a plain black (or white) area never reads as a valid code.
fn crc8(payload: u64) -> u8 {
    let mut crc: u8 = 0xa5;
    for index in (0..7).rev() {
        crc ^= (payload >> (index * 8)) as u8;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn bits(code: Code) -> u64 {
    let payload =
        (u64::from(gray(code.painted_ms)) << 24) | u64::from(gray(code.frame & FRAME_MASK));
    (payload << 8) | u64::from(crc8(payload))
}

/// Paints `code` into a packed BGRA picture (`stride` bytes per row).
pub fn paint(bgra: &mut [u8], stride: usize, width: u32, height: u32, code: Code) {
    let (left, top, _, _) = area(width, height);
    let value = bits(code);
    for index in 0..COLUMNS * ROWS {
        let bit = (value >> (63 - index)) & 1 == 1;
        let shade = if bit { 255 } else { 0 };
        let x0 = left + (index % COLUMNS) * BLOCK;
        let y0 = top + (index / COLUMNS) * BLOCK;
        for y in y0..(y0 + BLOCK).min(height) {
            let start = y as usize * stride + x0 as usize * 4;
            let end = (start + BLOCK as usize * 4).min(y as usize * stride + width as usize * 4);
            if let Some(row) = bgra.get_mut(start..end) {
                for pixel in row.chunks_exact_mut(4) {
                    pixel.copy_from_slice(&[shade, shade, shade, 255]);
                }
            }
        }
    }
}

/// Reads the code back from a decoded BGRA picture; `None` when it is absent, unclear or
/// fails its CRC.
pub fn read(bgra: &[u8], stride: usize, width: u32, height: u32) -> Option<Code> {
    let (left, top, code_width, code_height) = area(width, height);
    if left + code_width > width || top + code_height > height {
        return None;
    }
    let mut value: u64 = 0;
    // The middle half of each block: away from the edges, where the codec's ringing is.
    let margin = BLOCK / 4;
    for index in 0..COLUMNS * ROWS {
        let x0 = left + (index % COLUMNS) * BLOCK + margin;
        let y0 = top + (index / COLUMNS) * BLOCK + margin;
        let mut sum = 0_u32;
        let mut count = 0_u32;
        for y in y0..y0 + BLOCK - 2 * margin {
            let row = y as usize * stride;
            for x in x0..x0 + BLOCK - 2 * margin {
                let at = row + x as usize * 4;
                let pixel = bgra.get(at..at + 3)?;
                // Rec. 601 luma, integer weights summing to 256.
                sum += (29 * u32::from(pixel[0])
                    + 150 * u32::from(pixel[1])
                    + 77 * u32::from(pixel[2]))
                    >> 8;
                count += 1;
            }
        }
        let mean = sum / count.max(1);
        let bit = if mean > WHITE_ABOVE {
            1
        } else if mean < BLACK_BELOW {
            0
        } else {
            return None;
        };
        value = (value << 1) | bit;
    }
    let payload = value >> 8;
    if crc8(payload) != (value & 0xff) as u8 {
        return None;
    }
    Some(Code {
        painted_ms: from_gray((payload >> 24) as u32),
        frame: from_gray((payload & u64::from(FRAME_MASK)) as u32),
    })
}

/// The full Unix time in milliseconds of a 32-bit `painted_ms`, taken as the latest one not
/// after `now_ms` (codes are read after they were painted).
pub fn unwrap_ms(painted_ms: u32, now_ms: u64) -> u64 {
    let behind = (now_ms as u32).wrapping_sub(painted_ms);
    now_ms.saturating_sub(u64::from(behind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sos_codec::{BgraFrame, Decoder, Encoder, EncoderConfig, I420Picture, bgra_to_i420};

    const WIDTH: u32 = 1920;
    const HEIGHT: u32 = 1080;
    const STRIDE: usize = WIDTH as usize * 4;

    fn sample() -> Code {
        Code {
            painted_ms: 0xdead_beef,
            frame: 123_456,
        }
    }

    #[test]
    fn gray_code_round_trips() {
        for value in [0, 1, 2, 3, 255, 256, 0x00ff_ffff, 0xdead_beef, u32::MAX] {
            assert_eq!(from_gray(gray(value)), value);
        }
        // Neighbours differ in one bit: a block caught between two frames moves one step.
        assert_eq!((gray(41) ^ gray(42)).count_ones(), 1);
    }

    #[test]
    fn painted_code_reads_back() {
        let mut picture = sos_codec::synthetic::desktop(WIDTH, HEIGHT, 3);
        assert_eq!(read(&picture, STRIDE, WIDTH, HEIGHT), None);
        paint(&mut picture, STRIDE, WIDTH, HEIGHT, sample());
        assert_eq!(read(&picture, STRIDE, WIDTH, HEIGHT), Some(sample()));
    }

    #[test]
    fn a_flipped_block_is_rejected_not_misread() {
        let mut picture = vec![128_u8; STRIDE * HEIGHT as usize];
        paint(&mut picture, STRIDE, WIDTH, HEIGHT, sample());
        let (left, top, _, _) = area(WIDTH, HEIGHT);
        // Invert the fifth block: a clean but wrong bit, which only the CRC catches.
        for y in top..top + BLOCK {
            for x in left + 4 * BLOCK..left + 5 * BLOCK {
                let at = y as usize * STRIDE + x as usize * 4;
                for byte in &mut picture[at..at + 3] {
                    *byte = 255 - *byte;
                }
            }
        }
        assert_eq!(read(&picture, STRIDE, WIDTH, HEIGHT), None);
        // A grey block is unclear: rejected before the CRC.
        let mut picture = vec![128_u8; STRIDE * HEIGHT as usize];
        paint(&mut picture, STRIDE, WIDTH, HEIGHT, sample());
        let at = top as usize * STRIDE + left as usize * 4;
        for y in 0..BLOCK as usize {
            picture[at + y * STRIDE..at + y * STRIDE + BLOCK as usize * 4].fill(128);
        }
        assert_eq!(read(&picture, STRIDE, WIDTH, HEIGHT), None);
        // Plain black or white areas are no code.
        for shade in [0, 255] {
            let picture = vec![shade; STRIDE * HEIGHT as usize];
            assert_eq!(read(&picture, STRIDE, WIDTH, HEIGHT), None, "{shade}");
        }
    }

    #[test]
    fn the_code_survives_h264() {
        let mut encoder = Encoder::new(EncoderConfig::new(WIDTH, HEIGHT)).unwrap();
        let mut decoder = Decoder::new().unwrap();
        let mut picture = I420Picture::new(WIDTH, HEIGHT);
        for frame in 0..4 {
            let mut bgra = sos_codec::synthetic::desktop(WIDTH, HEIGHT, frame + 1);
            let code = Code {
                painted_ms: 1_000 * frame,
                frame,
            };
            paint(&mut bgra, STRIDE, WIDTH, HEIGHT, code);
            let captured = BgraFrame {
                width: WIDTH,
                height: HEIGHT,
                stride: STRIDE,
                data: &bgra,
            };
            bgra_to_i420(&captured, &mut picture).unwrap();
            let encoded = encoder.encode(&picture, frame == 0).unwrap();
            let decoded = decoder.decode(&encoded.data).unwrap().unwrap();
            assert_eq!(
                read(&decoded.bgra, STRIDE, WIDTH, HEIGHT),
                Some(code),
                "frame {frame}"
            );
        }
    }

    #[test]
    fn unwrapping_picks_the_latest_time_not_after_now() {
        let now: u64 = 1_764_000_000_123;
        assert_eq!(unwrap_ms(now as u32, now), now);
        assert_eq!(unwrap_ms((now - 40) as u32, now), now - 40);
        // Across a 2^32 boundary.
        let now: u64 = (7 << 32) + 5;
        assert_eq!(unwrap_ms(u32::MAX - 4, now), now - 10);
    }
}

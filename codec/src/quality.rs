//! Objective picture quality, for tests and benchmarks that compare decoded frames with the
//! captured screen.
//!
//! Contract: looks only at the B, G and R bytes of the visible pixels; alpha and stride padding
//! never influence the result.

/// PSNR in dB over the three colour channels (B, G, R, equally weighted) of two same-size BGRA
/// images; `f64::INFINITY` when identical (or empty), `f64::NAN` when a stride is shorter than
/// a row or a buffer is shorter than its size says.
#[must_use]
pub fn psnr_bgra(
    a: &[u8],
    a_stride: usize,
    b: &[u8],
    b_stride: usize,
    width: u32,
    height: u32,
) -> f64 {
    let (width, height) = (width as usize, height as usize);
    if width == 0 || height == 0 {
        return f64::INFINITY;
    }
    let row = width * 4;
    let fits = |data: &[u8], stride: usize| {
        stride >= row && data.len() >= stride.saturating_mul(height - 1).saturating_add(row)
    };
    if !fits(a, a_stride) || !fits(b, b_stride) {
        return f64::NAN;
    }
    let mut squared_error: u64 = 0;
    for y in 0..height {
        let row_a = &a[y * a_stride..y * a_stride + row];
        let row_b = &b[y * b_stride..y * b_stride + row];
        let row_error: u64 = row_a
            .chunks_exact(4)
            .zip(row_b.chunks_exact(4))
            .map(|(pa, pb)| {
                (0..3)
                    .map(|c| {
                        let d = u64::from(pa[c].abs_diff(pb[c]));
                        d * d
                    })
                    .sum::<u64>()
            })
            .sum();
        squared_error += row_error;
    }
    if squared_error == 0 {
        return f64::INFINITY;
    }
    // Precision loss in the u64 -> f64 cast is irrelevant at PSNR resolution.
    let mse = squared_error as f64 / (width * height * 3) as f64;
    10.0 * (255.0 * 255.0 / mse).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_images_are_infinite_and_alpha_padding_ignored() {
        let a = [1, 2, 3, 4, 9, 9, 5, 6, 7, 8, 9, 9];
        let b = [1, 2, 3, 200, 5, 6, 7, 0];
        assert_eq!(psnr_bgra(&a, 6, &b, 4, 1, 2), f64::INFINITY);
        assert_eq!(psnr_bgra(&[], 0, &[], 0, 0, 0), f64::INFINITY);
    }

    #[test]
    fn known_error_gives_known_psnr() {
        // Every colour byte off by 1 -> MSE 1 -> 48.13 dB.
        let a = vec![100u8; 16 * 4];
        let b = vec![101u8; 16 * 4];
        let psnr = psnr_bgra(&a, 16, &b, 16, 4, 4);
        assert!((psnr - 48.1308).abs() < 1e-3, "{psnr}");
    }

    #[test]
    fn short_buffers_give_nan() {
        assert!(psnr_bgra(&[0; 8], 8, &[0; 7], 8, 2, 1).is_nan());
        assert!(psnr_bgra(&[0; 8], 4, &[0; 8], 8, 2, 1).is_nan());
    }
}

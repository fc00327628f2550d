//! A latency histogram of fixed size: recording never allocates, so a viewer can record
//! every frame of a long run, and histograms of many viewers merge exactly.
//!
//! Buckets are log-linear: values under 128 µs are exact; above, each power of two is cut
//! into 64 buckets, so a percentile is off by at most 1/64 (1.6 %) of its value. The
//! maximum is kept exactly. Pure data: no clock, no IO.

/// Values below this many microseconds have a bucket each.
const EXACT: u64 = 128;
/// Buckets per power of two above [`EXACT`] (2^6).
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Powers of two covered: up to 2^40 µs (about 12 days), far above any frame's latency.
const TOP_BIT: u32 = 40;
const BUCKETS: usize = EXACT as usize + (TOP_BIT - 7) as usize * SUB as usize;

/// Counts of latencies in microseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram {
    counts: Box<[u32]>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
            max: 0,
        }
    }
}

fn bucket_of(value: u64) -> usize {
    if value < EXACT {
        return value as usize;
    }
    // 7 <= exponent < TOP_BIT; larger values share the last bucket.
    let exponent = (63 - value.leading_zeros()).min(TOP_BIT - 1);
    let sub = (value >> (exponent - SUB_BITS)) & (SUB - 1);
    EXACT as usize + (exponent - 7) as usize * SUB as usize + sub as usize
}

/// The middle of a bucket's range, the value a percentile in it is given.
fn value_of(bucket: usize) -> u64 {
    if bucket < EXACT as usize {
        return bucket as u64;
    }
    let above = (bucket - EXACT as usize) as u64;
    let exponent = above / SUB + 7;
    let sub = above % SUB;
    let width = 1_u64 << (exponent - u64::from(SUB_BITS));
    (1_u64 << exponent) + sub * width + width / 2
}

impl Histogram {
    /// Counts one latency.
    pub fn record(&mut self, micros: u64) {
        let bucket = &mut self.counts[bucket_of(micros)];
        *bucket = bucket.saturating_add(1);
        self.total += 1;
        self.max = self.max.max(micros);
    }

    /// Adds another histogram's counts to this one.
    pub fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine = mine.saturating_add(*theirs);
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// How many latencies were counted.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The largest latency counted, exactly; `None` when empty.
    pub fn max(&self) -> Option<u64> {
        (self.total > 0).then_some(self.max)
    }

    /// The latency under which `quantile` (0 to 1) of them fall, to 1.6 %; never above
    /// the maximum. `None` when empty.
    pub fn quantile(&self, quantile: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        // The rank of the wanted value, 1-based: the smallest with `quantile` of the values
        // at or below it (the epsilon keeps 0.99 × 100 from rounding up to 100).
        let rank = ((quantile.clamp(0.0, 1.0) * self.total as f64 - 1e-9).ceil() as u64).max(1);
        if rank >= self.total {
            return Some(self.max);
        }
        let mut seen = 0_u64;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += u64::from(count);
            if seen >= rank {
                return Some(value_of(bucket).min(self.max));
            }
        }
        Some(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact_and_large_ones_within_two_percent() {
        for value in [
            0,
            1,
            127,
            128,
            129,
            1_000,
            4_321,
            65_000,
            1_234_567,
            987_654_321,
        ] {
            let bucket = bucket_of(value);
            assert!(bucket < BUCKETS);
            let back = value_of(bucket);
            let error = back.abs_diff(value) as f64 / value.max(1) as f64;
            assert!(error <= 1.0 / 64.0, "{value} -> {back}");
            if value < EXACT {
                assert_eq!(back, value);
            }
        }
        assert_eq!(
            bucket_of(u64::MAX),
            BUCKETS - 1,
            "huge values share the top bucket"
        );
    }

    #[test]
    fn buckets_are_in_order() {
        let mut last = 0;
        for value in (0..2_000_000_u64).step_by(997) {
            let bucket = bucket_of(value);
            assert!(bucket >= last, "{value}");
            last = bucket;
        }
    }

    #[test]
    fn percentiles_of_a_known_spread() {
        let mut histogram = Histogram::default();
        assert_eq!(histogram.quantile(0.5), None);
        assert_eq!(histogram.max(), None);
        for value in 1..=1_000_u64 {
            histogram.record(value * 100);
        }
        let near = |q: f64, expected: u64| {
            let got = histogram.quantile(q).unwrap();
            let error = got.abs_diff(expected) as f64 / expected as f64;
            assert!(error <= 0.02, "p{q}: {got} vs {expected}");
        };
        near(0.5, 50_000);
        near(0.95, 95_000);
        near(0.99, 99_000);
        assert_eq!(histogram.quantile(1.0), Some(100_000));
        assert_eq!(histogram.max(), Some(100_000));
        assert_eq!(histogram.count(), 1_000);
    }

    #[test]
    fn one_slow_frame_in_a_hundred_is_the_p99() {
        let mut histogram = Histogram::default();
        for _ in 0..99 {
            histogram.record(100);
        }
        histogram.record(80_000);
        assert_eq!(histogram.quantile(0.99), Some(100));
        assert!(histogram.quantile(0.999).unwrap() > 78_000);
    }

    #[test]
    fn merging_equals_recording_everything_in_one() {
        let mut a = Histogram::default();
        let mut b = Histogram::default();
        let mut both = Histogram::default();
        for value in 0..5_000_u64 {
            let latency = value * value % 70_001;
            if value % 3 == 0 { &mut a } else { &mut b }.record(latency);
            both.record(latency);
        }
        a.merge(&b);
        assert_eq!(a, both);
    }
}

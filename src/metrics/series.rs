//! Time series from the rings: steps summed across children, consolidated
//! into coarser steps by exact addition, and percentiles from histogram
//! counts. Pure functions over plain numbers (no shared memory here).
use super::layout::{BOUNDS_US, BUCKETS};

/// One step of a series: its index (seconds since the epoch / step length),
/// the requests per service-time bucket, and their total service time.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub index: u64,
    pub hist: [u64; BUCKETS],
    pub sum_us: u64,
}

impl Step {
    pub fn empty(index: u64) -> Step {
        Step {
            index,
            hist: [0; BUCKETS],
            sum_us: 0,
        }
    }

    pub fn requests(&self) -> u64 {
        self.hist.iter().sum()
    }

    pub fn add(&mut self, other: &Step) {
        for (a, b) in self.hist.iter_mut().zip(&other.hist) {
            *a += b;
        }
        self.sum_us += other.sum_us;
    }

    pub fn percentile_s(&self, q: f64) -> Option<f64> {
        percentile_s(&self.hist, q)
    }
}

/// Merges steps of `factor` consecutive indexes into one (index / factor):
/// every request of a fine step lands in exactly one coarse step, so totals
/// are equal, and a coarse step is exactly the sum of its fine steps.
/// Input in increasing index order; output likewise, with no gaps between
/// the first and the last coarse index.
pub fn consolidate(steps: &[Step], factor: u64) -> Vec<Step> {
    let factor = factor.max(1);
    let (Some(first), Some(last)) = (steps.first(), steps.last()) else {
        return Vec::new();
    };
    let (lo, hi) = (first.index / factor, last.index / factor);
    let mut out: Vec<Step> = (lo..=hi).map(Step::empty).collect();
    for s in steps {
        out[(s.index / factor - lo) as usize].add(s);
    }
    out
}

/// The q-quantile (0 < q <= 1) of the service times counted in `hist`, in
/// seconds: the bucket holding the rank-th request, interpolated linearly
/// inside it. The last bucket has no upper bound: its lower bound is returned.
/// None when nothing was counted.
pub fn percentile_s(hist: &[u64; BUCKETS], q: f64) -> Option<f64> {
    let n: u64 = hist.iter().sum();
    if n == 0 {
        return None;
    }
    let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).clamp(1, n);
    let mut before = 0u64;
    for (i, &c) in hist.iter().enumerate() {
        if c == 0 || before + c < rank {
            before += c;
            continue;
        }
        let lower = if i == 0 { 0 } else { BOUNDS_US[i - 1] } as f64;
        let Some(&upper) = BOUNDS_US.get(i) else {
            return Some(lower / 1e6);
        };
        let within = (rank - before) as f64 / c as f64;
        return Some((lower + (upper as f64 - lower) * within) / 1e6);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::layout::bucket_of;
    use super::*;

    fn step(index: u64, times_us: &[u64]) -> Step {
        let mut s = Step::empty(index);
        for &t in times_us {
            s.hist[bucket_of(t)] += 1;
            s.sum_us += t;
        }
        s
    }

    #[test]
    fn consolidation_keeps_totals_exact() {
        // 10 s steps 100..=111 with 0..11 requests each, some missing.
        let fine: Vec<Step> = (100..112u64)
            .filter(|i| i % 5 != 0)
            .map(|i| step(i, &vec![1_000 * i; (i - 100) as usize]))
            .collect();
        let total: u64 = fine.iter().map(Step::requests).sum();
        let sum: u64 = fine.iter().map(|s| s.sum_us).sum();
        for factor in [1, 2, 3, 6, 30] {
            let coarse = consolidate(&fine, factor);
            assert_eq!(coarse.iter().map(Step::requests).sum::<u64>(), total, "factor {factor}");
            assert_eq!(coarse.iter().map(|s| s.sum_us).sum::<u64>(), sum, "factor {factor}");
            assert!(coarse.windows(2).all(|w| w[1].index == w[0].index + 1), "no gaps");
        }
        // A 20 s step is exactly its two 10 s steps.
        let twenty = consolidate(&fine, 2);
        for c in &twenty {
            let mut expect = Step::empty(c.index);
            for f in fine.iter().filter(|f| f.index / 2 == c.index) {
                expect.add(f);
            }
            assert_eq!(*c, expect);
        }
        // Consolidating twice equals consolidating once by the product.
        assert_eq!(consolidate(&consolidate(&fine, 2), 3), consolidate(&fine, 6));
    }

    #[test]
    fn consolidation_aligns_to_coarse_boundaries() {
        let fine = vec![step(29, &[5]), step(30, &[5, 5]), step(59, &[5]), step(60, &[5])];
        let c = consolidate(&fine, 30);
        assert_eq!(
            c.iter().map(|s| (s.index, s.requests())).collect::<Vec<_>>(),
            vec![(0, 1), (1, 3), (2, 1)]
        );
        assert!(consolidate(&[], 30).is_empty());
    }

    #[test]
    fn percentiles_from_counts() {
        let mut h = [0u64; BUCKETS];
        assert_eq!(percentile_s(&h, 0.5), None);
        // 100 requests in (1.0 ms, 1.5 ms]: p50 is halfway through that bucket.
        h[bucket_of(1_200)] = 100;
        let p50 = percentile_s(&h, 0.5).unwrap();
        assert!((p50 - 0.00125).abs() < 1e-9, "{p50}");
        assert!((percentile_s(&h, 1.0).unwrap() - 0.0015).abs() < 1e-9);
        // 90 fast (<=10 us), 10 slow in (0.5 s, 0.7 s]: p90 is fast, p99 slow.
        let mut h = [0u64; BUCKETS];
        h[0] = 90;
        h[bucket_of(600_000)] = 10;
        assert!(percentile_s(&h, 0.9).unwrap() <= 10e-6);
        let p99 = percentile_s(&h, 0.99).unwrap();
        assert!(p99 > 0.5 && p99 <= 0.7, "{p99}");
        // Beyond the last bound: the lower bound, never infinity.
        let mut h = [0u64; BUCKETS];
        h[BUCKETS - 1] = 3;
        assert_eq!(percentile_s(&h, 0.99), Some(70.0));
    }

    #[test]
    fn percentile_rank_is_nearest_rank() {
        // 1 request in each of the first four buckets: p50 is the 2nd, at its upper bound.
        let mut h = [0u64; BUCKETS];
        for b in h.iter_mut().take(4) {
            *b = 1;
        }
        assert!((percentile_s(&h, 0.5).unwrap() - BOUNDS_US[1] as f64 / 1e6).abs() < 1e-12);
        assert!((percentile_s(&h, 0.25).unwrap() - BOUNDS_US[0] as f64 / 1e6).abs() < 1e-12);
    }
}

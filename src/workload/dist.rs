//! Size distributions for values: a fixed size or a distribution drawn per value.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// The most values a choice lists in words; a longer one is described by its range.
const MAX_LISTED: usize = 6;

/// How a value's size is chosen.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "dist", rename_all = "snake_case")]
pub enum SizeDist {
    /// Always this many bytes.
    Fixed { bytes: u64 },
    /// Uniform over `[min, max]`, whole bytes.
    Uniform { min: u64, max: u64 },
    /// Normal with this mean and standard deviation, rounded, at least 1.
    Normal { mean: f64, sd: f64 },
    /// Log-normal: `median * exp(sigma * N(0,1))`, rounded, at least 1.
    Lognormal { median: f64, sigma: f64 },
    /// One of `values`, with probabilities proportional to `weights`.
    Choice { values: Vec<u64>, weights: Vec<f64> },
}

/// One standard normal draw (Box-Muller).
pub fn std_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl SizeDist {
    /// Draws one size.
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> u64 {
        match self {
            SizeDist::Fixed { bytes } => *bytes,
            SizeDist::Uniform { min, max } => rng.random_range(*min..=*max),
            SizeDist::Normal { .. } | SizeDist::Lognormal { .. } => self.at_z(std_normal(rng)),
            SizeDist::Choice { .. } => self.at_u(rng.random::<f64>()),
        }
    }

    /// A normal or log-normal size `z` standard deviations from the centre: rounded, at least
    /// 1, and cut at `practical_max` (8 sd; under 1e-15 of draws), so that no draw exceeds
    /// what validation allowed. A choice's or a fixed size for the others.
    fn at_z(&self, z: f64) -> u64 {
        let x = match self {
            SizeDist::Normal { mean, sd } => mean + sd * z,
            SizeDist::Lognormal { median, sigma } => median * (sigma * z).exp(),
            other => return other.at_u(0.5),
        };
        x.min(self.practical_max()).round().max(1.0) as u64
    }

    /// A choice's value at `u` (0 <= u < 1) of its total weight; the size itself when fixed.
    fn at_u(&self, u: f64) -> u64 {
        match self {
            SizeDist::Choice { values, weights } => {
                let total: f64 = weights.iter().sum();
                let mut x = u * total;
                for (v, w) in values.iter().zip(weights) {
                    if x < *w {
                        return *v;
                    }
                    x -= w;
                }
                *values.last().expect("validated: at least one value")
            }
            SizeDist::Fixed { bytes } => *bytes,
            other => other.quantile(u),
        }
    }

    /// The size at quantile `u` (0 <= u < 1) of the distribution: a draw made from a number
    /// instead of the random stream, so that the same `u` always gives the same size (what key
    /// and field names use: a key's name must come out the same in every command that names
    /// it). Normal and log-normal draws are cut where [`sample`](Self::sample) cuts them.
    pub fn quantile(&self, u: f64) -> u64 {
        let u = u.clamp(0.0, 1.0 - f64::EPSILON);
        match self {
            SizeDist::Fixed { bytes } => *bytes,
            SizeDist::Uniform { min, max } => (*min + ((max - min + 1) as f64 * u) as u64).min(*max),
            SizeDist::Normal { .. } | SizeDist::Lognormal { .. } => self.at_z(inverse_normal(u)),
            SizeDist::Choice { .. } => self.at_u(u),
        }
    }

    /// In words, sizes in bytes with thousands separators: "30,000 B", "uniform 1,500-2,500 B",
    /// "normal, mean 2,000 B, sd 300 B", "log-normal, median 1,500 B, sigma 0.5", "1,000 B
    /// (weight 3) or 2,000 B (weight 1)"; a choice of more than six sizes as "3-57 B (43 sizes,
    /// mean 27 B)".
    pub fn describe(&self) -> String {
        use crate::units::group;
        let b = |x: f64| format!("{} B", group(x.round() as u64));
        match self {
            SizeDist::Fixed { bytes } => format!("{} B", group(*bytes)),
            SizeDist::Uniform { min, max } => format!("uniform {}-{} B", group(*min), group(*max)),
            SizeDist::Normal { mean, sd } => format!("normal, mean {}, sd {}", b(*mean), b(*sd)),
            SizeDist::Lognormal { median, sigma } => {
                format!("log-normal, median {}, sigma {sigma}", b(*median))
            }
            // A long list (a measured histogram) in brief: its range, how many sizes, the mean.
            SizeDist::Choice { values, .. } if values.len() > MAX_LISTED => format!(
                "{}-{} B ({} sizes, mean {})",
                group(*values.iter().min().unwrap_or(&0)),
                group(*values.iter().max().unwrap_or(&0)),
                values.len(),
                b(self.mean())
            ),
            SizeDist::Choice { values, weights } => {
                let all_equal = weights.windows(2).all(|w| w[0] == w[1]);
                let parts: Vec<String> = values
                    .iter()
                    .zip(weights)
                    .map(|(v, w)| {
                        if all_equal {
                            format!("{} B", group(*v))
                        } else {
                            format!("{} B (weight {w})", group(*v))
                        }
                    })
                    .collect();
                match parts.len() {
                    1 => parts[0].clone(),
                    n => format!("{} or {}", parts[..n - 1].join(", "), parts[n - 1]),
                }
            }
        }
    }

    /// The mean size (for estimates).
    pub fn mean(&self) -> f64 {
        match self {
            SizeDist::Fixed { bytes } => *bytes as f64,
            SizeDist::Uniform { min, max } => (*min + *max) as f64 / 2.0,
            SizeDist::Normal { mean, .. } => *mean,
            SizeDist::Lognormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
            SizeDist::Choice { values, weights } => {
                let total: f64 = weights.iter().sum();
                values
                    .iter()
                    .zip(weights)
                    .map(|(v, w)| *v as f64 * w)
                    .sum::<f64>()
                    / total
            }
        }
    }

    /// The largest size a draw gives (for validation against the largest size class and
    /// Redis's `proto-max-bulk-len`): the bound itself, or mean + 8 sd, or median * exp(8 sigma)
    /// (draws beyond are cut there).
    pub fn practical_max(&self) -> f64 {
        match self {
            SizeDist::Fixed { bytes } => *bytes as f64,
            SizeDist::Uniform { max, .. } => *max as f64,
            SizeDist::Normal { mean, sd } => mean + 8.0 * sd,
            SizeDist::Lognormal { median, sigma } => median * (8.0 * sigma).exp(),
            SizeDist::Choice { values, .. } => values.iter().copied().max().unwrap_or(0) as f64,
        }
    }
}

/// The standard normal quantile (Acklam's rational approximation, relative error under
/// 1.2e-9): the z with P(N(0,1) < z) = p, for 0 < p < 1; p at 0 gives -8.5 (beyond any cut).
pub fn inverse_normal(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    if p <= 0.0 {
        return -8.5;
    }
    if p >= 1.0 {
        return 8.5;
    }
    let low = 0.02425;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < low {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - low {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn moments(d: &SizeDist, n: usize) -> (f64, f64) {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let xs: Vec<f64> = (0..n).map(|_| d.sample(&mut rng) as f64).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        (mean, var.sqrt())
    }

    #[test]
    fn uniform_moments() {
        // Uniform on [1500, 2500] (1001 values): mean 2000, sd sqrt((1001^2 - 1) / 12) = 288.97.
        let (m, s) = moments(&SizeDist::Uniform { min: 1500, max: 2500 }, 200_000);
        assert!((m - 2000.0).abs() < 2.0, "{m}");
        assert!((s - 288.97).abs() < 2.0, "{s}");
    }

    #[test]
    fn normal_moments() {
        let (m, s) = moments(
            &SizeDist::Normal {
                mean: 2000.0,
                sd: 300.0,
            },
            200_000,
        );
        assert!((m - 2000.0).abs() < 3.0, "{m}");
        assert!((s - 300.0).abs() < 3.0, "{s}");
    }

    #[test]
    fn lognormal_moments() {
        // Mean median * e^(sigma^2/2) = 2000 * e^0.125 = 2266.30; median 2000.
        let d = SizeDist::Lognormal {
            median: 2000.0,
            sigma: 0.5,
        };
        let (m, _) = moments(&d, 200_000);
        assert!((m - 2266.30).abs() / 2266.30 < 0.01, "{m}");
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut xs: Vec<u64> = (0..100_001).map(|_| d.sample(&mut rng)).collect();
        xs.sort_unstable();
        let median = xs[50_000] as f64;
        assert!((median - 2000.0).abs() / 2000.0 < 0.01, "{median}");
        assert!((d.mean() - 2266.30).abs() < 0.01);
    }

    #[test]
    fn choice_frequencies() {
        // Weights 3:1: P(1000) = 0.75, mean 1250.
        let d = SizeDist::Choice {
            values: vec![1000, 2000],
            weights: vec![3.0, 1.0],
        };
        let (m, _) = moments(&d, 200_000);
        assert!((m - 1250.0).abs() < 5.0, "{m}");
        assert_eq!(d.mean(), 1250.0);
    }

    /// Quantiles: the normal's at known points (z of 0.975 is 1.959964), each distribution's
    /// quantiles over an even grid have the distribution's mean, and choice's quantiles split
    /// by the weights.
    #[test]
    fn quantiles() {
        assert!((inverse_normal(0.975) - 1.959964).abs() < 1e-6);
        assert!((inverse_normal(0.01) + 2.326348).abs() < 1e-6);
        assert_eq!(inverse_normal(0.5), 0.0);
        let grid = |d: &SizeDist, n: usize| {
            (0..n)
                .map(|i| d.quantile((i as f64 + 0.5) / n as f64) as f64)
                .sum::<f64>()
                / n as f64
        };
        let n = 100_000;
        assert!((grid(&SizeDist::Uniform { min: 1500, max: 2500 }, n) - 2000.0).abs() < 0.6);
        let normal = SizeDist::Normal {
            mean: 2000.0,
            sd: 300.0,
        };
        assert!((grid(&normal, n) - 2000.0).abs() < 0.5);
        let lognormal = SizeDist::Lognormal {
            median: 2000.0,
            sigma: 0.5,
        };
        assert!((grid(&lognormal, n) - 2266.30).abs() / 2266.30 < 1e-3);
        assert_eq!(lognormal.quantile(0.5), 2000);
        let choice = SizeDist::Choice {
            values: vec![1000, 2000],
            weights: vec![3.0, 1.0],
        };
        assert_eq!(
            (
                choice.quantile(0.0),
                choice.quantile(0.7499),
                choice.quantile(0.75)
            ),
            (1000, 1000, 2000)
        );
        assert_eq!(choice.quantile(1.0), 2000);
        assert_eq!(SizeDist::Fixed { bytes: 7 }.quantile(0.3), 7);
    }

    /// A measured histogram is described by its range, its number of sizes and its mean.
    #[test]
    fn long_choices_are_described_in_brief() {
        let d = SizeDist::Choice {
            values: (1..=7).map(|v| v * 1000).collect(),
            weights: vec![1.0; 7],
        };
        assert_eq!(d.describe(), "1,000-7,000 B (7 sizes, mean 4,000 B)");
        let short = SizeDist::Choice {
            values: vec![10, 20],
            weights: vec![1.0, 1.0],
        };
        assert_eq!(short.describe(), "10 B or 20 B");
    }

    #[test]
    fn fixed_is_fixed() {
        let (m, s) = moments(&SizeDist::Fixed { bytes: 30_000 }, 1000);
        assert_eq!((m, s), (30_000.0, 0.0));
    }
}

//! Drawing random durations and keys. Continuous samples are rounded to whole
//! nanoseconds at once so that everything downstream is integer arithmetic.

use rand::Rng;
use rand::RngExt;
use rand_distr::{Distribution, Exp1, StandardNormal, Zipf};

use crate::model::{KeyDistModel, ProcessingModel, RetryModel};
use crate::rng::Stream;
use crate::time::SimDuration;

/// One processing time (inlined into the dispatch path, where it is drawn per start).
#[inline(always)]
pub fn processing_time(model: &ProcessingModel, rng: &mut Stream) -> u64 {
    match *model {
        ProcessingModel::Constant(v) => v,
        ProcessingModel::Uniform(a, b) => {
            if b <= a {
                a
            } else {
                a + (rng.random::<f64>() * (b - a) as f64) as u64
            }
        }
        ProcessingModel::Exponential(mean_ns) => {
            let e: f64 = Exp1.sample(rng);
            round_ns(e * mean_ns)
        }
        ProcessingModel::Lognormal { mu, sigma } => {
            let z: f64 = StandardNormal.sample(rng);
            SimDuration::from_secs_f64((mu + sigma * z).exp()).0
        }
        ProcessingModel::Pareto { scale, shape } => {
            let u: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]
            SimDuration::from_secs_f64(scale * u.powf(-1.0 / shape)).0
        }
    }
}

/// An exponential gap with rate `per_ns`, in nanoseconds.
#[inline]
pub fn exp_gap(per_ns: f64, rng: &mut Stream) -> f64 {
    let e: f64 = Exp1.sample(rng);
    e / per_ns
}

/// 2^63: below it, a non-negative `f64` converts to `i64` exactly by truncation.
pub(crate) const I64_LIMIT: f64 = 9_223_372_036_854_775_808.0;

/// `x` rounded to the nearest whole nanosecond, halves away from zero (exactly what
/// `f64::round` gives), without a libm call: the integer part by truncation, then the
/// fraction, which is exact in binary floating point. Not finite or not positive: 0.
#[inline]
fn round_ns(x: f64) -> u64 {
    if x.is_finite() && x > 0.0 {
        if x >= u64::MAX as f64 {
            u64::MAX
        } else if x < I64_LIMIT {
            // Through i64: one instruction each way on x86-64 (u64 conversions are not).
            let t = x as i64;
            (if x - t as f64 >= 0.5 { t + 1 } else { t }) as u64
        } else {
            x.round() as u64
        }
    } else {
        0
    }
}

/// The delay before retry number `retry` (1 for the first retry).
pub fn backoff(model: &RetryModel, retry: u32, rng: &mut Stream) -> u64 {
    let base = match model.backoff {
        crate::model::Backoff::None => return 0,
        crate::model::Backoff::Constant => model.initial.0 as f64,
        crate::model::Backoff::Exponential => {
            model.initial.0 as f64
                * model
                    .multiplier
                    .powi(retry.saturating_sub(1).min(1000) as i32)
        }
    };
    let capped = base.min(model.max.0 as f64);
    if model.jitter {
        round_ns(rng.random::<f64>() * capped)
    } else {
        round_ns(capped)
    }
}

/// Draws key indices (0-based) of one key space.
#[derive(Clone, Debug)]
pub enum KeySampler {
    /// Uniform over `count`.
    Uniform(u32),
    /// Zipf over `count`.
    Zipf(Zipf<f64>),
    /// In turn; holds the next index.
    Sequential {
        /// Keys in the space.
        count: u32,
        /// Next index.
        next: u32,
    },
}

impl KeySampler {
    /// A sampler over `count` keys.
    pub fn new(dist: KeyDistModel, count: u32) -> KeySampler {
        match dist {
            KeyDistModel::Uniform => KeySampler::Uniform(count),
            KeyDistModel::Zipf(s) => match Zipf::new(count as f64, s) {
                Ok(z) => KeySampler::Zipf(z),
                Err(_) => KeySampler::Uniform(count),
            },
            KeyDistModel::Sequential => KeySampler::Sequential { count, next: 0 },
        }
    }

    /// The next key index.
    pub fn draw(&mut self, rng: &mut Stream) -> u32 {
        match self {
            KeySampler::Uniform(n) => (rng.next_u64() % u64::from((*n).max(1))) as u32,
            KeySampler::Zipf(z) => {
                let k: f64 = z.sample(rng);
                (k as u32).saturating_sub(1)
            }
            KeySampler::Sequential { count, next } => {
                let k = *next;
                *next = (*next + 1) % (*count).max(1);
                k
            }
        }
    }
}

#[cfg(test)]
mod round_tests {
    #[test]
    fn round_ns_matches_f64_round() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(4);
        let mut cases = vec![
            0.5,
            1.5,
            2.5,
            0.49999999999999994,
            4503599627370495.5,
            9.0e15,
            1.0e19,
        ];
        for _ in 0..100_000 {
            let bits = rng.next_u64();
            cases.push(f64::from_bits(bits >> 2) % 1.0e19);
            cases.push((bits % 1_000_000) as f64 / 1000.0);
        }
        for x in cases
            .into_iter()
            .filter(|x| x.is_finite() && *x > 0.0 && *x < 1.8e19)
        {
            assert_eq!(super::round_ns(x), x.round() as u64, "{x}");
        }
    }
}

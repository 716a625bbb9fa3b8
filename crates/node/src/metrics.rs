//! Metrics in the style of etcd's, counted in simulated time.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A histogram with power-of-two buckets (bucket i holds values in [2^(i-1), 2^i)).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    /// Observations per bucket.
    pub buckets: Vec<u64>,
    /// Number of observations.
    pub count: u64,
    /// Sum of the observations.
    pub sum: u64,
}

impl Histogram {
    /// Adds one observation.
    pub fn observe(&mut self, value: u64) {
        let bucket = (64 - value.leading_zeros()) as usize;
        if self.buckets.len() <= bucket {
            self.buckets.resize(bucket + 1, 0);
        }
        self.buckets[bucket] += 1;
        self.count += 1;
        self.sum += value;
    }

    /// Upper bound of the bucket holding the `q` quantile (0.0–1.0), or 0 when empty.
    pub fn quantile_upper_bound(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let target = ((self.count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= target {
                return 1u64 << i;
            }
        }
        u64::MAX
    }

    /// Merges another histogram into this one.
    pub fn merge(&mut self, other: &Histogram) {
        if self.buckets.len() < other.buckets.len() {
            self.buckets.resize(other.buckets.len(), 0);
        }
        for (i, n) in other.buckets.iter().enumerate() {
            self.buckets[i] += n;
        }
        self.count += other.count;
        self.sum += other.sum;
    }
}

/// A member's metrics: counters, gauges and histograms by etcd-like name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    /// Counters and gauges, e.g. `proposals_committed_total`.
    pub counters: BTreeMap<String, u64>,
    /// Histograms in microseconds, e.g. `wal_fsync_duration_us`.
    pub histograms: BTreeMap<String, Histogram>,
}

impl Metrics {
    // The Ready loop updates metrics many times per message; looking a name up before
    // inserting it keeps the common case (the name exists) free of allocation.

    /// Adds `by` to a counter.
    pub fn add(&mut self, name: &str, by: u64) {
        match self.counters.get_mut(name) {
            Some(v) => *v += by,
            None => {
                self.counters.insert(name.to_string(), by);
            }
        }
    }

    /// Sets a gauge.
    pub fn set(&mut self, name: &str, value: u64) {
        match self.counters.get_mut(name) {
            Some(v) => *v = value,
            None => {
                self.counters.insert(name.to_string(), value);
            }
        }
    }

    /// A counter's value (0 if never set).
    pub fn get(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// Records an observation in a histogram.
    pub fn observe(&mut self, name: &str, value: u64) {
        match self.histograms.get_mut(name) {
            Some(h) => h.observe(value),
            None => self
                .histograms
                .entry(name.to_string())
                .or_default()
                .observe(value),
        }
    }

    /// Merges another member's metrics (counters add up, histograms merge).
    pub fn merge(&mut self, other: &Metrics) {
        for (k, v) in &other.counters {
            self.add(k, *v);
        }
        for (k, h) in &other.histograms {
            self.histograms.entry(k.clone()).or_default().merge(h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_bound_the_values() {
        let mut h = Histogram::default();
        for v in [1, 2, 3, 100, 1000] {
            h.observe(v);
        }
        assert_eq!(h.count, 5);
        assert_eq!(h.sum, 1106);
        assert!(h.quantile_upper_bound(0.5) >= 3);
        assert!(h.quantile_upper_bound(1.0) >= 1000);
    }
}

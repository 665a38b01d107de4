//! Order-independent nested sampling.
//!
//! Each document gets a ticket `hash(seed, stage, stable key)`; for each group (language) the
//! sample of size k is the k documents with the smallest tickets (ties broken by key). So the
//! k = 100 sample is a subset of the k = 200 sample, and neither depends on input order.

use crate::column::StrColumn;
use crate::hashing::ticket;
use rayon::prelude::*;
use std::fmt;

/// A group was asked for more documents than it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleError {
    pub group: u32,
    pub asked: u64,
    pub available: u64,
}

impl fmt::Display for SampleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "group {} asked for {} documents but has {}",
            self.group, self.asked, self.available
        )
    }
}

impl std::error::Error for SampleError {}

/// Selects, for each group `g`, the `k[g]` rows with the smallest tickets (`k[g] < 0`: all).
///
/// Returns row indices ordered by (group, ticket, key): the output order is a function of the
/// content and the seed alone.
pub fn sample_nested(
    keys: StrColumn<'_>,
    groups: &[u32],
    k: &[i64],
    seed: u64,
    stage: &str,
) -> Result<Vec<u32>, SampleError> {
    assert_eq!(keys.len(), groups.len(), "keys and groups differ in length");
    let tickets: Vec<u64> = (0..keys.len())
        .into_par_iter()
        .map(|i| ticket(seed, stage, keys.get(i)))
        .collect();

    let mut by_group: Vec<Vec<u32>> = vec![Vec::new(); k.len()];
    for (i, &g) in groups.iter().enumerate() {
        assert!((g as usize) < k.len(), "group {g} has no k");
        by_group[g as usize].push(i as u32);
    }

    let mut out = Vec::new();
    for (g, rows) in by_group.iter_mut().enumerate() {
        let want = k[g];
        if want > rows.len() as i64 {
            return Err(SampleError {
                group: g as u32,
                asked: want as u64,
                available: rows.len() as u64,
            });
        }
        rows.sort_by(|&a, &b| {
            tickets[a as usize]
                .cmp(&tickets[b as usize])
                .then_with(|| keys.bytes(a as usize).cmp(keys.bytes(b as usize)))
        });
        let take = if want < 0 { rows.len() } else { want as usize };
        out.extend_from_slice(&rows[..take]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::OwnedColumn;
    use proptest::prelude::*;

    fn keys_of(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("doc-{i}")).collect()
    }

    fn picked(keys: &[String], groups: &[u32], k: &[i64], seed: u64) -> Vec<String> {
        let col = OwnedColumn::from_strs(keys);
        sample_nested(col.view(), groups, k, seed, "sample")
            .unwrap()
            .into_iter()
            .map(|i| keys[i as usize].clone())
            .collect()
    }

    #[test]
    fn asking_too_much_names_group_k_and_count() {
        let keys = keys_of(3);
        let col = OwnedColumn::from_strs(&keys);
        let err = sample_nested(col.view(), &[0, 1, 1], &[1, 5], 7, "s").unwrap_err();
        assert_eq!(err, SampleError { group: 1, asked: 5, available: 2 });
    }

    #[test]
    fn negative_k_takes_all() {
        let keys = keys_of(5);
        assert_eq!(picked(&keys, &[0; 5], &[-1], 1).len(), 5);
    }

    #[test]
    fn seed_changes_the_sample() {
        let keys = keys_of(200);
        let g = vec![0u32; 200];
        assert_ne!(picked(&keys, &g, &[10], 1), picked(&keys, &g, &[10], 2));
    }

    proptest! {
        #[test]
        fn smaller_k_is_a_prefix_of_larger_k(n in 1usize..200, a in 0i64..200, b in 0i64..200, seed: u64) {
            let (small, large) = (a.min(b).min(n as i64), a.max(b).min(n as i64));
            let keys = keys_of(n);
            let g = vec![0u32; n];
            let s = picked(&keys, &g, &[small], seed);
            let l = picked(&keys, &g, &[large], seed);
            prop_assert_eq!(&l[..s.len()], &s[..]);
        }

        #[test]
        fn input_order_does_not_matter(n in 1usize..100, rot in 0usize..100, k in 0i64..100, seed: u64) {
            let k = k.min(n as i64);
            let keys = keys_of(n);
            let rotated: Vec<String> = (0..n).map(|i| keys[(i + rot) % n].clone()).collect();
            let g = vec![0u32; n];
            prop_assert_eq!(picked(&keys, &g, &[k], seed), picked(&rotated, &g, &[k], seed));
        }
    }
}

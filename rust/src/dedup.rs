//! Exact deduplication on a 128-bit hash of the normalized text (the caller normalizes, with
//! [`crate::normalize::normalize_column`], so near dedup can reuse the same normalized column).
//!
//! Among documents with the same key hash, the survivor is the one with the smallest stable key
//! (byte order), never "the first seen", so the result does not depend on input order, shard
//! split or thread count.

use crate::column::StrColumn;
use crate::hashing::{content_hash, HashKeyed};
use rayon::prelude::*;

/// Result of [`exact_dedup`], indexed like the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dedup {
    /// `survivor[i]` is the row that stands for row `i`: `i` itself when row `i` is kept.
    pub survivor: Vec<u32>,
    /// The 128-bit hash of each row's normalized text.
    pub hashes: Vec<u128>,
}

impl Dedup {
    /// True when row `i` survives.
    pub fn is_kept(&self, i: usize) -> bool {
        self.survivor[i] as usize == i
    }
}

/// Hashes every row of `normalized` (texts normalized under the profile; in parallel) and picks
/// one survivor per hash.
///
/// `keys` are the documents' stable keys; two rows with the same key and the same text are
/// resolved by row index, which only happens when the caller passed true duplicates of a record.
pub fn exact_dedup(normalized: StrColumn<'_>, keys: StrColumn<'_>) -> Dedup {
    assert_eq!(normalized.len(), keys.len(), "texts and keys differ in length");
    let hashes: Vec<u128> = (0..normalized.len()).into_par_iter().map(|i| content_hash(normalized.get(i))).collect();

    let mut best: HashKeyed<u128, u32> = HashKeyed::with_capacity_and_hasher(hashes.len(), Default::default());
    for (i, h) in hashes.iter().enumerate() {
        let i = i as u32;
        best.entry(*h)
            .and_modify(|cur| {
                let (ck, nk) = (keys.bytes(*cur as usize), keys.bytes(i as usize));
                if nk < ck {
                    *cur = i;
                }
            })
            .or_insert(i);
    }
    let survivor = hashes.iter().map(|h| best[h]).collect();
    Dedup { survivor, hashes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::OwnedColumn;
    use crate::normalize::normalize_column;
    use proptest::prelude::*;

    fn run(texts: &[&str], keys: &[&str]) -> Vec<u32> {
        let t = normalize_column(OwnedColumn::from_strs(texts).view());
        let k = OwnedColumn::from_strs(keys);
        exact_dedup(t.view(), k.view()).survivor
    }

    #[test]
    fn smallest_key_survives_not_first_seen() {
        let s = run(&["Hello  World", "x", "hello world"], &["b", "c", "a"]);
        assert_eq!(s, vec![2, 1, 2]);
    }

    #[test]
    fn distinct_texts_all_survive() {
        let s = run(&["か", "が", "ｶ"], &["1", "2", "3"]);
        // ｶ (half-width) folds to カ, not か: all three differ.
        assert_eq!(s, vec![0, 1, 2]);
    }

    proptest! {
        /// Shuffling the input never changes which key survives for which key.
        #[test]
        fn survivors_are_order_independent(
            docs in proptest::collection::vec((0u8..6, 0u32..1000), 1..60),
            rot in 0usize..60,
        ) {
            // Unique keys; texts drawn from a small set so duplicates are common.
            let texts: Vec<String> = docs.iter().map(|(t, _)| format!("Doc {t}")).collect();
            let keys: Vec<String> = (0..docs.len()).map(|i| format!("k{:04}", docs[i].1 * 100 + i as u32)).collect();
            let n = texts.len();
            let order: Vec<usize> = (0..n).map(|i| (i + rot) % n).collect();
            let t2: Vec<&str> = order.iter().map(|&i| texts[i].as_str()).collect();
            let k2: Vec<&str> = order.iter().map(|&i| keys[i].as_str()).collect();
            let t1: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
            let k1: Vec<&str> = keys.iter().map(|s| s.as_str()).collect();
            let s1 = run(&t1, &k1);
            let s2 = run(&t2, &k2);
            for (pos, &i) in order.iter().enumerate() {
                prop_assert_eq!(&keys[s1[i] as usize], &k2[s2[pos] as usize].to_string());
            }
        }
    }
}

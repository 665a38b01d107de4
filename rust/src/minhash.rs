//! Near-duplicate detection: MinHash signatures, LSH banding, verified deterministic clustering.
//!
//! Texts come normalized (the dedup profile, [`crate::normalize::normalize_column`]) so case and
//! width do not make two near duplicates look different; exact dedup reuses the same column.
//!
//! Permutations are multiply-add-shift hashes `h_i(x) = (a_i * x + b_i) >> 32` over the 32-bit
//! folded shingle hash (a strongly universal family), with `a_i`, `b_i` drawn from SplitMix64
//! seeded explicitly: the same seed gives the same signatures on every platform.
//! Candidates are documents of the same group (language) that share a band; each candidate pair
//! can be checked against the exact Jaccard similarity of the shingle sets. Clusters are the
//! connected components of the accepted pairs, and each is represented by its smallest stable key,
//! so the result depends neither on input order nor on the number of threads.

use crate::column::StrColumn;
use crate::shingle::{for_each_shingle, jaccard, shingle_set, ShingleParams};
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Every knob of near-dup detection; all of it is recorded in the manifest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearDupParams {
    pub num_perm: usize,
    pub bands: usize,
    pub rows: usize,
    pub seed: u64,
    pub shingle: ShingleParams,
    /// Pairs below this exact Jaccard similarity are not merged (when `verify` is on).
    pub threshold: f64,
    /// Check each candidate pair's exact Jaccard similarity before merging it.
    pub verify: bool,
}

impl Default for NearDupParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl NearDupParams {
    /// The defaults: declared here once (the Python bindings expose them, the CLI reads them there).
    pub const DEFAULT: NearDupParams = NearDupParams {
        num_perm: 128,
        bands: 16,
        rows: 8,
        seed: 42,
        shingle: ShingleParams::DEFAULT,
        threshold: 0.8,
        verify: true,
    };

    /// Checks that the sizes are positive and that bands x rows fit in the signature.
    pub fn validate(&self) -> Result<(), String> {
        if self.bands == 0 || self.rows == 0 || self.shingle.word_n == 0 || self.shingle.char_n == 0 {
            return Err("bands, rows and the n-gram sizes must be positive".into());
        }
        if self.bands * self.rows > self.num_perm {
            return Err(format!(
                "bands x rows = {} exceeds num_perm = {}",
                self.bands * self.rows,
                self.num_perm
            ));
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(format!("threshold {} is not in [0, 1]", self.threshold));
        }
        Ok(())
    }

    /// The probability that two documents of Jaccard similarity `s` become candidates.
    pub fn candidate_probability(&self, s: f64) -> f64 {
        1.0 - (1.0 - s.powi(self.rows as i32)).powi(self.bands as i32)
    }
}

/// SplitMix64: a tiny portable generator, fully specified by its seed.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The `num_perm` hash functions of a seed, stored as 32-bit halves so the hot loop runs in
/// 32-bit lanes: `((a * x + b) mod 2^64) >> 32` = `hi32(a_lo * x + b_lo) + a_hi * x + b_hi (mod 2^32)`
/// for a 32-bit `x`, exactly.
#[derive(Debug, Clone)]
pub struct Permutations {
    a_lo: Vec<u32>,
    a_hi: Vec<u32>,
    b_lo: Vec<u32>,
    b_hi: Vec<u32>,
}

impl Permutations {
    pub fn new(num_perm: usize, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let a: Vec<u64> = (0..num_perm).map(|_| rng.next_u64() | 1).collect();
        let b: Vec<u64> = (0..num_perm).map(|_| rng.next_u64()).collect();
        Permutations {
            a_lo: a.iter().map(|v| *v as u32).collect(),
            a_hi: a.iter().map(|v| (*v >> 32) as u32).collect(),
            b_lo: b.iter().map(|v| *v as u32).collect(),
            b_hi: b.iter().map(|v| (*v >> 32) as u32).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.a_lo.len()
    }

    pub fn is_empty(&self) -> bool {
        self.a_lo.is_empty()
    }
}

/// Lanes per block of the portable path: a block of the signature stays in registers while every
/// shingle passes.
const LANES: usize = 16;

#[inline(always)]
fn hash_lane(a_lo: u32, a_hi: u32, b_lo: u32, b_hi: u32, x: u32) -> u32 {
    let t = (a_lo as u64) * (x as u64) + b_lo as u64;
    ((t >> 32) as u32).wrapping_add(a_hi.wrapping_mul(x)).wrapping_add(b_hi)
}

/// Folds every shingle hash `x` into the signature: `sig[i] = min(sig[i], h_i(x))`.
/// Permutations go in blocks of 16 (outer loop) and shingles in the inner loop, so a block's
/// coefficients and running minima stay in registers. The reference the SIMD paths must equal.
fn fold_into(sig: &mut [u32], xs: &[u32], p: &Permutations) {
    fold_blocks(sig, xs, p, 0)
}

/// [`fold_into`] for the permutations from `from` on (the SIMD paths leave a tail of fewer than
/// a vector's lanes to it).
#[inline(always)]
fn fold_blocks(sig: &mut [u32], xs: &[u32], p: &Permutations, from: usize) {
    let n = sig.len();
    let full = from + (n - from) / LANES * LANES;
    for start in (from..full).step_by(LANES) {
        let block = start..start + LANES;
        let a_lo: [u32; LANES] = p.a_lo[block.clone()].try_into().unwrap();
        let a_hi: [u32; LANES] = p.a_hi[block.clone()].try_into().unwrap();
        let b_lo: [u32; LANES] = p.b_lo[block.clone()].try_into().unwrap();
        let b_hi: [u32; LANES] = p.b_hi[block.clone()].try_into().unwrap();
        let mut acc: [u32; LANES] = sig[block.clone()].try_into().unwrap();
        for &x in xs {
            for j in 0..LANES {
                acc[j] = acc[j].min(hash_lane(a_lo[j], a_hi[j], b_lo[j], b_hi[j], x));
            }
        }
        sig[block].copy_from_slice(&acc);
    }
    for (i, s) in sig.iter_mut().enumerate().skip(full) {
        for &x in xs {
            *s = (*s).min(hash_lane(p.a_lo[i], p.a_hi[i], p.b_lo[i], p.b_hi[i], x));
        }
    }
}

/// The SIMD paths, written with intrinsics (the compiler's auto-vectorized [`fold_into`] spilled
/// registers and ran at a third of this speed). Per vector of lanes and shingle `x`:
/// the even lanes' `a_lo * x` and the odd lanes' come from two 32x32->64 multiplies; adding the
/// 64-bit `b_hi << 32 | b_lo` puts `hi32(a_lo * x + b_lo) + b_hi` in each product's high half
/// (`a_lo * x + b_lo < 2^64`, so the carry is exact); a blend gathers the high halves and a
/// 32-bit multiply adds `a_hi * x`. The same integers as [`hash_lane`].
#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{fold_blocks, Permutations};
    use std::arch::x86_64::*;

    /// The 64-bit `b_hi << 32 | b_lo` of the even (`first` 0) or odd (1) lanes of the block at `start`.
    #[inline(always)]
    fn b64<const H: usize>(p: &Permutations, start: usize, first: usize) -> [u64; H] {
        std::array::from_fn(|j| {
            let i = start + 2 * j + first;
            (p.b_hi[i] as u64) << 32 | p.b_lo[i] as u64
        })
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn fold_avx2(sig: &mut [u32], xs: &[u32], p: &Permutations) {
        const W: usize = 8;
        let full = sig.len() / W * W;
        for start in (0..full).step_by(W) {
            let load = |v: &[u32]| _mm256_loadu_si256(v[start..start + W].as_ptr() as *const __m256i);
            let a_lo = load(&p.a_lo);
            let a_lo_odd = _mm256_srli_epi64::<32>(a_lo);
            let a_hi = load(&p.a_hi);
            let (be, bo) = (b64::<4>(p, start, 0), b64::<4>(p, start, 1));
            let b_even = _mm256_loadu_si256(be.as_ptr() as *const __m256i);
            let b_odd = _mm256_loadu_si256(bo.as_ptr() as *const __m256i);
            let mut acc = _mm256_loadu_si256(sig[start..start + W].as_ptr() as *const __m256i);
            for &x in xs {
                let xv = _mm256_set1_epi32(x as i32);
                let even = _mm256_add_epi64(_mm256_mul_epu32(a_lo, xv), b_even);
                let odd = _mm256_add_epi64(_mm256_mul_epu32(a_lo_odd, xv), b_odd);
                let hi = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
                let h = _mm256_add_epi32(hi, _mm256_mullo_epi32(a_hi, xv));
                acc = _mm256_min_epu32(acc, h);
            }
            _mm256_storeu_si256(sig[start..start + W].as_mut_ptr() as *mut __m256i, acc);
        }
        fold_blocks(sig, xs, p, full)
    }

    /// # Safety
    /// The CPU must support AVX-512F.
    #[cfg(clt_avx512)]
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::incompatible_msrv)] // built only by rustc >= 1.89 (build.rs sets clt_avx512)
    pub unsafe fn fold_avx512(sig: &mut [u32], xs: &[u32], p: &Permutations) {
        const W: usize = 16;
        let full = sig.len() / W * W;
        for start in (0..full).step_by(W) {
            let load = |v: &[u32]| _mm512_loadu_si512(v[start..start + W].as_ptr() as *const __m512i);
            let a_lo = load(&p.a_lo);
            let a_lo_odd = _mm512_srli_epi64::<32>(a_lo);
            let a_hi = load(&p.a_hi);
            let (be, bo) = (b64::<8>(p, start, 0), b64::<8>(p, start, 1));
            let b_even = _mm512_loadu_si512(be.as_ptr() as *const __m512i);
            let b_odd = _mm512_loadu_si512(bo.as_ptr() as *const __m512i);
            let mut acc = load(sig);
            for &x in xs {
                let xv = _mm512_set1_epi32(x as i32);
                let even = _mm512_add_epi64(_mm512_mul_epu32(a_lo, xv), b_even);
                let odd = _mm512_add_epi64(_mm512_mul_epu32(a_lo_odd, xv), b_odd);
                let hi = _mm512_mask_blend_epi32(0b1010_1010_1010_1010, _mm512_srli_epi64::<32>(even), odd);
                let h = _mm512_add_epi32(hi, _mm512_mullo_epi32(a_hi, xv));
                acc = _mm512_min_epu32(acc, h);
            }
            _mm512_storeu_si512(sig[start..start + W].as_mut_ptr() as *mut __m512i, acc);
        }
        fold_blocks(sig, xs, p, full)
    }
}

/// Scratch space for [`Signer::sign`], reused from one text to the next.
#[derive(Debug, Default)]
pub struct Signer {
    shingles: Vec<u32>,
    band: Vec<u8>,
}

impl Signer {
    /// Writes the MinHash signature of `text` into `sig` (one value per permutation; u32::MAX
    /// everywhere for a text without shingles). The AVX-512 and AVX2 paths (chosen at run time)
    /// and the portable path compute the same integers.
    pub fn sign(&mut self, text: &str, perms: &Permutations, shingle: ShingleParams, sig: &mut [u32]) {
        assert_eq!(sig.len(), perms.len(), "one signature value per permutation");
        let xs = &mut self.shingles;
        xs.clear();
        for_each_shingle(text, shingle, |h| xs.push((h ^ (h >> 32)) as u32));
        sig.fill(u32::MAX);
        #[cfg(target_arch = "x86_64")]
        {
            #[cfg(clt_avx512)]
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports AVX-512F (checked just above).
                unsafe { simd::fold_avx512(sig, xs, perms) };
                return;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                unsafe { simd::fold_avx2(sig, xs, perms) };
                return;
            }
        }
        fold_into(sig, xs, perms);
    }

    /// Calls `emit` with each band's 64-bit key: the hash of the group, the band index and the
    /// band's rows.
    pub fn band_keys(&mut self, sig: &[u32], group: u32, params: &NearDupParams, mut emit: impl FnMut(u64)) {
        for band in 0..params.bands {
            let buf = &mut self.band;
            buf.clear();
            buf.extend_from_slice(&group.to_le_bytes());
            buf.extend_from_slice(&(band as u32).to_le_bytes());
            for v in &sig[band * params.rows..(band + 1) * params.rows] {
                buf.extend_from_slice(&v.to_le_bytes());
            }
            emit(xxh3_64_with_seed(buf, params.seed));
        }
    }
}

/// The MinHash signature of `text` (see [`Signer::sign`]).
pub fn signature(text: &str, perms: &Permutations, shingle: ShingleParams) -> Vec<u32> {
    let mut sig = vec![0; perms.len()];
    Signer::default().sign(text, perms, shingle, &mut sig);
    sig
}

/// Sorts (band key, row) entries: one counting pass scatters them by the key's top byte, then the
/// 256 parts (cache-sized for a million documents) are sorted in parallel. The result is the
/// whole list sorted, in about half the time of a parallel sort of the whole list.
fn sort_entries(entries: Vec<(u64, u32)>) -> Vec<(u64, u32)> {
    let part = |e: &(u64, u32)| (e.0 >> 56) as usize;
    let mut counts = [0usize; 256];
    for e in &entries {
        counts[part(e)] += 1;
    }
    let mut next = [0usize; 256];
    for b in 1..256 {
        next[b] = next[b - 1] + counts[b - 1];
    }
    let mut sorted = vec![(0u64, 0u32); entries.len()];
    for e in &entries {
        let b = part(e);
        sorted[next[b]] = *e;
        next[b] += 1;
    }
    drop(entries);
    let mut parts = Vec::with_capacity(256);
    let mut rest = sorted.as_mut_slice();
    for &count in &counts {
        let (head, tail) = rest.split_at_mut(count);
        parts.push(head);
        rest = tail;
    }
    parts.into_par_iter().for_each(|p| p.sort_unstable());
    sorted
}

/// Union-find whose representative is always the member with the smallest stable key.
struct MinKeyUnionFind<'a> {
    parent: Vec<u32>,
    keys: StrColumn<'a>,
}

impl<'a> MinKeyUnionFind<'a> {
    fn new(n: usize, keys: StrColumn<'a>) -> Self {
        MinKeyUnionFind { parent: (0..n as u32).collect(), keys }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    fn smaller(&self, a: u32, b: u32) -> bool {
        (self.keys.bytes(a as usize), a) < (self.keys.bytes(b as usize), b)
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        if self.smaller(ra, rb) {
            self.parent[rb as usize] = ra;
        } else {
            self.parent[ra as usize] = rb;
        }
    }
}

/// Result of [`near_dedup`], indexed like the input.
#[derive(Debug, Clone, PartialEq)]
pub struct NearDedup {
    /// `survivor[i]`: the representative (smallest key) of row `i`'s cluster; `i` when kept.
    pub survivor: Vec<u32>,
    /// Candidate pairs found by LSH, and how many passed the exact check.
    pub candidate_pairs: u64,
    pub accepted_pairs: u64,
}

/// Clusters near-duplicate rows of `normalized` (texts normalized under the profile) within each
/// group. `active[i] == false` excludes a row (e.g. an exact duplicate already removed): it is its
/// own survivor and never a candidate.
pub fn near_dedup(
    normalized: StrColumn<'_>,
    keys: StrColumn<'_>,
    groups: &[u32],
    active: &[bool],
    params: &NearDupParams,
) -> NearDedup {
    let n = normalized.len();
    assert_eq!(keys.len(), n);
    assert_eq!(groups.len(), n);
    assert_eq!(active.len(), n);
    let perms = Permutations::new(params.num_perm, params.seed);

    // (band key, row) for every active row and band, computed in parallel into their places in
    // one list (no merging of per-thread lists), then sorted: rows sharing a key are adjacent.
    let rows: Vec<u32> = (0..n as u32).filter(|&i| active[i as usize]).collect();
    let mut entries = vec![(0u64, 0u32); rows.len() * params.bands];
    if params.bands > 0 {
        entries.par_chunks_mut(params.bands).zip(rows.par_iter()).for_each_init(
            || (Signer::default(), vec![0u32; perms.len()]),
            |(signer, sig), (slots, &i)| {
                signer.sign(normalized.get(i as usize), &perms, params.shingle, sig);
                let mut slot = slots.iter_mut();
                signer.band_keys(sig, groups[i as usize], params, |k| {
                    *slot.next().expect("one slot per band") = (k, i);
                });
            },
        );
    }
    let entries = sort_entries(entries);

    // Distinct candidate pairs (smaller row first), sorted: the order of merging is fixed.
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for bucket in entries.chunk_by(|x, y| x.0 == y.0) {
        for (j, &(_, b)) in bucket.iter().enumerate() {
            for &(_, a) in &bucket[..j] {
                if a != b {
                    pairs.push((a.min(b), a.max(b)));
                }
            }
        }
    }
    pairs.par_sort_unstable();
    pairs.dedup();

    // Exact Jaccard of each candidate (in parallel; the verdict does not depend on order).
    // Each document's shingle set is computed once.
    let accepted: Vec<bool> = if params.verify {
        let mut involved: Vec<u32> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
        involved.par_sort_unstable();
        involved.dedup();
        let sets: Vec<Vec<u64>> = involved
            .par_iter()
            .map(|&i| shingle_set(normalized.get(i as usize), params.shingle))
            .collect();
        let set_of = |i: u32| &sets[involved.binary_search(&i).expect("involved")];
        pairs
            .par_iter()
            .map(|&(a, b)| jaccard(set_of(a), set_of(b)) >= params.threshold)
            .collect()
    } else {
        vec![true; pairs.len()]
    };

    let mut uf = MinKeyUnionFind::new(n, keys);
    let mut accepted_pairs = 0;
    for (&(a, b), &ok) in pairs.iter().zip(&accepted) {
        if ok {
            uf.union(a, b);
            accepted_pairs += 1;
        }
    }
    let survivor = (0..n as u32).map(|i| uf.find(i)).collect();
    NearDedup { survivor, candidate_pairs: pairs.len() as u64, accepted_pairs }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::OwnedColumn;

    #[test]
    fn splitmix_is_pinned() {
        // Reference values of SplitMix64 seeded with 0.
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn split_arithmetic_equals_64_bit_multiply_shift() {
        // Lengths with and without a tail shorter than a vector; extreme shingle hashes included.
        for n in [64, 61, 7, 133] {
            let p = Permutations::new(n, 9);
            let mut rng = SplitMix64::new(3);
            let mut xs: Vec<u32> = (0..50).map(|_| rng.next_u64() as u32).collect();
            xs.extend([0, 1, u32::MAX]);
            let mut slow = vec![u32::MAX; n];
            for &x in &xs {
                for i in 0..n {
                    let a = (p.a_hi[i] as u64) << 32 | p.a_lo[i] as u64;
                    let b = (p.b_hi[i] as u64) << 32 | p.b_lo[i] as u64;
                    slow[i] = slow[i].min((a.wrapping_mul(x as u64).wrapping_add(b) >> 32) as u32);
                }
            }
            let mut portable = vec![u32::MAX; n];
            fold_into(&mut portable, &xs, &p);
            assert_eq!(portable, slow);
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                let mut fast = vec![u32::MAX; n];
                // SAFETY: AVX2 is present.
                unsafe { simd::fold_avx2(&mut fast, &xs, &p) };
                assert_eq!(fast, slow, "AVX2, {n} permutations");
            }
            #[cfg(all(target_arch = "x86_64", clt_avx512))]
            if std::arch::is_x86_feature_detected!("avx512f") {
                let mut fast = vec![u32::MAX; n];
                // SAFETY: AVX-512F is present.
                unsafe { simd::fold_avx512(&mut fast, &xs, &p) };
                assert_eq!(fast, slow, "AVX-512, {n} permutations");
            }
        }
    }

    #[test]
    fn signature_agreement_estimates_jaccard() {
        let p = NearDupParams { num_perm: 256, ..Default::default() };
        let perms = Permutations::new(p.num_perm, 7);
        let a: Vec<String> = (0..200).map(|i| format!("w{i}")).collect();
        let mut b = a.clone();
        for w in b.iter_mut().take(40) {
            w.push('x');
        }
        let (ta, tb) = (a.join(" "), b.join(" "));
        let exact = jaccard(&shingle_set(&ta, p.shingle), &shingle_set(&tb, p.shingle));
        let (sa, sb) = (signature(&ta, &perms, p.shingle), signature(&tb, &perms, p.shingle));
        let agree = sa.iter().zip(&sb).filter(|(x, y)| x == y).count() as f64 / sa.len() as f64;
        assert!((agree - exact).abs() < 0.1, "estimate {agree} vs exact {exact}");
    }

    fn run(texts: &[&str], keys: &[&str], groups: &[u32]) -> Vec<u32> {
        let t = crate::normalize::normalize_column(OwnedColumn::from_strs(texts).view());
        let k = OwnedColumn::from_strs(keys);
        let active = vec![true; texts.len()];
        near_dedup(t.view(), k.view(), groups, &active, &NearDupParams::default()).survivor
    }

    #[test]
    fn merges_near_duplicates_within_a_group_only() {
        let base = "the quick brown fox jumps over the lazy dog near the river bank today and then runs home";
        let edited = "the quick brown fox jumps over the lazy dog near the river bank today and then runs away";
        let other = "a completely different sentence about apples pears and plums in the market of the town";
        let s = run(&[base, edited, other, edited], &["b", "a", "c", "d"], &[0, 0, 0, 1]);
        assert_eq!(s, vec![1, 1, 2, 3]);
    }

    #[test]
    fn result_is_independent_of_input_order() {
        let texts = ["x y z w v u t s r q", "x y z w v u t s r p", "一二三四五六七八九十", "一二三四五六七八九千"];
        let keys = ["k3", "k1", "k4", "k2"];
        let s1 = run(&texts, &keys, &[0; 4]);
        let order = [3usize, 1, 0, 2];
        let t2: Vec<&str> = order.iter().map(|&i| texts[i]).collect();
        let k2: Vec<&str> = order.iter().map(|&i| keys[i]).collect();
        let s2 = run(&t2, &k2, &[0; 4]);
        for (pos, &i) in order.iter().enumerate() {
            assert_eq!(keys[s1[i] as usize], k2[s2[pos] as usize]);
        }
    }

    #[test]
    fn entries_sort_like_a_plain_sort() {
        let mut rng = SplitMix64::new(5);
        // Random keys, repeated keys, and keys sharing their top byte.
        let mut entries: Vec<(u64, u32)> = (0..5000).map(|i| (rng.next_u64(), i)).collect();
        entries.extend((0..300).map(|i| (42, 9000 - i)));
        entries.extend((0..300u32).map(|i| ((7u64 << 56) | u64::from(i % 13), i)));
        let mut expected = entries.clone();
        expected.sort_unstable();
        assert_eq!(sort_entries(entries), expected);
        assert!(sort_entries(Vec::new()).is_empty());
    }

    #[test]
    fn candidate_probability_matches_formula() {
        let p = NearDupParams { bands: 20, rows: 5, ..Default::default() };
        assert!((p.candidate_probability(0.5) - (1.0 - (1.0 - 0.5f64.powi(5)).powi(20))).abs() < 1e-12);
        assert!(p.validate().is_ok());
        assert!(NearDupParams { bands: 20, rows: 7, ..Default::default() }.validate().is_err());
        assert!(NearDupParams { shingle: ShingleParams { word_n: 0, char_n: 5 }, ..Default::default() }.validate().is_err());
        assert!(NearDupParams { shingle: ShingleParams { word_n: 3, char_n: 0 }, ..Default::default() }.validate().is_err());
    }
}

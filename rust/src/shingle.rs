//! Script-aware shingles, in one pass over mixed text.
//!
//! Text is cut into tokens: each Han, Kana or Hangul character is a token of its own (these
//! scripts are written without spaces), and every other run of letters, marks and digits is a
//! word. Consecutive tokens of the same kind form a segment; a word segment gives word n-grams,
//! a Han/Kana/Hangul segment gives character n-grams. A segment shorter than n gives one shingle,
//! itself, so short texts still have a signature and distinct short texts do not collide.

use crate::hashing::{chain_hash, fmix64};
use std::sync::OnceLock;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Shingle sizes: `word_n` words for space-separated scripts, `char_n` characters for CJK runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShingleParams {
    pub word_n: usize,
    pub char_n: usize,
}

impl ShingleParams {
    /// The defaults: declared here once (the Python bindings expose them, the CLI reads them there).
    pub const DEFAULT: ShingleParams = ShingleParams { word_n: 3, char_n: 5 };
}

impl Default for ShingleParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Seed of the shingle hash (fixed: part of the profile, recorded in manifests).
pub const SHINGLE_SEED: u64 = 0x636c_742d_6b69_7431; // "clt-kit1"

/// True for characters of scripts written without spaces between words.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x31F0..=0x31FF    // Katakana phonetic extensions
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x20000..=0x2FA1F  // CJK extensions B-F, compatibility supplement
        | 0x1100..=0x11FF    // Hangul Jamo
        | 0x3130..=0x318F    // Hangul compatibility Jamo
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xFF66..=0xFF9D    // half-width Katakana
    )
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_mark(c)
}

/// Combining marks (kept inside words: Devanagari signs, Arabic harakat, dakuten).
fn is_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05C7 | 0x0610..=0x061A
        | 0x064B..=0x065F | 0x0670 | 0x06D6..=0x06ED | 0x0900..=0x0903 | 0x093A..=0x094F
        | 0x0951..=0x0957 | 0x0962..=0x0963 | 0x0E31 | 0x0E34..=0x0E3A | 0x0E47..=0x0E4E
        | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0x3099..=0x309A | 0xFE20..=0xFE2F)
}

/// What a character is to the tokenizer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Word = 0,
    Cjk = 1,
    Separator = 2,
}

/// Classifies a character from its properties (the definition; [`classify`] is the fast path).
fn classify_slow(c: char) -> Class {
    if is_cjk(c) {
        Class::Cjk
    } else if is_word_char(c) {
        Class::Word
    } else {
        Class::Separator
    }
}

/// The class of every character of the Basic Multilingual Plane, 2 bits each (16 KiB), computed
/// once from [`classify_slow`]: Unicode property lookups of non-ASCII letters were a fifth of the
/// time of MinHash signatures.
fn bmp_classes() -> &'static [u8] {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = vec![0u8; 0x10000 / 4];
        for cp in 0..0x10000u32 {
            let class = char::from_u32(cp).map_or(Class::Separator, classify_slow) as u8;
            table[cp as usize / 4] |= class << (2 * (cp % 4));
        }
        table
    })
}

/// Classifies a character: ASCII directly, the rest of the BMP from a table.
#[inline]
fn classify(c: char) -> Class {
    let cp = c as u32;
    if c.is_ascii() {
        if c.is_ascii_alphanumeric() {
            Class::Word
        } else {
            Class::Separator
        }
    } else if cp < 0x10000 {
        match (bmp_classes()[cp as usize / 4] >> (2 * (cp % 4))) & 3 {
            0 => Class::Word,
            1 => Class::Cjk,
            _ => Class::Separator,
        }
    } else {
        classify_slow(c)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Word,
    Cjk,
}

/// Hash of one shingle from its tokens' hashes (so separators and spacing between tokens never
/// matter), seeded by the shingle's kind.
fn shingle_hash(tokens: &[u64], kind: Kind) -> u64 {
    let seed = match kind {
        Kind::Word => SHINGLE_SEED,
        Kind::Cjk => SHINGLE_SEED ^ 0xC1C1,
    };
    chain_hash(seed, tokens.iter().copied())
}

/// Hash of a one-character token (Han, Kana, Hangul): an avalanche of its code point.
#[inline]
fn char_token_hash(c: char) -> u64 {
    fmix64((c as u64) ^ SHINGLE_SEED)
}

/// Calls `emit` with the hash of every shingle of `text` (duplicates included, in text order).
pub fn for_each_shingle(text: &str, params: ShingleParams, mut emit: impl FnMut(u64)) {
    let mut segment: Vec<u64> = Vec::with_capacity(64); // token hashes of the current segment
    let mut kind = Kind::Word;
    let mut word_start: Option<usize> = None;
    let bytes = text.as_bytes();

    let flush = |segment: &mut Vec<u64>, kind: Kind, emit: &mut dyn FnMut(u64)| {
        if segment.is_empty() {
            return;
        }
        let n = match kind {
            Kind::Word => params.word_n,
            Kind::Cjk => params.char_n,
        }
        .max(1);
        if segment.len() <= n {
            emit(shingle_hash(segment, kind));
        } else {
            for window in segment.windows(n) {
                emit(shingle_hash(window, kind));
            }
        }
        segment.clear();
    };

    for (i, c) in text.char_indices() {
        match classify(c) {
            Class::Word => {
                if word_start.is_none() {
                    if kind != Kind::Word {
                        flush(&mut segment, kind, &mut emit);
                        kind = Kind::Word;
                    }
                    word_start = Some(i);
                }
            }
            Class::Cjk => {
                if let Some(s) = word_start.take() {
                    segment.push(xxh3_64_with_seed(&bytes[s..i], SHINGLE_SEED));
                }
                if kind != Kind::Cjk {
                    flush(&mut segment, kind, &mut emit);
                    kind = Kind::Cjk;
                }
                segment.push(char_token_hash(c));
            }
            Class::Separator => {
                if let Some(s) = word_start.take() {
                    segment.push(xxh3_64_with_seed(&bytes[s..i], SHINGLE_SEED));
                }
            }
        }
    }
    if let Some(s) = word_start.take() {
        segment.push(xxh3_64_with_seed(&bytes[s..], SHINGLE_SEED));
    }
    flush(&mut segment, kind, &mut emit);
}

/// The sorted, distinct shingle hashes of `text` (for exact Jaccard checks).
pub fn shingle_set(text: &str, params: ShingleParams) -> Vec<u64> {
    let mut v = Vec::new();
    for_each_shingle(text, params, |h| v.push(h));
    v.sort_unstable();
    v.dedup();
    v
}

/// Exact Jaccard similarity of two sorted, distinct sets.
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    inter as f64 / (a.len() + b.len() - inter) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(text: &str, p: ShingleParams) -> usize {
        let mut n = 0;
        for_each_shingle(text, p, |_| n += 1);
        n
    }

    #[test]
    fn words_and_cjk_runs_in_one_pass() {
        let p = ShingleParams { word_n: 2, char_n: 2 };
        // "a b c" -> 2 word bigrams; "日本語" -> 2 char bigrams; "d" -> 1 (short segment).
        assert_eq!(count("a b c 日本語 d", p), 5);
        // A Chinese run is not one token: 4 characters give 3 bigrams.
        assert_eq!(count("中文文本", p), 3);
        // Hangul syllables are characters of their own.
        assert_eq!(count("한국어", p), 2);
    }

    #[test]
    fn separators_do_not_matter_for_words() {
        let p = ShingleParams::default();
        assert_eq!(shingle_set("one, two; three", p), shingle_set("one two three", p));
    }

    #[test]
    fn marks_stay_in_words() {
        let p = ShingleParams { word_n: 1, char_n: 1 };
        assert_eq!(count("हिन्दी", p), 1);
        assert_ne!(shingle_set("が", p), shingle_set("か", p));
    }

    #[test]
    fn the_class_table_agrees_with_the_definition() {
        for cp in (0..0x11_0000u32).step_by(7).chain(0..0x3000) {
            if let Some(c) = char::from_u32(cp) {
                assert_eq!(classify(c), classify_slow(c), "U+{cp:04X}");
            }
        }
    }

    #[test]
    fn distinct_short_texts_do_not_collide() {
        let p = ShingleParams::default();
        assert_eq!(jaccard(&shingle_set("yes", p), &shingle_set("no", p)), 0.0);
        assert_eq!(jaccard(&shingle_set("ok", p), &shingle_set("ok", p)), 1.0);
    }
}

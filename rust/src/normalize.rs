//! The normalization profile used for dedup keys.
//!
//! Profile `nfkc-casefold-ws/v1`: Unicode NFKC (folds full-width and compatibility forms),
//! full case folding, NFKC again (case folding can denormalize), then runs of whitespace
//! collapsed to one space and the ends trimmed. Combining marks are never stripped: が stays が
//! and Devanagari signs survive. Changing any step means a new profile name.
//!
//! Fast paths give the same result: text that the quick check finds already in NFKC is not
//! re-composed, and ASCII characters are folded without a table lookup.

use caseless::Caseless;
use std::borrow::Cow;
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// Name and version recorded in every manifest.
pub const PROFILE: &str = "nfkc-casefold-ws/v1";

/// Characters that are NFKC-stable (NFKC_QC=Yes) with canonical combining class 0: ASCII and C1
/// controls, Latin-1 letters, Arabic letters, Hiragana, Katakana, CJK ideographs, Hangul syllables.
#[inline]
fn stable_starter(c: char) -> bool {
    matches!(c as u32, 0..=0x9F | 0xC0..=0xFF | 0x0621..=0x064A | 0x3041..=0x3096 | 0x30A1..=0x30FA
        | 0x4E00..=0x9FFF | 0xAC00..=0xD7A3)
}

/// NFKC, skipping the work when the quick check says the text already is NFKC. Leaving stable
/// starters out of the quick check can only turn its "yes" into "no" or "maybe" (then the text is
/// normalized in full), never the reverse, so the result is the same.
fn nfkc(text: &str) -> Cow<'_, str> {
    if text.is_ascii() || is_nfkc_quick(text.chars().filter(|&c| !stable_starter(c))) == IsNormalized::Yes {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.nfkc().collect())
    }
}

/// Blocks without case (Arabic, Kana, CJK ideographs, Hangul syllables): folding leaves them as they are.
#[inline]
fn caseless_block(c: char) -> bool {
    matches!(c as u32, 0x0600..=0x06FF | 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF)
}

/// Normalizes `text` under [`PROFILE`] into `out` (cleared first); reuse `out` across calls.
pub fn normalize_into(text: &str, out: &mut String) {
    out.clear();
    let composed = nfkc(text);
    let mut folded_non_ascii = false;
    let mut pending_space = false;
    let mut push = |c: char, out: &mut String| {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    };
    for c in composed.chars() {
        if c.is_ascii() {
            push(c.to_ascii_lowercase(), out);
        } else if caseless_block(c) {
            push(c, out);
        } else {
            let mut folded = std::iter::once(c).default_case_fold();
            match (folded.next(), folded.next()) {
                (Some(f), None) if f == c => push(c, out),
                (first, second) => {
                    folded_non_ascii = true;
                    for f in first.into_iter().chain(second).chain(folded) {
                        push(f, out);
                    }
                }
            }
        }
    }
    if folded_non_ascii {
        if let Cow::Owned(again) = nfkc(out) {
            // Rare: folding produced a sequence that composes further; collapse spaces again.
            let collapsed = again.split_whitespace().collect::<Vec<_>>().join(" ");
            *out = collapsed;
        }
    }
}

/// Normalizes `text` under [`PROFILE`].
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    normalize_into(text, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The profile written as plainly as possible: the fast paths must agree with it.
    fn reference(text: &str) -> String {
        let a: String = text.nfkc().collect();
        let b = caseless::default_case_fold_str(&a);
        let c: String = b.nfkc().collect();
        c.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn folds_case_width_and_whitespace() {
        assert_eq!(normalize("  Hello\t\nWORLD  "), "hello world");
        assert_eq!(normalize("ＡＢＣ１２３"), "abc123");
        assert_eq!(normalize("Straße"), "strasse");
        assert_eq!(normalize("a\u{3000}b"), "a b"); // ideographic space
    }

    #[test]
    fn keeps_combining_marks() {
        // が (U+304C) must not become か (U+304B).
        assert_eq!(normalize("が"), "が");
        assert_ne!(normalize("が"), normalize("か"));
        // Decomposed が (か + U+3099) composes to the same key as precomposed が.
        assert_eq!(normalize("か\u{3099}"), "が");
        // Devanagari vowel signs survive.
        assert_eq!(normalize("हिन्दी"), "हिन्दी");
        assert_eq!(normalize("é"), "é");
    }

    #[test]
    fn is_idempotent_on_samples() {
        for s in ["Ǆemal", "ﬁ", "İstanbul", "한국어 텍스트", "العربية"] {
            let once = normalize(s);
            assert_eq!(normalize(&once), once, "{s}");
        }
    }

    proptest! {
        #[test]
        fn fast_paths_match_the_reference(s in "\\PC{0,40}") {
            prop_assert_eq!(normalize(&s), reference(&s));
        }

        #[test]
        fn stable_starters_next_to_combining_marks(s in "[a-zé가-힣あ-んア-ン一-龥ءا-ي\u{0300}-\u{036F}\u{3099}\u{309A}\u{064B}-\u{0652}\u{1100}-\u{1112}\u{1161}-\u{1175}]{0,30}") {
            prop_assert_eq!(normalize(&s), reference(&s));
        }

        #[test]
        fn fast_paths_match_on_mixed_scripts(s in "[a-zA-Zéß İ\u{3000}\u{FF21}-\u{FF3A}か\u{3099}가-힣ǅ\t\n]{0,30}") {
            prop_assert_eq!(normalize(&s), reference(&s));
        }
    }
}

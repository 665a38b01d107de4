//! The normalization profile used for dedup keys.
//!
//! Profile `nfkc-casefold-ws/v1`: Unicode NFKC (folds full-width and compatibility forms),
//! full case folding, NFKC again (case folding can denormalize), then runs of whitespace
//! collapsed to one space and the ends trimmed. Combining marks are never stripped: が stays が
//! and Devanagari signs survive. Changing any step means a new profile name.
//!
//! Fast paths give the same result: text that the quick check finds already in NFKC is not
//! re-composed, and ASCII characters are folded without a table lookup.

use crate::column::{OwnedColumn, StrColumn};
use caseless::Caseless;
use rayon::prelude::*;
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

/// Characters that case folding leaves as they are and that are not whitespace: lower-case
/// Latin-1 letters, Arabic, CJK punctuation, Kana, CJK ideographs, Hangul syllables (a test
/// checks every one of them).
#[inline]
fn caseless_block(c: char) -> bool {
    matches!(c as u32, 0xE0..=0xFF | 0x0600..=0x06FF | 0x3001..=0x303F | 0x3040..=0x30FF | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF)
}

/// Appends a run of ASCII text: lower-cased, whitespace collapsed (`pending_space`: a space is
/// owed before the next character, as in [`normalize_into`]). Words are copied whole.
#[inline]
fn push_ascii(run: &str, out: &mut String, pending_space: &mut bool) {
    let mut rest = run;
    while let Some(&first) = rest.as_bytes().first() {
        if first == b' ' || (b'\t'..=b'\r').contains(&first) {
            *pending_space = !out.is_empty();
            rest = &rest[1..];
            continue;
        }
        let word = rest.find(|c: char| c.is_ascii_whitespace() || c == '\x0B').unwrap_or(rest.len());
        if *pending_space {
            out.push(' ');
            *pending_space = false;
        }
        let start = out.len();
        out.push_str(&rest[..word]);
        out[start..].make_ascii_lowercase();
        rest = &rest[word..];
    }
}

/// Normalizes `text` under [`PROFILE`] into `out` (cleared first); reuse `out` across calls.
pub fn normalize_into(text: &str, out: &mut String) {
    out.clear();
    let composed = nfkc(text);
    let mut folded_non_ascii = false;
    let mut pending_space = false;
    let push = |c: char, out: &mut String, pending_space: &mut bool| {
        if c.is_whitespace() {
            *pending_space = !out.is_empty();
        } else {
            if *pending_space {
                out.push(' ');
                *pending_space = false;
            }
            out.push(c);
        }
    };
    let mut rest: &str = &composed;
    while let Some(c) = rest.chars().next() {
        // Runs of ASCII go byte by byte, without decoding characters.
        let ascii = rest.bytes().position(|b| !b.is_ascii()).unwrap_or(rest.len());
        if ascii > 0 {
            push_ascii(&rest[..ascii], out, &mut pending_space);
            rest = &rest[ascii..];
            continue;
        }
        if caseless_block(c) {
            // A run of caseless characters (none of them whitespace) is copied as it is.
            let run = rest.find(|c: char| !caseless_block(c)).unwrap_or(rest.len());
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push_str(&rest[..run]);
            rest = &rest[run..];
        } else {
            rest = &rest[c.len_utf8()..];
            let mut folded = std::iter::once(c).default_case_fold();
            match (folded.next(), folded.next()) {
                (Some(f), None) if f == c => push(c, out, &mut pending_space),
                (first, second) => {
                    folded_non_ascii = true;
                    for f in first.into_iter().chain(second).chain(folded) {
                        push(f, out, &mut pending_space);
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

/// Every row of `texts` normalized under [`PROFILE`], in parallel, rows in input order. Exact and
/// near dedup take their text this way, so a caller running both normalizes once.
pub fn normalize_column(texts: StrColumn<'_>) -> OwnedColumn {
    const CHUNK: usize = 4096;
    let chunks: Vec<OwnedColumn> = (0..texts.len().div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let rows = c * CHUNK..((c + 1) * CHUNK).min(texts.len());
            // Normalizing rarely grows a text: reserve the input's size once.
            let size = rows.clone().map(|i| texts.bytes(i).len()).sum();
            let mut out = OwnedColumn { data: Vec::with_capacity(size), offsets: Vec::with_capacity(CHUNK + 1) };
            out.offsets.push(0);
            let mut buf = String::new();
            for i in rows {
                normalize_into(texts.get(i), &mut buf);
                out.push(&buf);
            }
            out
        })
        .collect();
    let mut col = OwnedColumn {
        data: Vec::with_capacity(chunks.iter().map(|c| c.data.len()).sum()),
        offsets: Vec::with_capacity(texts.len() + 1),
    };
    col.offsets.push(0);
    for chunk in chunks {
        let base = col.data.len() as i64;
        col.data.extend_from_slice(&chunk.data);
        col.offsets.extend(chunk.offsets[1..].iter().map(|o| base + o));
    }
    col
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
        // Every ASCII whitespace character, vertical tab included (not in `is_ascii_whitespace`).
        let controls = " A\x0Bb\x0Cc\r\nd\te \u{1F}f ";
        assert_eq!(normalize(controls), "a b c d e \u{1F}f");
        assert_eq!(normalize(controls), reference(controls));
    }

    #[test]
    fn caseless_characters_fold_to_themselves_and_are_not_whitespace() {
        for c in (0..0x11_0000u32).filter_map(char::from_u32).filter(|&c| caseless_block(c)) {
            assert!(!c.is_whitespace(), "U+{:04X}", c as u32);
            let folded: String = std::iter::once(c).default_case_fold().collect();
            assert_eq!(folded, c.to_string(), "U+{:04X}", c as u32);
        }
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
    fn a_column_is_normalized_row_by_row_in_order() {
        let rows: Vec<String> = (0..9000).map(|i| format!("Row  {i} ＡＢ")).collect();
        let col = normalize_column(OwnedColumn::from_strs(&rows).view());
        let view = col.view();
        assert_eq!(view.len(), rows.len());
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(view.get(i), normalize(row));
        }
        assert_eq!(normalize_column(OwnedColumn::from_strs::<&str>(&[]).view()).view().len(), 0);
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

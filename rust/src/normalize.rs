//! The normalization profile used for dedup keys.
//!
//! Profile `nfkc-casefold-ws/v1`: Unicode NFKC (folds full-width and compatibility forms),
//! full case folding, NFKC again (case folding can denormalize), then runs of whitespace
//! collapsed to one space and the ends trimmed. Combining marks are never stripped: が stays が
//! and Devanagari signs survive. Changing any step means a new profile name.

use unicode_normalization::UnicodeNormalization;

/// Name and version recorded in every manifest.
pub const PROFILE: &str = "nfkc-casefold-ws/v1";

/// Normalizes `text` under [`PROFILE`].
pub fn normalize(text: &str) -> String {
    let nfkc: String = text.nfkc().collect();
    let folded = caseless::default_case_fold_str(&nfkc);
    let refolded: String = folded.nfkc().collect();
    let mut out = String::with_capacity(refolded.len());
    for word in refolded.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_width_and_whitespace() {
        assert_eq!(normalize("  Hello\t\nWORLD  "), "hello world");
        assert_eq!(normalize("ＡＢＣ１２３"), "abc123");
        assert_eq!(normalize("Straße"), "strasse");
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
}

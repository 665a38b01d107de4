//! Offline language identification: a script pass, then a character n-gram model among the
//! languages that share the script, restricted to an allowlist; `und` below a floor.
//!
//! The model is trained when first used from text embedded in the crate (`rust/langid/*.txt`,
//! CLDR strings and common words of each language), so nothing is downloaded and the model's
//! identity is the hash of that text plus [`MODEL_NAME`].

use sha2::{Digest, Sha256};
use crate::hashing::{chain_hash, HashKeyed};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Name and version of the algorithm (recorded in manifests with the data hash).
pub const MODEL_NAME: &str = "clt-script+charngram-word-nb/v3";

/// Scripts told apart by the first pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Script {
    Latin,
    Arabic,
    Hangul,
    Kana,
    Han,
    Cyrillic,
    Other,
}

#[inline]
pub fn script_of(c: char) -> Option<Script> {
    if c.is_ascii() {
        return c.is_ascii_alphabetic().then_some(Script::Latin);
    }
    if !c.is_alphabetic() {
        return None; // digits of any script (Arabic-Indic too), punctuation, separators, marks
    }
    let u = c as u32;
    let s = match u {
        0x41..=0x5A | 0x61..=0x7A | 0xC0..=0x24F | 0x1E00..=0x1EFF => Script::Latin,
        0x600..=0x6FF | 0x750..=0x77F | 0x8A0..=0x8FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => Script::Arabic,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => Script::Hangul,
        0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9D => Script::Kana,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F => Script::Han,
        0x400..=0x4FF => Script::Cyrillic,
        _ => Script::Other,
    };
    Some(s)
}

/// How much text one character of a script carries, in letters of an alphabet: a Hangul syllable
/// block writes two or three letters (jamo), a Han character a morpheme, a Kana one a syllable.
/// Script shares are weighted by it, so that two English words in a Korean sentence do not
/// outweigh the Korean around them by their letter count alone.
#[inline]
fn script_weight(s: Script, c: char) -> usize {
    match s {
        Script::Hangul if (0xAC00..=0xD7AF).contains(&(c as u32)) => 3,
        Script::Han => 3,
        Script::Kana => 2,
        _ => 1,
    }
}

/// The weighted share of its own script from which a non-Latin script decides a text's language
/// even where Latin letters weigh more: Korean, Japanese, Chinese or Arabic with English words in
/// it is that language (its grammar is), while an English text holds such a share of another
/// script almost never.
const HOST_SHARE: f64 = 0.25;

/// A language the identifier knows: its code, script, and (for n-gram languages) training text.
struct Spec {
    code: &'static str,
    /// Latin and Han languages are told apart by n-grams; ja is also recognised by Kana.
    ngram: bool,
    text: &'static str,
}

const SPECS: &[Spec] = &[
    Spec { code: "en", ngram: true, text: concat!(include_str!("../langid/en.cldr.txt"), include_str!("../langid/en.common.txt"), include_str!("../langid/en.words.txt")) },
    Spec { code: "es", ngram: true, text: concat!(include_str!("../langid/es.cldr.txt"), include_str!("../langid/es.common.txt"), include_str!("../langid/es.words.txt")) },
    Spec { code: "fr", ngram: true, text: concat!(include_str!("../langid/fr.cldr.txt"), include_str!("../langid/fr.common.txt"), include_str!("../langid/fr.words.txt")) },
    Spec { code: "pt", ngram: true, text: concat!(include_str!("../langid/pt.cldr.txt"), include_str!("../langid/pt.common.txt"), include_str!("../langid/pt.words.txt")) },
    Spec { code: "ja", ngram: true, text: concat!(include_str!("../langid/ja.cldr.txt"), include_str!("../langid/ja.common.txt"), include_str!("../langid/ja.words.txt")) },
    Spec { code: "zh", ngram: true, text: concat!(include_str!("../langid/zh.cldr.txt"), include_str!("../langid/zh.common.txt"), include_str!("../langid/zh.words.txt")) },
    Spec { code: "ko", ngram: false, text: "" },
    Spec { code: "ar", ngram: false, text: "" },
];

/// The Latin-script languages and the Han-script languages, each scored among themselves.
const LATIN: &[&str] = &["en", "es", "fr", "pt"];
const HAN: &[&str] = &["ja", "zh"];

/// Floors below which the answer is `und`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Floors {
    /// Fewer letters than this, counted in alphabet letters (a Han or Hangul character as 3, a
    /// Kana one as 2: see `script_weight`): `und`.
    pub min_letters: usize,
    /// Best posterior (n-gram stage) or script share (script stage) below this: `und`.
    pub min_confidence: f64,
}

impl Floors {
    /// The defaults: declared here once (the Python bindings expose them).
    pub const DEFAULT: Floors = Floors { min_letters: 3, min_confidence: 0.5 };
}

impl Default for Floors {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One answer: a language code (or "und") and a confidence in [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub lang: &'static str,
    pub confidence: f64,
}

const UND: &str = "und";
const ORDERS: [usize; 3] = [1, 2, 3];
const ALPHA: f64 = 0.5;

/// The trained model: the n-gram tables of the Latin-script and the Han-script languages.
pub struct LangId {
    latin: Stage<{ LATIN.len() }>,
    han: Stage<{ HAN.len() }>,
    data_sha256: String,
}

/// The n-gram model of the `W` languages that share a script: for every n-gram seen in the
/// training text of at least one of them, its log-probability in each, inline in the table (one
/// lookup, no pointer chase). An n-gram or word none of them has (a name, a number's unit, a
/// typo) is evidence for none of them and adds nothing to any language's score: scoring it with
/// each language's smoothed count of 0 instead favoured the languages with the least training
/// text. The tables stay small enough for the CPU's cache.
struct Stage<const W: usize> {
    codes: [&'static str; W],
    logp: HashKeyed<u64, [f32; W]>,
}

/// Feature kinds: character 1-, 2- and 3-grams, and whole words.
const KINDS: usize = 4;

/// Hash of a run of characters (an n-gram or a word), tagged by its kind, from the code points
/// (no UTF-8 re-encoding); well mixed, since the table's hasher passes keys through.
#[inline]
fn run_hash(chars: &[char], tag: u64) -> u64 {
    chain_hash(tag, chars.iter().map(|&c| c as u64))
}

/// Tag of whole-word features (n-grams are tagged by their order).
const WORD_TAG: u64 = 0x776f_7264;

fn ngrams(text: &str, mut f: impl FnMut(usize, u64)) {
    // Lower-cased letters; every run of non-letters becomes one space (word boundary).
    let mut chars: Vec<char> = Vec::with_capacity(text.len() + 2);
    chars.push(' ');
    for c in text.chars() {
        if c.is_ascii() {
            if c.is_ascii_alphabetic() {
                chars.push(c.to_ascii_lowercase());
            } else if chars.last() != Some(&' ') {
                chars.push(' ');
            }
            continue;
        }
        for c in c.to_lowercase() {
            if script_of(c).is_some() {
                chars.push(c);
            } else if chars.last() != Some(&' ') {
                chars.push(' ');
            }
        }
    }
    if chars.last() != Some(&' ') {
        chars.push(' ');
    }
    for (oi, &n) in ORDERS.iter().enumerate() {
        for w in chars.windows(n) {
            if n == 1 && w[0] == ' ' {
                continue;
            }
            f(oi, run_hash(w, n as u64));
        }
    }
    // Whole words (space-separated scripts; a CJK run counts as one "word" and adds little).
    for word in chars[1..].split(|&c| c == ' ') {
        if !word.is_empty() {
            f(3, run_hash(word, WORD_TAG));
        }
    }
}

impl LangId {
    fn train() -> LangId {
        let specs: Vec<&Spec> = SPECS.iter().filter(|s| s.ngram).collect();
        let codes: Vec<&'static str> = specs.iter().map(|s| s.code).collect();
        let mut counts: HashMap<u64, Vec<u32>> = HashMap::new();
        let mut totals = vec![[0u64; KINDS]; specs.len()];
        let mut vocab = [0u64; KINDS];
        let mut order_of: HashMap<u64, usize> = HashMap::new();
        for (li, spec) in specs.iter().enumerate() {
            for line in spec.text.lines() {
                ngrams(line, |oi, h| {
                    let entry = counts.entry(h).or_insert_with(|| vec![0; specs.len()]);
                    entry[li] += 1;
                    totals[li][oi] += 1;
                    order_of.entry(h).or_insert(oi);
                });
            }
        }
        for oi in order_of.values() {
            vocab[*oi] += 1;
        }
        let denom = |li: usize, oi: usize| (totals[li][oi] as f64 + ALPHA * (vocab[oi] as f64 + 1.0)).ln();
        let logp = |count: u32, li: usize, oi: usize| ((count as f64 + ALPHA).ln() - denom(li, oi)) as f32;
        fn stage<const W: usize>(
            langs: &[&'static str],
            codes: &[&'static str],
            counts: &HashMap<u64, Vec<u32>>,
            order_of: &HashMap<u64, usize>,
            logp: &dyn Fn(u32, usize, usize) -> f32,
        ) -> Stage<W> {
            let li: [usize; W] = std::array::from_fn(|j| codes.iter().position(|c| *c == langs[j]).expect("an n-gram language"));
            let table = counts
                .iter()
                .filter(|(_, c)| li.iter().any(|&l| c[l] > 0))
                .map(|(h, c)| (*h, std::array::from_fn(|j| logp(c[li[j]], li[j], order_of[h]))))
                .collect();
            Stage {
                codes: std::array::from_fn(|j| langs[j]),
                logp: table,
            }
        }
        let latin = stage(LATIN, &codes, &counts, &order_of, &logp);
        let han = stage(HAN, &codes, &counts, &order_of, &logp);
        let mut hasher = Sha256::new();
        hasher.update(MODEL_NAME.as_bytes());
        for spec in SPECS {
            hasher.update(spec.code.as_bytes());
            hasher.update([0]);
            hasher.update(spec.text.as_bytes());
            hasher.update([0]);
        }
        let data_sha256 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        LangId { latin, han, data_sha256 }
    }

    /// The shared model, trained on first use.
    pub fn get() -> &'static LangId {
        static MODEL: OnceLock<LangId> = OnceLock::new();
        MODEL.get_or_init(LangId::train)
    }

    /// sha256 of the model name and its embedded training text.
    pub fn model_sha256(&self) -> &str {
        &self.data_sha256
    }

    /// Every language code the identifier can answer.
    pub fn languages() -> Vec<&'static str> {
        SPECS.iter().map(|s| s.code).collect()
    }

    /// Identifies `text` among `allow` (all known languages when empty).
    pub fn identify(&self, text: &str, allow: &[&str], floors: Floors) -> Prediction {
        let allowed = |code: &str| allow.is_empty() || allow.contains(&code);
        let und = Prediction { lang: UND, confidence: 0.0 };

        let mut counts = [0usize; 7];
        let mut weight = 0usize;
        for c in text.chars() {
            if let Some(s) = script_of(c) {
                let w = script_weight(s, c);
                counts[s as usize] += w;
                weight += w;
            }
        }
        if weight < floors.min_letters {
            return und;
        }
        let share = |s: Script| counts[s as usize] as f64 / weight as f64;
        let cjk = share(Script::Kana) + share(Script::Han);
        let latin = share(Script::Latin);
        // The dominant script group decides which stage answers; a non-Latin group with at least
        // HOST_SHARE hosts the Latin words in it (they count for its confidence).
        let hosts = [("arabic", share(Script::Arabic)), ("hangul", share(Script::Hangul)), ("cjk", cjk)];
        let (host, host_share) = hosts.iter().fold(("", 0.0), |best, &(g, s)| if s > best.1 { (g, s) } else { best });
        let (group, group_share) = if host_share >= HOST_SHARE {
            (host, host_share + latin)
        } else if latin >= host_share {
            ("latin", latin)
        } else {
            (host, host_share)
        };
        if group_share < floors.min_confidence {
            return und;
        }
        match group {
            "arabic" if allowed("ar") => Prediction { lang: "ar", confidence: group_share },
            "hangul" if allowed("ko") => Prediction { lang: "ko", confidence: group_share },
            // Any Kana in CJK text makes it Japanese (Chinese has none).
            "cjk" if share(Script::Kana) > 0.0 && allowed("ja") => Prediction { lang: "ja", confidence: group_share },
            "cjk" => self.han.identify(text, &allowed, floors),
            "latin" => self.latin.identify(text, &allowed, floors),
            _ => und,
        }
    }
}

impl<const W: usize> Stage<W> {
    /// The most probable of this stage's languages that `allowed` lets through.
    fn identify(&self, text: &str, allowed: &dyn Fn(&str) -> bool, floors: Floors) -> Prediction {
        let idx: Vec<usize> = (0..W).filter(|&i| allowed(self.codes[i])).collect();
        match idx.len() {
            0 => return Prediction { lang: UND, confidence: 0.0 },
            1 => return Prediction { lang: self.codes[idx[0]], confidence: 1.0 },
            _ => {}
        }
        // Every language of the stage is scored (a fixed-size, branch-free loop) and the allowed
        // ones are picked afterwards: each language's sum is the same either way.
        let mut all = [0f64; W];
        ngrams(text, |_, h| {
            if let Some(lp) = self.logp.get(&h) {
                for (i, s) in all.iter_mut().enumerate() {
                    *s += lp[i] as f64;
                }
            }
        });
        let scores: Vec<f64> = idx.iter().map(|&i| all[i]).collect();
        let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = scores.iter().map(|s| (s - max).exp()).sum();
        let (best, _) = scores
            .iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |b, (i, &s)| if s > b.1 { (i, s) } else { b });
        let confidence = 1.0 / z;
        if confidence < floors.min_confidence {
            return Prediction { lang: UND, confidence };
        }
        Prediction { lang: self.codes[idx[best]], confidence }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> &'static str {
        LangId::get().identify(text, &[], Floors::default()).lang
    }

    #[test]
    fn scripts_first() {
        assert_eq!(id("안녕하세요, 만나서 반갑습니다."), "ko");
        assert_eq!(id("مرحبا بكم في المدينة"), "ar");
        assert_eq!(id("東京でりんごを買いました。"), "ja");
    }

    #[test]
    fn latin_languages_by_ngrams() {
        assert_eq!(id("The weather is nice today and the children are playing outside."), "en");
        assert_eq!(id("El tiempo es muy bueno hoy y los niños juegan en la calle."), "es");
        assert_eq!(id("Il fait très beau aujourd'hui et les enfants jouent dehors."), "fr");
        assert_eq!(id("O tempo está muito bom hoje e as crianças brincam na rua."), "pt");
    }

    #[test]
    fn han_only_text() {
        assert_eq!(id("我们明天去北京参观博物馆。"), "zh");
        assert_eq!(id("東京都知事選挙"), "ja");
    }

    #[test]
    fn code_mixed_text_is_in_its_host_language() {
        assert_eq!(id("저는 Python 과 JavaScript 를 좋아합니다"), "ko");
        assert_eq!(id("我喜欢 machine learning 和 deep learning"), "zh");
        assert_eq!(id("これは test です"), "ja");
        assert_eq!(id("私は毎日 Python の code を書きます。"), "ja");
        assert_eq!(id("أنا أحب البرمجة بلغة Python كثيرا"), "ar");
        // ... while an English text with a word of another script stays English.
        assert_eq!(id("The Japanese word for mountain is 山, pronounced yama."), "en");
    }

    #[test]
    fn digits_and_punctuation_are_no_letters() {
        assert_eq!(id("١٢٣ ٤٥٦ ٧٨٩"), "und"); // Arabic-Indic digits
        assert_eq!(id("٣٫٥ ، ١٬٢٣٤ ؟"), "und"); // with Arabic separators and punctuation
        assert_eq!(id("The total is ١٢٣٤٥ apples today."), "en");
        assert_eq!(script_of('٣'), None);
        assert_eq!(script_of('،'), None);
    }

    #[test]
    fn han_characters_weigh_as_letters_against_the_floor() {
        // Two Han characters write as much as six letters: a date is Chinese, not `und`.
        assert_eq!(id("2007年7月6"), "zh");
        assert_eq!(id("1965年12月"), "zh");
        assert_eq!(id("한국"), "ko");
        assert_eq!(id("ok"), "und");
    }

    #[test]
    fn features_no_language_has_are_no_evidence() {
        // Rare Han characters (CJK extension B) in neither training text: nothing favours ja or zh.
        let none = Floors { min_letters: 3, min_confidence: 0.0 };
        let p = LangId::get().identify("\u{20000}\u{20001}\u{20002}\u{20003}", &[], none);
        assert_eq!(p.confidence, 0.5);
        // An unknown name beside known words changes no language's lead.
        let a = LangId::get().identify("el perro", &["es", "pt"], none);
        let b = LangId::get().identify("el perro Zqxwvj", &["es", "pt"], none);
        assert_eq!(a.lang, b.lang);
    }

    #[test]
    fn floors_and_allowlist() {
        assert_eq!(id("ok"), "und");
        assert_eq!(id("12345 !!!"), "und");
        let p = LangId::get().identify("안녕하세요 반갑습니다", &["en", "es"], Floors::default());
        assert_eq!(p.lang, "und");
        let p = LangId::get().identify("El tiempo es muy bueno hoy.", &["es", "pt"], Floors::default());
        assert_eq!(p.lang, "es");
    }
}

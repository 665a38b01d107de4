//! Thin PyO3 bindings: convert buffers, release the GIL, call the core.
//!
//! Strings cross the boundary as two `bytes` objects per column (UTF-8 data and little-endian
//! i64 offsets: an Arrow large-string array's layout), built once from a list of `str` by
//! `column_from_list`; results come back as `bytes` of little-endian integers, which Python views
//! with numpy. No per-item Python objects are made.
//!
//! Settings cross as typed objects with named fields (`NearDupOptions`, `LangIdOptions`) or as
//! keyword-only arguments; every default is the core's (`NearDupParams::DEFAULT`,
//! `Floors::DEFAULT`), declared there once and read by Python from `NearDupOptions()` and
//! `LangIdOptions()`. `python/clt_kit/_prep.pyi` describes this module; tests/test_stub.py checks it.

use crate::column::{ColumnError, StrColumn};
use crate::langid::{Floors, LangId};
use crate::minhash::NearDupParams;
use crate::shingle::{jaccard, shingle_set, ShingleParams};
use crate::{dedup, hashing, minhash, normalize, sample};
use pyo3::create_exception;
use pyo3::exceptions::{PyIOError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};

create_exception!(_prep, SampleSizeError, PyValueError, "A group was asked for more documents than it has; args = (group, asked, available).");

const NEAR: NearDupParams = NearDupParams::DEFAULT;
const FLOORS: Floors = Floors::DEFAULT;

/// MinHash + LSH settings of `near_dedup` (all recorded in manifests), checked when made. Every
/// argument is keyword-only and defaults to the core's value: `NearDupOptions()` holds the defaults.
#[pyclass(module = "clt_kit._prep", frozen, eq, get_all, from_py_object)]
#[derive(Clone, Copy, PartialEq)]
struct NearDupOptions {
    num_perm: usize,
    bands: usize,
    rows: usize,
    seed: u64,
    word_n: usize,
    char_n: usize,
    threshold: f64,
    verify: bool,
}

impl NearDupOptions {
    fn params(&self) -> NearDupParams {
        NearDupParams {
            num_perm: self.num_perm,
            bands: self.bands,
            rows: self.rows,
            seed: self.seed,
            shingle: ShingleParams { word_n: self.word_n, char_n: self.char_n },
            threshold: self.threshold,
            verify: self.verify,
        }
    }
}

#[pymethods]
impl NearDupOptions {
    #[new]
    #[pyo3(signature = (*, num_perm=NEAR.num_perm, bands=NEAR.bands, rows=NEAR.rows, seed=NEAR.seed,
                        word_n=NEAR.shingle.word_n, char_n=NEAR.shingle.char_n, threshold=NEAR.threshold, verify=NEAR.verify))]
    #[allow(clippy::too_many_arguments)]
    fn new(num_perm: usize, bands: usize, rows: usize, seed: u64, word_n: usize, char_n: usize, threshold: f64, verify: bool) -> PyResult<Self> {
        let options = NearDupOptions { num_perm, bands, rows, seed, word_n, char_n, threshold, verify };
        options.params().validate().map_err(PyValueError::new_err)?;
        Ok(options)
    }

    fn __repr__(&self) -> String {
        format!(
            "NearDupOptions(num_perm={}, bands={}, rows={}, seed={}, word_n={}, char_n={}, threshold={:?}, verify={})",
            self.num_perm, self.bands, self.rows, self.seed, self.word_n, self.char_n, self.threshold,
            if self.verify { "True" } else { "False" }
        )
    }
}

/// Floors of `identify_languages` below which the answer is "und", checked when made. Every
/// argument is keyword-only and defaults to the core's value: `LangIdOptions()` holds the defaults.
#[pyclass(module = "clt_kit._prep", frozen, eq, get_all, from_py_object)]
#[derive(Clone, Copy, PartialEq)]
struct LangIdOptions {
    min_letters: usize,
    min_confidence: f64,
}

#[pymethods]
impl LangIdOptions {
    #[new]
    #[pyo3(signature = (*, min_letters=FLOORS.min_letters, min_confidence=FLOORS.min_confidence))]
    fn new(min_letters: usize, min_confidence: f64) -> PyResult<Self> {
        if !(0.0..=1.0).contains(&min_confidence) {
            return Err(PyValueError::new_err(format!("min_confidence {min_confidence} is not in [0, 1]")));
        }
        Ok(LangIdOptions { min_letters, min_confidence })
    }

    fn __repr__(&self) -> String {
        format!("LangIdOptions(min_letters={}, min_confidence={:?})", self.min_letters, self.min_confidence)
    }
}

fn offsets(buf: &[u8]) -> PyResult<Vec<i64>> {
    if buf.len() % 8 != 0 {
        return Err(PyValueError::new_err(format!(
            "offsets buffer of {} bytes is not a multiple of 8",
            buf.len()
        )));
    }
    Ok(buf
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect())
}

fn u32s(buf: &[u8]) -> PyResult<Vec<u32>> {
    if buf.len() % 4 != 0 {
        return Err(PyValueError::new_err("u32 buffer length is not a multiple of 4"));
    }
    Ok(buf
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect())
}

fn column<'a>(name: &str, data: &'a [u8], offs: &'a [i64]) -> PyResult<StrColumn<'a>> {
    StrColumn::new(data, offs).map_err(|e: ColumnError| PyValueError::new_err(format!("{name}: {e}")))
}

/// Little-endian bytes of a slice of plain integers or floats, as one `bytes` object.
fn le_bytes<T: Copy, const N: usize>(py: Python<'_>, items: &[T], f: fn(T) -> [u8; N]) -> Py<PyBytes> {
    #[cfg(target_endian = "little")]
    {
        debug_assert_eq!(std::mem::size_of::<T>(), N);
        let _ = f;
        // SAFETY: T is a plain number type of N bytes (u32, u128, f64) with no padding, and on a
        // little-endian target its memory already is its little-endian encoding.
        let raw = unsafe { std::slice::from_raw_parts(items.as_ptr() as *const u8, std::mem::size_of_val(items)) };
        PyBytes::new(py, raw).unbind()
    }
    #[cfg(not(target_endian = "little"))]
    {
        let mut out = Vec::with_capacity(items.len() * N);
        for &x in items {
            out.extend_from_slice(&f(x));
        }
        PyBytes::new(py, &out).unbind()
    }
}

/// The strings of a Python list as one UTF-8 buffer and i64 LE offsets (the layout every other
/// call takes). A first pass reads each string's UTF-8 (Python caches it in the string), a second
/// copies it straight into the bytes object returned.
#[pyfunction]
fn column_from_list(py: Python<'_>, rows: &Bound<'_, PyList>) -> PyResult<(Py<PyBytes>, Py<PyBytes>)> {
    let mut strings: Vec<Bound<'_, PyString>> = Vec::with_capacity(rows.len());
    let mut offsets: Vec<i64> = Vec::with_capacity(rows.len() + 1);
    offsets.push(0);
    let mut total = 0usize;
    for (i, item) in rows.iter().enumerate() {
        let s = item
            .cast_into::<PyString>()
            .map_err(|e| PyTypeError::new_err(format!("row {i} is not a str but {}", e.into_inner().get_type())))?;
        let utf8 = s.to_str().map_err(|e| PyValueError::new_err(format!("row {i} has no UTF-8 form: {e}")))?;
        total += utf8.len();
        offsets.push(total as i64);
        strings.push(s);
    }
    let data = PyBytes::new_with(py, total, |buf| {
        for (s, span) in strings.iter().zip(offsets.windows(2)) {
            buf[span[0] as usize..span[1] as usize].copy_from_slice(s.to_str()?.as_bytes());
        }
        Ok(())
    })?;
    Ok((data.unbind(), le_bytes(py, &offsets, i64::to_le_bytes)))
}

/// Normalize one text under the dedup profile.
#[pyfunction]
fn normalize_text(text: &str) -> String {
    normalize::normalize(text)
}

/// Every text normalized under the dedup profile. Returns (data bytes, i64 LE offsets bytes).
#[pyfunction]
#[pyo3(signature = (text_data, text_offsets, *, threads=0))]
fn normalize_column(py: Python<'_>, text_data: &[u8], text_offsets: &[u8], threads: usize) -> PyResult<(Py<PyBytes>, Py<PyBytes>)> {
    let to = offsets(text_offsets)?;
    let texts = column("texts", text_data, &to)?;
    let col = py.detach(|| with_threads(threads, || normalize::normalize_column(texts)))?;
    Ok((PyBytes::new(py, &col.data).unbind(), le_bytes(py, &col.offsets, i64::to_le_bytes)))
}

/// Exact dedup of normalized texts (`normalize_column`). Returns (survivor u32 LE bytes,
/// 128-bit hashes as 16-byte LE records).
#[pyfunction]
#[pyo3(signature = (text_data, text_offsets, key_data, key_offsets, *, threads=0))]
fn exact_dedup(
    py: Python<'_>,
    text_data: &[u8],
    text_offsets: &[u8],
    key_data: &[u8],
    key_offsets: &[u8],
    threads: usize,
) -> PyResult<(Py<PyBytes>, Py<PyBytes>)> {
    let (to, ko) = (offsets(text_offsets)?, offsets(key_offsets)?);
    let texts = column("texts", text_data, &to)?;
    let keys = column("keys", key_data, &ko)?;
    if texts.len() != keys.len() {
        return Err(PyValueError::new_err("texts and keys differ in length"));
    }
    let result = py.detach(|| with_threads(threads, || dedup::exact_dedup(texts, keys)))?;
    Ok((
        le_bytes(py, &result.survivor, u32::to_le_bytes),
        le_bytes(py, &result.hashes, u128::to_le_bytes),
    ))
}

/// Nested sampling. `groups` is u32 LE bytes, `k` one entry per group (< 0: all).
/// Returns the selected row indices as u32 LE bytes, ordered by (group, ticket, key).
#[pyfunction]
#[pyo3(signature = (key_data, key_offsets, groups, *, k, seed, stage, threads=0))]
#[allow(clippy::too_many_arguments)]
fn sample_nested(
    py: Python<'_>,
    key_data: &[u8],
    key_offsets: &[u8],
    groups: &[u8],
    k: Vec<i64>,
    seed: u64,
    stage: &str,
    threads: usize,
) -> PyResult<Py<PyBytes>> {
    let ko = offsets(key_offsets)?;
    let keys = column("keys", key_data, &ko)?;
    let groups = u32s(groups)?;
    if groups.len() != keys.len() {
        return Err(PyValueError::new_err("keys and groups differ in length"));
    }
    if let Some(g) = groups.iter().find(|&&g| g as usize >= k.len()) {
        return Err(PyValueError::new_err(format!("group {g} has no k (k has {} entries)", k.len())));
    }
    match py.detach(|| with_threads(threads, || sample::sample_nested(keys, &groups, &k, seed, stage)))? {
        Ok(rows) => Ok(le_bytes(py, &rows, u32::to_le_bytes)),
        Err(e) => Err(SampleSizeError::new_err((e.group, e.asked, e.available))),
    }
}

/// Runs `f` on a private rayon pool of `threads` threads (0: rayon's default).
fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| PyValueError::new_err(format!("cannot start {threads} threads: {e}")))?;
    Ok(pool.install(f))
}

/// Near-duplicate clustering of normalized texts (`normalize_column`) within groups. `active` is
/// one byte per row (0: skip the row).
/// Returns (survivor u32 LE bytes, candidate pairs, accepted pairs).
#[pyfunction]
#[pyo3(signature = (text_data, text_offsets, key_data, key_offsets, groups, active, *, options, threads=0))]
#[allow(clippy::too_many_arguments)]
fn near_dedup(
    py: Python<'_>,
    text_data: &[u8],
    text_offsets: &[u8],
    key_data: &[u8],
    key_offsets: &[u8],
    groups: &[u8],
    active: &[u8],
    options: NearDupOptions,
    threads: usize,
) -> PyResult<(Py<PyBytes>, u64, u64)> {
    let (to, ko) = (offsets(text_offsets)?, offsets(key_offsets)?);
    let texts = column("texts", text_data, &to)?;
    let keys = column("keys", key_data, &ko)?;
    let groups = u32s(groups)?;
    if keys.len() != texts.len() || groups.len() != texts.len() || active.len() != texts.len() {
        return Err(PyValueError::new_err("texts, keys, groups and active differ in length"));
    }
    let active: Vec<bool> = active.iter().map(|&b| b != 0).collect();
    let params = options.params();
    let result = py.detach(|| with_threads(threads, || minhash::near_dedup(texts, keys, &groups, &active, &params)))?;
    Ok((le_bytes(py, &result.survivor, u32::to_le_bytes), result.candidate_pairs, result.accepted_pairs))
}

/// Language of each text among `allow` (empty: all), or of the rows listed in `rows` (u32 LE
/// bytes) when given. Returns (codes joined by "\n", confidences f64 LE).
#[pyfunction]
#[pyo3(signature = (text_data, text_offsets, *, allow, floors, threads=0, rows=None))]
fn identify_languages(
    py: Python<'_>,
    text_data: &[u8],
    text_offsets: &[u8],
    allow: Vec<String>,
    floors: LangIdOptions,
    threads: usize,
    rows: Option<&[u8]>,
) -> PyResult<(String, Py<PyBytes>)> {
    let to = offsets(text_offsets)?;
    let texts = column("texts", text_data, &to)?;
    let rows: Vec<u32> = match rows {
        Some(buf) => u32s(buf)?,
        None => (0..texts.len() as u32).collect(),
    };
    if let Some(&bad) = rows.iter().find(|&&r| r as usize >= texts.len()) {
        return Err(PyValueError::new_err(format!("row {bad} is out of range ({} texts)", texts.len())));
    }
    let allow: Vec<&str> = allow.iter().map(String::as_str).collect();
    let floors = Floors { min_letters: floors.min_letters, min_confidence: floors.min_confidence };
    let preds = py.detach(|| {
        with_threads(threads, || {
            use rayon::prelude::*;
            let model = LangId::get();
            rows.par_iter().map(|&i| model.identify(texts.get(i as usize), &allow, floors)).collect::<Vec<_>>()
        })
    })?;
    let codes = preds.iter().map(|p| p.lang).collect::<Vec<_>>().join("\n");
    let conf: Vec<f64> = preds.iter().map(|p| p.confidence).collect();
    Ok((codes, le_bytes(py, &conf, f64::to_le_bytes)))
}

/// (model name, sha256 of the model's embedded training text, known language codes).
#[pyfunction]
fn langid_model() -> (String, String, Vec<String>) {
    (
        crate::langid::MODEL_NAME.to_string(),
        LangId::get().model_sha256().to_string(),
        LangId::languages().into_iter().map(String::from).collect(),
    )
}

/// MinHash signatures of every text (num_perm u32 LE values per row), for benchmarks and tests.
#[pyfunction]
#[pyo3(signature = (text_data, text_offsets, *, num_perm=NEAR.num_perm, seed=NEAR.seed, word_n=NEAR.shingle.word_n,
                    char_n=NEAR.shingle.char_n, threads=0))]
#[allow(clippy::too_many_arguments)]
fn minhash_signatures(
    py: Python<'_>,
    text_data: &[u8],
    text_offsets: &[u8],
    num_perm: usize,
    seed: u64,
    word_n: usize,
    char_n: usize,
    threads: usize,
) -> PyResult<Py<PyBytes>> {
    let to = offsets(text_offsets)?;
    let texts = column("texts", text_data, &to)?;
    let perms = minhash::Permutations::new(num_perm, seed);
    let shingle = ShingleParams { word_n, char_n };
    // Written straight into the bytes object Python receives (no second copy of the output).
    let out = PyBytes::new_with(py, texts.len() * num_perm * 4, |bytes| {
        py.detach(|| {
            with_threads(threads, || {
                use rayon::prelude::*;
                if num_perm > 0 {
                    bytes.par_chunks_mut(num_perm * 4).enumerate().for_each_init(
                        || (minhash::Signer::default(), vec![0u32; num_perm]),
                        |(signer, sig), (i, row)| {
                            signer.sign(texts.get(i), &perms, shingle, sig);
                            for (dst, v) in row.chunks_exact_mut(4).zip(sig.iter()) {
                                dst.copy_from_slice(&v.to_le_bytes());
                            }
                        },
                    );
                }
            })
        })
    })?;
    Ok(out.unbind())
}

/// Exact Jaccard similarity of the shingle sets of two texts, normalized as near-dup sees them.
#[pyfunction]
#[pyo3(signature = (a, b, *, word_n=NEAR.shingle.word_n, char_n=NEAR.shingle.char_n))]
fn shingle_jaccard(a: &str, b: &str, word_n: usize, char_n: usize) -> f64 {
    let p = ShingleParams { word_n, char_n };
    jaccard(&shingle_set(&normalize::normalize(a), p), &shingle_set(&normalize::normalize(b), p))
}

/// SHA-256 (hex) of a file, streamed with the GIL released.
#[pyfunction]
fn sha256_file(py: Python<'_>, path: std::path::PathBuf) -> PyResult<String> {
    py.detach(|| hashing::sha256_file(&path))
        .map_err(|e| PyIOError::new_err(format!("{}: {e}", path.display())))
}

#[pymodule]
fn _prep(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("NORMALIZATION_PROFILE", normalize::PROFILE)?;
    m.add("SampleSizeError", m.py().get_type::<SampleSizeError>())?;
    m.add_class::<NearDupOptions>()?;
    m.add_class::<LangIdOptions>()?;
    m.add_function(wrap_pyfunction!(normalize_text, m)?)?;
    m.add_function(wrap_pyfunction!(column_from_list, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_column, m)?)?;
    m.add_function(wrap_pyfunction!(exact_dedup, m)?)?;
    m.add_function(wrap_pyfunction!(sample_nested, m)?)?;
    m.add_function(wrap_pyfunction!(sha256_file, m)?)?;
    m.add_function(wrap_pyfunction!(near_dedup, m)?)?;
    m.add_function(wrap_pyfunction!(identify_languages, m)?)?;
    m.add_function(wrap_pyfunction!(langid_model, m)?)?;
    m.add_function(wrap_pyfunction!(shingle_jaccard, m)?)?;
    m.add_function(wrap_pyfunction!(minhash_signatures, m)?)?;
    Ok(())
}

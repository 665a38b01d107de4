//! Thin PyO3 bindings: convert buffers, release the GIL, call the core.
//!
//! Strings cross the boundary as two `bytes` objects per column (UTF-8 data and little-endian
//! i64 offsets: an Arrow large-string array's buffers); results come back as `bytes` of
//! little-endian integers, which Python views with numpy. No per-item Python objects.

use crate::column::{ColumnError, StrColumn};
use crate::{dedup, hashing, normalize, sample};
use pyo3::create_exception;
use pyo3::exceptions::{PyIOError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

create_exception!(_prep, SampleSizeError, PyValueError, "A group was asked for more documents than it has; args = (group, asked, available).");

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

fn le_bytes<T: Copy, const N: usize>(py: Python<'_>, items: &[T], f: fn(T) -> [u8; N]) -> Py<PyBytes> {
    let mut out = Vec::with_capacity(items.len() * N);
    for &x in items {
        out.extend_from_slice(&f(x));
    }
    PyBytes::new(py, &out).unbind()
}

/// Normalize one text under the dedup profile.
#[pyfunction]
fn normalize_text(text: &str) -> String {
    normalize::normalize(text)
}

/// Exact dedup. Returns (survivor u32 LE bytes, 128-bit hashes as 16-byte LE records).
#[pyfunction]
fn exact_dedup(
    py: Python<'_>,
    text_data: &[u8],
    text_offsets: &[u8],
    key_data: &[u8],
    key_offsets: &[u8],
) -> PyResult<(Py<PyBytes>, Py<PyBytes>)> {
    let (to, ko) = (offsets(text_offsets)?, offsets(key_offsets)?);
    let texts = column("texts", text_data, &to)?;
    let keys = column("keys", key_data, &ko)?;
    if texts.len() != keys.len() {
        return Err(PyValueError::new_err("texts and keys differ in length"));
    }
    let result = py.detach(|| dedup::exact_dedup(texts, keys));
    Ok((
        le_bytes(py, &result.survivor, u32::to_le_bytes),
        le_bytes(py, &result.hashes, u128::to_le_bytes),
    ))
}

/// Nested sampling. `groups` is u32 LE bytes, `k` one entry per group (< 0: all).
/// Returns the selected row indices as u32 LE bytes, ordered by (group, ticket, key).
#[pyfunction]
fn sample_nested(
    py: Python<'_>,
    key_data: &[u8],
    key_offsets: &[u8],
    groups: &[u8],
    k: Vec<i64>,
    seed: u64,
    stage: &str,
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
    match py.detach(|| sample::sample_nested(keys, &groups, &k, seed, stage)) {
        Ok(rows) => Ok(le_bytes(py, &rows, u32::to_le_bytes)),
        Err(e) => Err(SampleSizeError::new_err((e.group, e.asked, e.available))),
    }
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
    m.add_function(wrap_pyfunction!(normalize_text, m)?)?;
    m.add_function(wrap_pyfunction!(exact_dedup, m)?)?;
    m.add_function(wrap_pyfunction!(sample_nested, m)?)?;
    m.add_function(wrap_pyfunction!(sha256_file, m)?)?;
    Ok(())
}

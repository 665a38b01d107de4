//! clt-prep: the deterministic data-prep core of clt-kit.
//!
//! Everything here is plain Rust and is tested with `cargo test`; the Python bindings live in
//! `python.rs` behind the `python` feature and only convert buffers.
//!
//! Data arrives in bulk as a [`StrColumn`]: one UTF-8 buffer plus offsets, the layout of an Arrow
//! large-string array. Every function is deterministic: results depend on the content of the
//! documents and their stable keys, never on input order or on the number of threads.

pub mod column;
pub mod dedup;
pub mod hashing;
pub mod langid;
pub mod minhash;
pub mod normalize;
pub mod sample;
pub mod shingle;

#[cfg(feature = "python")]
mod python;

pub use column::{ColumnError, StrColumn};
pub use dedup::{exact_dedup, Dedup};
pub use langid::{Floors, LangId, Prediction};
pub use minhash::{near_dedup, NearDedup, NearDupParams};
pub use normalize::{normalize, PROFILE};
pub use sample::{sample_nested, SampleError};

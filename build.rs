//! Feature detection at build time: the AVX-512 MinHash path needs rustc 1.89 or newer (where the
//! `avx512f` target feature is stable). Older compilers, such as Debian trixie's 1.85, build the
//! AVX2 and portable paths only; all paths compute the same integers.

use std::process::Command;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(clt_avx512)");
    println!("cargo:rerun-if-env-changed=RUSTC");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc).arg("--version").output().ok().and_then(|o| String::from_utf8(o.stdout).ok());
    // "rustc 1.95.0 (f2d3ce0bd 2026-03-21)" -> 95
    let minor = version.as_deref().and_then(|v| v.split_whitespace().nth(1)).and_then(|v| v.split('.').nth(1)).and_then(|m| m.parse::<u32>().ok());
    if minor.is_some_and(|m| m >= 89) {
        println!("cargo:rustc-cfg=clt_avx512");
    }
}

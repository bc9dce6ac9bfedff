//! Links the release binary with the daemon's functions side by side
//! (docs/architecture.md, "The daemon's memory"): `link/daemon.order`
//! lists the functions the daemon runs, and the linker places them first,
//! in one run of pages. The kernel maps a binary's code 64 KiB or a whole
//! page-cache folio at a time, so a few hundred small functions scattered
//! through 6 MB of code cost the daemon 2-3 MB of resident pages; together
//! they cost a few hundred kB.
//!
//! Only where the linker is known to take the list: rustc's own lld, the
//! default linker of x86_64-unknown-linux-gnu since Rust 1.90, with no
//! other linker configured. Anywhere else the binary is linked as usual:
//! the same program, with more resident pages. A name in the list that no
//! longer exists (a function renamed, another compiler) is skipped
//! without a word; `benches/link-order.sh` writes the list again.

use std::env;
use std::process::Command;

const ORDER: &str = "link/daemon.order";

fn main() {
    println!("cargo:rerun-if-changed={ORDER}");
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER",
        "RUSTC_LINKER",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    if env::var("PROFILE").as_deref() != Ok("release") || !rust_lld() {
        return;
    }
    let order = format!(
        "{}/{ORDER}",
        env::var("CARGO_MANIFEST_DIR").unwrap_or_default()
    );
    if !std::path::Path::new(&order).exists() {
        return;
    }
    println!("cargo:rustc-link-arg-bin=kron=-Wl,--symbol-ordering-file={order}");
    println!("cargo:rustc-link-arg-bin=kron=-Wl,--no-warn-symbol-ordering");
}

/// Whether rustc links this build with its own lld.
fn rust_lld() -> bool {
    let target = env::var("TARGET").unwrap_or_default();
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let other_linker = flags.contains("linker")
        || flags.contains("link-self-contained")
        || flags.contains("fuse-ld")
        || env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some()
        || env::var_os("RUSTC_LINKER").is_some();
    target == "x86_64-unknown-linux-gnu" && !other_linker && rustc_minor().is_some_and(|m| m >= 90)
}

/// The minor version of the rustc building this (`rustc 1.95.0 (...)`).
fn rustc_minor() -> Option<u32> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let version = text.split_whitespace().nth(1)?;
    let mut parts = version.split('.');
    (parts.next()? == "1").then_some(())?;
    parts.next()?.parse().ok()
}

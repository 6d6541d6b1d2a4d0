//! Digests the sources that compute frames' partial results (the `frame`
//! module and the memory maps it reads through) into `PIPELINE_FRAME_SOURCES`:
//! a partial result recorded by other code is never reused.

use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};

fn main() {
    // Literal declarations: the code fingerprint of a pipeline that depends
    // on this crate by path reads them to know which files this script reads.
    println!("cargo:rerun-if-changed=src/frame.rs");
    println!("cargo:rerun-if-changed=src/frame");
    println!("cargo:rerun-if-changed=../pipeline-mmap/src");
    let roots = ["src/frame.rs", "src/frame", "../pipeline-mmap/src"];
    let mut files = Vec::new();
    for root in roots {
        collect(Path::new(root), &mut files);
    }
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in &files {
        hasher.write(file.to_string_lossy().as_bytes());
        hasher.write(&std::fs::read(file).unwrap_or_default());
    }
    println!(
        "cargo:rustc-env=PIPELINE_FRAME_SOURCES={}-{:016x}",
        files.len(),
        hasher.finish()
    );
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            collect(&entry.path(), files);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        files.push(path.to_owned());
    }
}

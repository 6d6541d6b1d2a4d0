//! Digests the sources that compute frames' partial results (the `frame`
//! module and the memory maps it reads through) into `PIPELINE_FRAME_SOURCES`:
//! a partial result recorded by other code is never reused.

use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};

fn main() {
    let roots = [
        PathBuf::from("src/frame.rs"),
        PathBuf::from("src/frame"),
        PathBuf::from("../pipeline-mmap/src"),
    ];
    let mut files = Vec::new();
    for root in &roots {
        if root.exists() {
            println!("cargo:rerun-if-changed={}", root.display());
            collect(root, &mut files);
        }
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

//! Read-only memory maps of files, for `pipeline-core`: the only `unsafe`
//! code of the workspace, kept here so that `pipeline-core` and
//! `pipeline-macros` can `#![forbid(unsafe_code)]`.
//!
//! Mapping a file is `unsafe` in Rust because the bytes a map shows belong to
//! the file, not to the process: if another process truncates the file while
//! it is mapped, reading the lost pages kills the reader with `SIGBUS`, and if
//! it rewrites the file in place, bytes the program holds as `&[u8]` change
//! under it. No library can prevent either; the functions here are safe to
//! call because the files `pipeline-core` maps are not changed while they are
//! mapped:
//!
//! - [`FileMap`] maps a CSV file a user's task names as its input, for the
//!   parallel CSV reader. Input files are not expected to change under a
//!   running task (the same assumption polars makes when it maps a file);
//!   one that is truncated meanwhile ends the process with `SIGBUS`.
//! - [`map_fixed_width_ipc`] (feature `polars`) maps a frame file of the
//!   embedded store. Such files are content-addressed and immutable: the
//!   store writes a new file and renames it into place, never writing into an
//!   existing one, and `pipeline-core` maps only files a store vouches for
//!   (checked against their content hash, unchanged since) or that this
//!   process wrote into its own scratch directory.
//! - [`MappedBatches`] (feature `polars`) maps the same files, for reading
//!   one too large for memory a few record batches at a time, each batch's
//!   pages given back ([`FileMap::release`]) once read.
//!
//! What none of them protects against: another process truncating or
//! rewriting a mapped file in place (by hand, or a tool that does not write
//! atomically). A program can at least say so: [`explain_sigbus`] makes the
//! `SIGBUS` that follows end the process with a message and exit code 135.
//!
//! One call here maps nothing: [`start_writeback`] asks the system to start
//! writing a file's changed pages to disk (`sync_file_range`), which the
//! standard library does not offer; it reads and writes no memory of the
//! process.
//!
//! ```
//! use std::io::Write;
//! let mut file = tempfile::tempfile()?;
//! file.write_all(b"a,b\n1,2\n")?;
//! let map = pipeline_mmap::FileMap::open(&file)?;
//! assert_eq!(&map[..], b"a,b\n1,2\n");
//! # Ok::<(), std::io::Error>(())
//! ```

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod file_map;
#[cfg(feature = "polars")]
mod ipc;
#[cfg(feature = "polars")]
mod ipc_batches;
mod sigbus;
mod writeback;

pub use file_map::FileMap;
#[cfg(feature = "polars")]
pub use ipc::{is_fixed_width, map_fixed_width_ipc};
#[cfg(feature = "polars")]
pub use ipc_batches::MappedBatches;
pub use sigbus::{SIGBUS_EXIT_CODE, explain_sigbus};
pub use writeback::start_writeback;

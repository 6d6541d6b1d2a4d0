//! Procedural macros for `pipeline-core` (work in progress in this commit).

//! Tests that drive the demo through the framework's outer parts: the web
//! view in a real browser, and the demo's tasks as Slurm jobs. They live in a
//! package of their own so that the UI tests of `pipeline-tests` compile
//! without polars. This library is empty on purpose.

//! Paths used by generated code (`::pipeline_core::__private::…`).

pub use crate::task::expect_input;

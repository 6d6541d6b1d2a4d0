//! Loops compiled twice: for the baseline CPU and for AVX-512, chosen when
//! the function is called.
//!
//! The release build targets plain x86-64 (SSE2), so that the binary runs on
//! any x86-64 CPU. On that target the compiler vectorizes simple loops only
//! two doubles wide, and not at all those that convert `i64` to `f64` or turn
//! 32-bit codes into 64-bit masks. [`wide!`](crate::wide!) compiles a
//! function's body a second time with AVX-512 enabled (eight doubles, masked
//! selects, `i64` conversion) and calls that copy when the CPU has it.

/// Defines a function whose body is compiled for the baseline CPU and again
/// with AVX-512 (F, DQ, VL, BW) enabled, the latter called when the CPU has
/// those features (detected once, then cached by the standard library).
///
/// ```
/// customer_analysis::wide! {
///     /// Adds `x` to every value.
///     fn add_to_all(xs: &mut [f64], x: f64) {
///         for value in xs {
///             *value += x;
///         }
///     }
/// }
/// let mut xs = [1.0, 2.0];
/// add_to_all(&mut xs, 0.5);
/// assert_eq!(xs, [1.5, 2.5]);
/// ```
#[macro_export]
macro_rules! wide {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw")]
                fn avx512($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if !$crate::wide::baseline_only()
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                {
                    // SAFETY: the CPU has the features `avx512` is compiled for.
                    return unsafe { avx512($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

static BASELINE_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes [`wide!`](crate::wide!) functions run their baseline copy even on a
/// CPU with AVX-512 (`true`), or pick again (`false`): so that tests on such
/// a CPU check both copies. Both compute the same results.
pub fn set_baseline_only(baseline_only: bool) {
    BASELINE_ONLY.store(baseline_only, std::sync::atomic::Ordering::Relaxed);
}

/// Whether [`set_baseline_only`] asked for the baseline copies.
pub fn baseline_only() -> bool {
    BASELINE_ONLY.load(std::sync::atomic::Ordering::Relaxed)
}

//! A panic in a task's body: the executor (local threads, and a remote
//! executor's worker) catches it and records it as the job's error, with
//! where it happened (`panicked at src/lib.rs:12:5: the message`).
//!
//! Where it happened is known only to a panic hook: a program installs
//! [`hook`] (the CLI and the worker do) to have it recorded. The CLI's hook
//! also keeps such a panic from printing Rust's panic message on stderr, the
//! job's error being what the user sees; a panic anywhere else (a bug of the
//! framework's) is reported as before. A thread-local flag, set while a
//! task's body runs on the thread ([`catch`]), tells the two apart.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, PanicHookInfo, catch_unwind};

use crate::task::panic_message;

/// A panic hook, as `std::panic::set_hook` takes it (the CLI's and the
/// worker's).
#[cfg_attr(not(any(feature = "cli", feature = "remote")), allow(dead_code))]
pub(crate) type Hook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

thread_local! {
    /// Whether this thread is running a task's body.
    static IN_BODY: Cell<bool> = const { Cell::new(false) };
    /// Where the last panic of a task's body on this thread happened, as
    /// [`hook`] saw it.
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs a task's body: its result, or, if it panicked, the job's error:
/// `panicked at FILE:LINE:COLUMN: the message` where a [`hook`] recorded
/// where (and the message does not say it already), else `panicked: the
/// message`.
pub(crate) fn catch<R>(body: impl FnOnce() -> R) -> Result<R, String> {
    LOCATION.with(|location| location.borrow_mut().take());
    let outer = IN_BODY.with(|flag| flag.replace(true));
    let result = catch_unwind(AssertUnwindSafe(body));
    IN_BODY.with(|flag| flag.set(outer));
    result.map_err(|payload| {
        let message = panic_message(payload.as_ref());
        match LOCATION.with(|location| location.borrow_mut().take()) {
            Some(location) if !message.contains(&location) => {
                format!("panicked at {location}: {message}")
            }
            _ => format!("panicked: {message}"),
        }
    })
}

/// Whether this thread is running a task's body (inside [`catch`]).
#[cfg_attr(not(any(feature = "cli", feature = "remote")), allow(dead_code))]
pub(crate) fn in_task_body() -> bool {
    IN_BODY.try_with(Cell::get).unwrap_or(false)
}

/// A panic hook that records where a panic of a task's body happened, for
/// the job's error, then, unless `quiet`, hands it to `report` as it hands
/// every other panic (`report`: the hook in place before, usually).
#[cfg_attr(not(any(feature = "cli", feature = "remote")), allow(dead_code))]
pub(crate) fn hook(report: Hook, quiet: bool) -> Hook {
    Box::new(move |info| {
        if in_task_body() {
            if let Some(location) = info.location() {
                let _ = LOCATION.try_with(|slot| *slot.borrow_mut() = Some(location.to_string()));
            }
            if quiet {
                return;
            }
        }
        report(info);
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn a_panicking_body_becomes_an_error_with_its_message() {
        let error = catch::<()>(|| std::panic::resume_unwind(Box::new("disk on fire")));
        assert_eq!(error, Err("panicked: disk on fire".to_owned()));
        assert_eq!(catch(|| 7), Ok(7));
        assert!(!in_task_body(), "the flag is down after the body");
    }

    #[test]
    fn the_hook_records_where_a_body_panicked_and_reports_only_other_panics() {
        static IN_BODY_REPORTED: AtomicUsize = AtomicUsize::new(0);
        static OTHERS_REPORTED: AtomicUsize = AtomicUsize::new(0);
        // For the whole test binary: other tests' panics go on to the hook
        // in place, and other tests' bodies gain a location in their error.
        let previous = std::panic::take_hook();
        std::panic::set_hook(hook(
            Box::new(move |info| {
                match panic_message(info.payload()).as_str() {
                    "boom in a body" => IN_BODY_REPORTED.fetch_add(1, Ordering::SeqCst),
                    "a framework bug" => OTHERS_REPORTED.fetch_add(1, Ordering::SeqCst),
                    _ => 0,
                };
                previous(info);
            }),
            true,
        ));
        let line = line!() + 1;
        let error = catch::<()>(|| panic!("boom in a body")).unwrap_err();
        let at = format!("panicked at {}:{line}:", file!());
        assert!(
            error.starts_with(&at) && error.ends_with(": boom in a body"),
            "{error}"
        );
        assert_eq!(IN_BODY_REPORTED.load(Ordering::SeqCst), 0, "quiet");
        assert!(std::panic::catch_unwind(|| panic!("a framework bug")).is_err());
        assert_eq!(OTHERS_REPORTED.load(Ordering::SeqCst), 1, "reported");
    }
}

//! [`explain_sigbus`]: a message instead of a bare "Bus error" when a mapped
//! file is truncated under the process.

/// What the process says on stderr before it exits on `SIGBUS`.
#[cfg(target_os = "linux")]
const MESSAGE: &[u8] = b"error: stopped by SIGBUS: a file this process had mapped (a CSV input \
or a stored frame) was truncated or rewritten in place while it was read. Nothing was \
recorded for the tasks that were running, and earlier versions are intact. Replace an input \
file by writing a new file and renaming it over the old one (`mv`), then run again.\n";

/// The exit code on `SIGBUS`: 128 + the signal's number, as a shell reports
/// a process the signal ended.
pub const SIGBUS_EXIT_CODE: i32 = 135;

/// Makes a `SIGBUS` (on Linux, what reading a mapped file's lost pages
/// raises once another process truncated it: see the [crate] docs) end
/// the process with a message on stderr that says so and what to do, and
/// exit code [`SIGBUS_EXIT_CODE`], instead of a bare "Bus error". For
/// programs (the command line calls it at start); a library leaves signals
/// to its program. Calling it again changes nothing; elsewhere than Linux it
/// does nothing.
///
/// On Linux the standard library's own handler (stack overflows) is on
/// `SIGSEGV`, not `SIGBUS`, so nothing else is replaced.
pub fn explain_sigbus() {
    #[cfg(target_os = "linux")]
    {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(install);
    }
}

#[cfg(target_os = "linux")]
fn install() {
    // SAFETY: a zeroed `sigaction` is a valid value (no flags, an empty
    // mask before `sigemptyset` fills it); the handler set calls only
    // async-signal-safe functions (`write`, `_exit`); the pointers given are
    // to this stack frame's struct and null for the old action.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
    }
}

#[cfg(target_os = "linux")]
extern "C" fn on_sigbus(_signal: libc::c_int) {
    // SAFETY: `write` and `_exit` are async-signal-safe; `MESSAGE` is a
    // static byte string of the length given. Returning would retry the
    // faulting read, so the handler ends the process.
    unsafe {
        libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
        libc::_exit(SIGBUS_EXIT_CODE);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Write;

    /// The child: maps a file, truncates it, reads the lost page.
    #[test]
    fn child_reads_a_truncated_map() {
        let Ok(path) = std::env::var("PIPELINE_MMAP_SIGBUS_CHILD") else {
            return;
        };
        explain_sigbus();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let map = crate::FileMap::open(&file).unwrap();
        file.set_len(0).unwrap();
        let byte = std::hint::black_box(map[8192]);
        panic!("read {byte} from a truncated map without SIGBUS");
    }

    #[test]
    fn a_truncated_map_ends_the_process_with_a_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input.csv");
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(&[b'x'; 3 * 4096]).unwrap();
        drop(file);
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sigbus::tests::child_reads_a_truncated_map",
                "--nocapture",
            ])
            .env("PIPELINE_MMAP_SIGBUS_CHILD", &path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(SIGBUS_EXIT_CODE), "{stderr}");
        assert!(
            stderr.contains("error: stopped by SIGBUS: a file this process had mapped"),
            "{stderr}"
        );
    }
}

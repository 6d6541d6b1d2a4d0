//! `serve`, the framework CLI's web view, as a user starts it: a new process
//! of the `shipping` binary on a store another process filled, answered over
//! a real port.

mod cli_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Stdio};

use cli_support::{ok, shipping, shipping_command, text};
use serde_json::Value as Json;

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A GET over a plain socket; the status code and the body (de-chunked).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let chunked = head
        .lines()
        .any(|line| line.eq_ignore_ascii_case("transfer-encoding: chunked"));
    (
        status,
        if chunked {
            unchunk(body)
        } else {
            body.to_owned()
        },
    )
}

/// Decodes a chunked body.
fn unchunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        out.push_str(&tail[..size]);
        rest = &tail[size + 2..];
    }
    out
}

/// `serve --json` on a free port of the store: the running server (stopped
/// when dropped), the object it printed first, and the address it bound.
fn serve(store: &std::path::Path) -> (Server, Json, SocketAddr) {
    let child = shipping_command(store, &["serve", "--addr", "127.0.0.1:0", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let mut line = String::new();
    BufReader::new(server.0.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let started: Json = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("serve --json prints one object ({e}): {line:?}"));
    let addr: SocketAddr = started["addr"].as_str().unwrap().parse().unwrap();
    (server, started, addr)
}

#[test]
fn serve_shows_the_scenarios_a_previous_process_ran() {
    let store = tempfile::tempdir().unwrap();
    ok(store.path(), &["run", "--scenario", "spring"]);

    let (_server, started, addr) = serve(store.path());
    assert!(addr.ip().is_loopback(), "{started}");
    assert_ne!(addr.port(), 0, "the bound port is reported: {started}");

    let (status, body) = get(addr, "/api/scenarios");
    assert_eq!(status, 200, "{body}");
    let scenarios: Json = serde_json::from_str(&body).unwrap();
    let listed = scenarios["scenarios"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{scenarios}");
    assert_eq!(listed[0]["name"], "spring");
    assert_eq!(listed[0]["type"], "Shipping");
    assert_eq!(listed[0]["last_submission"]["status"], "completed");

    let (status, page) = get(addr, "/scenarios");
    assert_eq!(status, 200);
    assert!(page.contains("spring"), "{page}");
}

#[test]
fn serve_compares_with_the_comparators_the_program_registered() {
    // The shipping example registers a comparator on `heaviest`: the CLI's
    // `compare` and the web view's compare page both say what it says.
    let store = tempfile::tempdir().unwrap();
    ok(store.path(), &["run", "--scenario", "spring"]);
    ok(
        store.path(),
        &["run", "--scenario", "autumn", "--set", "weights=[9.5, 0.2]"],
    );
    let said = "heaviest parcels differ by 6.0 kg";
    let cli = ok(store.path(), &["compare", "spring", "autumn"]);
    assert!(cli.contains(said), "{cli}");

    let (_server, _, addr) = serve(store.path());
    let (status, body) = get(addr, "/api/compare?s=1&s=2");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(said), "{body}");
    let (status, page) = get(addr, "/compare?s=1&s=2");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(said), "{page}");
}

#[test]
fn serve_on_an_address_in_use_exits_2_naming_it() {
    let store = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = shipping(store.path(), &["serve", "--addr", &addr]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&addr), "{stderr}");
    assert!(stderr.contains("--addr"), "{stderr}");
}

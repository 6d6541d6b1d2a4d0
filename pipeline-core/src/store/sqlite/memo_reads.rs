//! Memo lookups sharing a read transaction.
//!
//! A submission looks up the memo for every task whose outputs are not
//! current: on a first run, thousands of misses. In WAL mode, each read
//! transaction takes and releases a read lock in shared memory, which costs
//! more than the B-tree lookup itself; so lookups share one transaction on a
//! connection of their own. The transaction is held at most [`SPAN`] (a long
//! one would keep the log from being checkpointed and hide other processes'
//! new entries), never across a fold by this process (its entries leave the
//! overlay then, and must be found in the table), and it ends when the
//! submission is recorded. A lookup that finds the connection busy (another
//! thread's lookup) uses a pooled connection instead of waiting.

use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension};

/// The longest a read transaction is shared.
const SPAN: Duration = Duration::from_millis(2);

const LOOKUP: &str = "SELECT outputs FROM memo WHERE task_key = ?1";

/// The shared connection and its open transaction, if any.
#[derive(Default)]
pub(super) struct MemoReads {
    session: Mutex<Option<Session>>,
}

struct Session {
    conn: Connection,
    /// When the transaction began, and the fold generation it saw.
    open: Option<(Instant, u64)>,
}

impl MemoReads {
    /// The packed outputs of the memo entry `key`, read in the shared
    /// transaction; `None` (the caller reads on a pooled connection) if
    /// another thread is reading or the lookup failed. `connect` opens the
    /// connection on first use; `generation` counts this process's folds.
    pub(super) fn lookup(
        &self,
        key: &[u8],
        generation: u64,
        connect: impl FnOnce() -> Option<Connection>,
    ) -> Option<Option<Vec<u8>>> {
        let mut slot = self.session.try_lock()?;
        if slot.is_none() {
            *slot = Some(Session {
                conn: connect()?,
                open: None,
            });
        }
        let session = slot.as_mut().expect("connected above");
        let result = session.lookup(key, generation);
        if result.is_none() {
            // Something is wrong with the connection: start afresh next time.
            *slot = None;
        }
        result
    }

    /// Ends the shared transaction (a submission was recorded).
    pub(super) fn end(&self) {
        if let Some(session) = self.session.lock().as_mut() {
            session.end();
        }
    }
}

impl Session {
    fn lookup(&mut self, key: &[u8], generation: u64) -> Option<Option<Vec<u8>>> {
        if let Some((since, seen)) = self.open
            && (seen != generation || since.elapsed() >= SPAN)
        {
            self.end();
        }
        if self.open.is_none() {
            self.conn.execute_batch("BEGIN").ok()?;
            self.open = Some((Instant::now(), generation));
        }
        self.conn
            .prepare_cached(LOOKUP)
            .and_then(|mut q| q.query_row([key], |r| r.get::<_, Vec<u8>>(0)).optional())
            .ok()
    }

    fn end(&mut self) {
        if self.open.take().is_some() {
            let _ = self.conn.execute_batch("COMMIT");
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.end();
    }
}

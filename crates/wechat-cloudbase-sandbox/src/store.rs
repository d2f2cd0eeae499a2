//! The state database of `SandboxConfig::state_file`: the shared pairs in one redb table, changed
//! only by one writer thread, which commits the changes that arrive together in one write
//! transaction (group commit, one fsync per batch), then updates the in-memory view, then answers
//! each change. Reads never touch the database: they read the in-memory view, which always equals
//! what was last committed.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, Weak};

use redb::{Database, ReadableTable, TableDefinition, TableHandle};

use crate::Shared;
use crate::state::Pair;

/// The shared pairs, keyed by (`source_type`, env, appid); no value.
const PAIRS: TableDefinition<(i32, &str, &str), ()> = TableDefinition::new("shared_pairs");

/// The most changes committed in one transaction.
const MAX_BATCH: usize = 4096;

/// A change of the shared pairs.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    /// Share each pair (one already shared stays shared).
    Share(Vec<Pair>),
    /// Unshare each pair (one not shared stays not shared).
    Unshare(Vec<Pair>),
}

impl Change {
    fn pairs(&self) -> &[Pair] {
        match self {
            Change::Share(pairs) | Change::Unshare(pairs) => pairs,
        }
    }
}

/// For each pair of a change, in order, whether it changed what is shared: a share that was not
/// shared before, an unshare that was shared.
pub(crate) type Applied = Vec<bool>;

/// Why a change was not saved (and so not made): its transaction did not commit.
#[derive(Debug, Clone)]
pub(crate) struct SaveError(pub(crate) String);

impl std::fmt::Display for SaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Applies `change` to `shared` in memory; see [`Applied`].
pub(crate) fn apply(shared: &mut BTreeSet<Pair>, change: Change) -> Applied {
    match change {
        Change::Share(pairs) => pairs.into_iter().map(|pair| shared.insert(pair)).collect(),
        Change::Unshare(pairs) => pairs.iter().map(|pair| shared.remove(pair)).collect(),
    }
}

/// Where the writer sends the outcome of a change.
enum Reply {
    /// To an async request handler.
    Async(tokio::sync::oneshot::Sender<Result<Applied, SaveError>>),
    /// To a thread that blocks until the change is saved (the test helpers of `Sandbox`).
    Blocking(mpsc::SyncSender<Result<Applied, SaveError>>),
}

impl Reply {
    fn send(self, outcome: Result<Applied, SaveError>) {
        // The requester may be gone (its connection closed); the change stands all the same.
        let _ = match self {
            Reply::Async(tx) => tx.send(outcome).map_err(drop),
            Reply::Blocking(tx) => tx.send(outcome).map_err(drop),
        };
    }
}

enum Message {
    Change(Change, Reply),
    /// Commit what came before, then close the database.
    Close,
}

/// The open state database and its writer thread.
#[derive(Debug)]
pub(crate) struct Store {
    path: PathBuf,
    tx: mpsc::Sender<Message>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Test hook: abort every transaction instead of committing it.
    pub(crate) fail_commits: std::sync::Arc<AtomicBool>,
}

/// The database at `path`, opened (created if missing) and checked writable by a first
/// transaction, with the pairs it holds. When it holds no pairs table yet (a new database),
/// `seeds()` are written in that transaction.
///
/// # Errors
/// An I/O error naming `path` and the reason: it cannot be created, opened, locked (another
/// process has it open: `WouldBlock`) or written, or it is not a redb database.
pub(crate) fn open(
    path: &Path,
    seeds: impl FnOnce() -> BTreeSet<Pair>,
) -> std::io::Result<(Database, BTreeSet<Pair>)> {
    let shown = path.display();
    let db = Database::create(path).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            format!(
                "the state file `{shown}` is already open in another sandbox (one process per file): stop \
                 that one or choose another file"
            ),
        ),
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if !matches!(io.kind(), std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof) =>
        {
            std::io::Error::new(io.kind(), format!("cannot open the state file `{shown}`: {io}"))
        }
        other => std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "cannot open the state file `{shown}`: {other} (it must be a sandbox state database; a \
                 JSON file of pairs is loaded with --seed-file)"
            ),
        ),
    })?;
    let cannot_write =
        |e: redb::Error| std::io::Error::other(format!("cannot write the state file `{shown}`: {e}"));
    let txn = db.begin_write().map_err(|e| cannot_write(e.into()))?;
    let is_new = !txn.list_tables().map_err(|e| cannot_write(e.into()))?.any(|t| t.name() == PAIRS.name());
    let mut pairs = BTreeSet::new();
    {
        let mut table = txn.open_table(PAIRS).map_err(|e| cannot_write(e.into()))?;
        if is_new {
            for pair in seeds() {
                table
                    .insert((pair.source_type, pair.env.as_str(), pair.appid.as_str()), ())
                    .map_err(|e| cannot_write(e.into()))?;
            }
        }
        for entry in table.iter().map_err(|e| cannot_write(e.into()))? {
            let (key, _) = entry.map_err(|e| cannot_write(e.into()))?;
            let (source_type, env, appid) = key.value();
            pairs.insert(Pair::new(source_type, env, appid));
        }
    }
    // Committed even when nothing changed: proves the file can be written and synced now.
    txn.commit().map_err(|e| cannot_write(e.into()))?;
    Ok((db, pairs))
}

/// The pairs the state database at `path` holds, without changing them.
///
/// # Errors
/// An I/O error naming `path`: it does not exist, cannot be opened (or is open in a running
/// sandbox), or is not a sandbox state database.
pub(crate) fn read(path: &Path) -> std::io::Result<BTreeSet<Pair>> {
    let shown = path.display();
    let fail = |e: redb::Error| match e {
        redb::Error::DatabaseAlreadyOpen => std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            format!("the state file `{shown}` is open in a running sandbox: stop it first"),
        ),
        redb::Error::Io(io) => {
            std::io::Error::new(io.kind(), format!("cannot read the state file `{shown}`: {io}"))
        }
        other => std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("cannot read the state file `{shown}`: {other}"),
        ),
    };
    let db = Database::open(path).map_err(|e| fail(e.into()))?;
    let txn = db.begin_read().map_err(|e| fail(e.into()))?;
    let table = match txn.open_table(PAIRS) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(BTreeSet::new()),
        Err(e) => return Err(fail(e.into())),
    };
    let mut pairs = BTreeSet::new();
    for entry in table.iter().map_err(|e| fail(e.into()))? {
        let (key, _) = entry.map_err(|e| fail(e.into()))?;
        let (source_type, env, appid) = key.value();
        pairs.insert(Pair::new(source_type, env, appid));
    }
    Ok(pairs)
}

impl Store {
    /// Starts the writer thread of `db` (at `path`), which updates `shared`'s in-memory view
    /// after each commit.
    pub(crate) fn spawn(db: Database, path: PathBuf, shared: Weak<Shared>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let fail_commits = std::sync::Arc::new(AtomicBool::new(false));
        let writer = {
            let fail_commits = fail_commits.clone();
            let path = path.clone();
            std::thread::Builder::new()
                .name("sandbox-state-writer".into())
                .spawn(move || write_loop(&db, &path, &rx, &shared, &fail_commits))?
        };
        Ok(Self { path, tx, writer: Mutex::new(Some(writer)), fail_commits })
    }

    /// Saves `change`, then makes it in memory; answers once its transaction has committed.
    pub(crate) async fn change(&self, change: Change) -> Result<Applied, SaveError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Message::Change(change, Reply::Async(tx)))?;
        rx.await.map_err(|_| self.closed())?
    }

    /// [`Store::change`], blocking the calling thread (never the writer's) until it is saved.
    pub(crate) fn change_blocking(&self, change: Change) -> Result<Applied, SaveError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Message::Change(change, Reply::Blocking(tx)))?;
        rx.recv().map_err(|_| self.closed())?
    }

    fn send(&self, message: Message) -> Result<(), SaveError> {
        self.tx.send(message).map_err(|_| self.closed())
    }

    fn closed(&self) -> SaveError {
        SaveError(format!("the state file `{}` is closed: the sandbox is stopping", self.path.display()))
    }

    /// Asks the writer to commit what it has, close the database and end; does not wait.
    pub(crate) fn close(&self) {
        let _ = self.tx.send(Message::Close);
    }

    /// Closes the database and waits until it is closed (its lock released).
    pub(crate) async fn close_and_wait(&self) {
        self.close();
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(writer) = writer {
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        }
    }
}

/// The writer: takes every change waiting (at most [`MAX_BATCH`]), commits them in one
/// transaction, makes them in memory, answers each; until closed.
fn write_loop(
    db: &Database,
    path: &Path,
    rx: &mpsc::Receiver<Message>,
    shared: &Weak<Shared>,
    fail_commits: &AtomicBool,
) {
    let mut closing = false;
    while !closing {
        let Ok(first) = rx.recv() else { return };
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Change(change, reply) => batch.push((change, reply)),
                Message::Close => {
                    closing = true;
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if batch.is_empty() {
            continue;
        }
        let Some(shared) = shared.upgrade() else { return };
        // What each change does, from what is shared now and the changes before it in the batch:
        // `after` holds each pair the batch touches, and whether it is shared after the batch.
        let mut after: HashMap<Pair, bool> = HashMap::new();
        let outcomes: Vec<Applied> = {
            let state = shared.lock();
            batch
                .iter()
                .map(|(change, _)| {
                    let share = matches!(change, Change::Share(_));
                    change
                        .pairs()
                        .iter()
                        .map(|pair| {
                            let was = after.get(pair).copied().unwrap_or_else(|| state.shared.contains(pair));
                            after.insert(pair.clone(), share);
                            was != share
                        })
                        .collect()
                })
                .collect()
        };
        match commit(db, &after, fail_commits) {
            Ok(()) => {
                let mut state = shared.lock();
                for (pair, is_shared) in after {
                    if is_shared {
                        state.shared.insert(pair);
                    } else {
                        state.shared.remove(&pair);
                    }
                }
                drop(state);
                for ((_, reply), outcome) in batch.into_iter().zip(outcomes) {
                    reply.send(Ok(outcome));
                }
            }
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "cannot save the sandbox state; the changes are refused");
                let error = SaveError(format!("cannot save the state file `{}`: {error}", path.display()));
                for (_, reply) in batch {
                    reply.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Writes `after` in one transaction and commits it (durability `Immediate`: synced to disk
/// before it returns). Nothing is changed when it fails; the error is redb's, as text.
fn commit(db: &Database, after: &HashMap<Pair, bool>, fail_commits: &AtomicBool) -> Result<(), String> {
    fn text(e: impl Into<redb::Error>) -> String {
        e.into().to_string()
    }
    let mut txn = db.begin_write().map_err(text)?;
    txn.set_durability(redb::Durability::Immediate);
    {
        let mut table = txn.open_table(PAIRS).map_err(text)?;
        for (pair, is_shared) in after {
            let key = (pair.source_type, pair.env.as_str(), pair.appid.as_str());
            if *is_shared {
                table.insert(key, ()).map_err(text)?;
            } else {
                table.remove(key).map_err(text)?;
            }
        }
    }
    if fail_commits.load(Ordering::SeqCst) {
        txn.abort().map_err(text)?;
        return Err("injected failure (a test hook)".into());
    }
    txn.commit().map_err(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Sandbox, SandboxConfig};

    #[tokio::test]
    async fn changes_committed_together_see_each_other_in_order_and_are_saved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let config = SandboxConfig::default().with_seed_example(false).with_state_file(Some(path.clone()));
        let sandbox = Sandbox::start(config).await.unwrap();
        let store = sandbox.shared.store.as_ref().unwrap();
        let pair = || vec![Pair::new(1, "e", "wx1")];
        // Sent in this order, most likely taken in one batch.
        let outcomes = futures_util::future::join_all([
            store.change(Change::Share(pair())),
            store.change(Change::Share(pair())),
            store.change(Change::Unshare(pair())),
            store.change(Change::Unshare(pair())),
            store.change(Change::Share([pair(), vec![Pair::new(0, "e", "wx1")]].concat())),
        ])
        .await;
        let outcomes: Vec<Applied> = outcomes.into_iter().map(Result::unwrap).collect();
        assert_eq!(outcomes, [vec![true], vec![false], vec![true], vec![false], vec![true, true]]);
        assert!(sandbox.is_shared("e", "wx1") && sandbox.is_shared_under(0, "e", "wx1"));
        sandbox.shutdown().await;
        assert_eq!(read(&path).unwrap(), [Pair::new(0, "e", "wx1"), Pair::new(1, "e", "wx1")].into());
    }

    #[test]
    fn seeds_go_only_into_a_new_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let seeds = || [Pair::new(1, "e", "wx1")].into();
        let (db, pairs) = open(&path, seeds).unwrap();
        assert_eq!(pairs, seeds());
        drop(db);
        let (_db, pairs) = open(&path, || [Pair::new(1, "e", "wx2")].into()).unwrap();
        assert_eq!(pairs, seeds(), "an existing database wins");
        let error = open(&path, BTreeSet::new).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::WouldBlock, "{error}");
        assert!(error.to_string().contains("state.redb"), "{error}");
    }
}

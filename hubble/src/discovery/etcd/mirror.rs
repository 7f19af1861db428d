//! A key prefix of etcd kept in memory: read once, then followed by a watch. Readers take a snapshot without
//! a round trip; a change wakes whoever waits on the mirror's [`Notify`] (the dispatcher), so a change in etcd
//! reaches the targets in the time of one watch event, not one polling interval.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::client::{EtcdClient, EtcdError, Event};

/// What the mirror holds.
#[derive(Debug, Default)]
struct State {
    keys: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The keys were read at least once.
    synced: bool,
    /// Why the watch is down, while it is.
    error: Option<String>,
}

/// A prefix's keys, followed.
#[derive(Debug)]
pub struct PrefixMirror {
    client: EtcdClient,
    prefix: Vec<u8>,
    state: Mutex<State>,
    changed: Arc<Notify>,
    /// Turns true once the first read succeeded or failed.
    attempted: tokio::sync::watch::Sender<bool>,
}

impl PrefixMirror {
    /// A mirror of the keys under `prefix`, waking `changed` on every change; [`run`](Self::run) fills it.
    pub fn new(client: EtcdClient, prefix: impl Into<Vec<u8>>, changed: Arc<Notify>) -> Self {
        PrefixMirror {
            client,
            prefix: prefix.into(),
            state: Mutex::new(State::default()),
            changed,
            attempted: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Waits until the first read succeeded or failed, so that a caller starting with the mirror does not
    /// take "not read yet" for an outage.
    pub async fn ready(&self) {
        let mut attempted = self.attempted.subscribe();
        let _ = attempted.wait_for(|done| *done).await;
    }

    /// The prefix.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The keys (under the prefix) and their values; an error while etcd cannot be followed (before the
    /// first read, or since the watch broke), so that a caller keeps what it had rather than act on stale or
    /// no keys.
    pub fn snapshot(&self) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, String> {
        let state = self.state();
        match (&state.error, state.synced) {
            (Some(e), _) => Err(e.clone()),
            (None, false) => Err("not read from etcd yet".to_owned()),
            (None, true) => Ok(state.keys.clone()),
        }
    }

    /// The keys as last read, even while etcd cannot be reached (a view that must outlast an outage).
    pub fn last_known(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.state().keys.clone()
    }

    /// Reads the prefix and follows it until `cancel`: after an error, waits (1 s doubling to 10 s), reads
    /// again and watches from there. Errors are logged once per change.
    pub async fn run(&self, cancel: CancellationToken) {
        let mut delay = Duration::from_secs(1);
        let mut last_error: Option<String> = None;
        loop {
            let (outcome, synced) = tokio::select! {
                () = cancel.cancelled() => return,
                r = self.follow() => r,
            };
            if synced {
                // It was followed for a while (its recovery logged): the next attempt need not wait long,
                // and the next failure is a change worth a line, even the same one.
                delay = Duration::from_secs(1);
                last_error = None;
            }
            let message = outcome.to_string();
            if last_error.as_deref() != Some(message.as_str()) {
                tracing::warn!(prefix = %String::from_utf8_lossy(&self.prefix), error = %message, "etcd watch down, keeping the last keys");
                last_error = Some(message.clone());
            }
            self.state().error = Some(message);
            self.attempted.send_replace(true);
            self.changed.notify_one();
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }

    /// One read and watch; returns only with the error that ended it, and whether the keys were read.
    async fn follow(&self) -> (EtcdError, bool) {
        let (revision, kvs) = match self.client.range_prefix(&self.prefix).await {
            Ok(r) => r,
            Err(e) => return (e, false),
        };
        let mut watch = match self.client.watch(&self.prefix, revision + 1).await {
            Ok(w) => w,
            Err(e) => return (e, false),
        };
        {
            let mut state = self.state();
            if state.error.take().is_some() {
                tracing::info!(prefix = %String::from_utf8_lossy(&self.prefix), keys = kvs.len(), "etcd watch recovered");
            }
            state.keys = kvs.into_iter().map(|kv| (kv.key, kv.value)).collect();
            state.synced = true;
        }
        self.attempted.send_replace(true);
        self.changed.notify_one();
        loop {
            let events = match watch.next().await {
                Ok(events) => events,
                Err(e) => return (e, true),
            };
            if events.is_empty() {
                continue;
            }
            {
                let mut state = self.state();
                for event in events {
                    match event {
                        Event::Put(kv) => {
                            state.keys.insert(kv.key, kv.value);
                        }
                        Event::Delete(key) => {
                            state.keys.remove(&key);
                        }
                    }
                }
            }
            self.changed.notify_one();
        }
    }
}

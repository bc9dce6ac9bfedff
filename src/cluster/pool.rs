//! The backend connections one process shares: every claim, renewal,
//! watch and outcome of a supervisor's runs goes through at most
//! [`MAX_OPEN`] connections to its backend, opened when first needed and
//! kept while they work.
//!
//! Why: a supervisor runs every task due in the same wake-up, and a burst
//! of 1,000 cluster tasks on three hosts would otherwise open 3,000
//! connections at once (PostgreSQL forks a process for each, and refuses
//! those past `max_connections`), then one more per renewal thread. Each
//! operation is one short statement, so a few connections carry a
//! thousand runs' claims and renewals.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use super::{Backend, ClusterError};
use crate::taskfile::Cluster;

/// At most this many connections per process and backend.
pub const MAX_OPEN: usize = 2;

pub struct Pool {
    cluster: Cluster,
    state: Mutex<State>,
    freed: Condvar,
}

struct State {
    idle: Vec<Box<dyn Backend>>,
    /// Idle ones included.
    open: usize,
}

/// The process's pool for `cluster`'s backend.
pub fn for_cluster(cluster: &Cluster) -> Arc<Pool> {
    static POOLS: OnceLock<Mutex<HashMap<String, Arc<Pool>>>> = OnceLock::new();
    let key = format!("{:?}", cluster.backend);
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    pools
        .entry(key)
        .or_insert_with(|| {
            Arc::new(Pool {
                cluster: cluster.clone(),
                state: Mutex::new(State {
                    idle: Vec::new(),
                    open: 0,
                }),
                freed: Condvar::new(),
            })
        })
        .clone()
}

impl Pool {
    /// Runs `op` on a connection: an idle one, a new one while fewer than
    /// [`MAX_OPEN`] are open, else the next one freed. A connection whose
    /// operation failed is closed (it may be broken); the next operation
    /// opens another.
    pub fn with<T>(
        &self,
        op: impl FnOnce(&mut dyn Backend) -> Result<T, ClusterError>,
    ) -> Result<T, ClusterError> {
        let mut backend = self.checkout()?;
        let result = op(backend.as_mut());
        let mut state = self.lock();
        match result {
            Ok(_) => state.idle.push(backend),
            Err(_) => state.open -= 1,
        }
        drop(state);
        self.freed.notify_one();
        result
    }

    fn checkout(&self) -> Result<Box<dyn Backend>, ClusterError> {
        let mut state = self.lock();
        loop {
            if let Some(backend) = state.idle.pop() {
                return Ok(backend);
            }
            if state.open < MAX_OPEN {
                state.open += 1;
                drop(state);
                // Outside the lock: a connect may take its timeout.
                let connected = super::connect(&self.cluster);
                if connected.is_err() {
                    self.lock().open -= 1;
                    self.freed.notify_one();
                }
                return connected;
            }
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

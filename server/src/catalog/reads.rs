//! Where catalog reads run. The catalog is public and changes only by
//! imports, so a read may be a little behind: it goes to the replica
//! (`--db-replica-url`) while the replica is a standby of the primary
//! within the lag bound ([`crate::db::replica`]), and to the primary
//! otherwise, or when the replica fails it or is slower than its timeout.
//! A failing replica never fails a read by itself. Nothing but the catalog
//! is read there: a list must show its owner's own writes at once, and
//! authentication writes.

use std::future::Future;

use crate::db::replica::{Replica, State};
use crate::error::Error;

/// A read of catalog data, run on whichever connection [`read`] picks. It
/// must only read: its result may be dropped (when the request's token is
/// refused) and it may run twice (on the replica, then on the primary).
pub trait CatalogRead: Sync {
    type Output: Send;

    fn read<'a>(
        &'a self,
        db: &'a deadpool_postgres::Object,
    ) -> impl Future<Output = Result<Self::Output, Error>> + Send + 'a;
}

/// Where a read ran, for the request log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// No replica is configured.
    Primary,
    Replica,
    /// The primary, because the replica was in this state, or failed the
    /// read (`None`).
    PrimaryInstead(Option<State>),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Primary => f.write_str("primary"),
            Source::Replica => f.write_str("replica"),
            Source::PrimaryInstead(Some(state)) => {
                write!(f, "primary (replica {})", state.as_str())
            }
            Source::PrimaryInstead(None) => f.write_str("primary (replica failed)"),
        }
    }
}

/// A read's value and where it ran.
pub struct Routed<T> {
    pub value: T,
    pub source: Source,
}

/// Runs `read` on the replica when it may go there, else (or when the
/// replica fails it) on `primary`.
pub async fn read<R: CatalogRead>(
    replica: Option<&Replica>,
    primary: &deadpool_postgres::Object,
    read: &R,
) -> Result<Routed<R::Output>, Error> {
    let source = match replica.map(|replica| (replica, replica.state())) {
        None => Source::Primary,
        Some((replica, State::Up)) => match on_replica(replica, read).await {
            Some(answer) => {
                return answer.map(|value| Routed {
                    value,
                    source: Source::Replica,
                });
            }
            None => Source::PrimaryInstead(None),
        },
        Some((_, state)) => Source::PrimaryInstead(Some(state)),
    };
    Ok(Routed {
        value: read.read(primary).await?,
        source,
    })
}

/// The replica's answer, or `None` when it failed the read: a database
/// error of any kind (a standby also cancels queries that conflict with
/// its replay) or no answer within the timeout. An answer of the catalog's
/// own (404, 422) is the answer.
async fn on_replica<R: CatalogRead>(
    replica: &Replica,
    read: &R,
) -> Option<Result<R::Output, Error>> {
    let timeout = replica.settings().timeout;
    let attempt = async {
        let db = replica.get().await?;
        read.read(&db).await
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Err(Error::Db(error))) => {
            if error.is_unavailable() {
                replica.failed(&error.to_string());
            } else {
                tracing::warn!(%error, "a catalog read failed on the replica; asking the primary");
            }
            None
        }
        Ok(answer) => Some(answer),
        Err(_) => {
            replica.failed(&format!("no answer within {} ms", timeout.as_millis()));
            None
        }
    }
}

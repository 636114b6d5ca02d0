//! `GET /list`'s body, written while PostgreSQL still sends rows.
//!
//! The response starts only once the first entry (or the end) has arrived:
//! PostgreSQL sorts the whole list before it sends a row, so a failing or
//! timed-out query still gets its proper 5xx. After that a task writes the
//! rest; a failure cuts the transfer short (see [`DataArray`]) and is
//! logged with the request id.

use dropshot::Body;
use tracing::Instrument as _;

use super::streaming::{DataArray, WriteError};
use crate::error::Error;
use crate::list::Entries;

/// Why a streamed list stopped before its end.
#[derive(Debug, thiserror::Error)]
enum Unfinished {
    #[error(transparent)]
    Read(#[from] Error),
    #[error(transparent)]
    Write(#[from] WriteError),
}

pub async fn body(mut entries: Entries) -> Result<Body, Error> {
    let (mut array, body) = DataArray::open(entries.stall);
    let unexpected = |e: WriteError| Error::Internal(e.to_string());
    let Some(first) = entries.next().await? else {
        array.close().await.map_err(unexpected)?;
        return Ok(body);
    };
    array.push(&first).await.map_err(unexpected)?;
    tokio::spawn(
        async move {
            match write_rest(&mut array, &mut entries).await {
                Ok(()) => {
                    // Every row is read: the connection and the stream's
                    // place go back before the client sees the end, so its
                    // next list is admitted at once.
                    entries.finish().await;
                    if let Err(error) = array.close().await {
                        log(&Unfinished::Write(error));
                    }
                }
                Err(unfinished) => {
                    // Logged before `array` drops and cuts the transfer, so
                    // the line is written by the time the client sees the cut.
                    log(&unfinished);
                    drop(array);
                    entries.end_transfer();
                    entries.finish().await;
                }
            }
        }
        .instrument(tracing::Span::current()),
    );
    Ok(body)
}

async fn write_rest(array: &mut DataArray, entries: &mut Entries) -> Result<(), Unfinished> {
    while let Some(entry) = entries.next().await? {
        array.push(&entry).await?;
    }
    Ok(())
}

fn log(unfinished: &Unfinished) {
    match unfinished {
        Unfinished::Write(WriteError::ClientGone) => {
            tracing::debug!("GET /list: the client left before the body was complete")
        }
        Unfinished::Write(WriteError::Stalled(after)) => {
            tracing::warn!(
                ?after,
                "GET /list: the client stopped reading; transfer cut"
            )
        }
        error => tracing::error!(error = %error, "GET /list: the body was cut short"),
    }
}

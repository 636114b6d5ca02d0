//! How statements reach PostgreSQL: every statement of `db` goes through
//! [`Db`], with its parameters' types given ([`params!`]), so it can be sent
//! either way:
//!
//! - **unnamed** (the default): `Parse`/`Bind`/`Execute` of an unnamed
//!   statement in one exchange (tokio-postgres' `query_typed`). Nothing
//!   outlives the statement, so it works through PgBouncer in transaction
//!   mode (1.18 included, which cannot carry named statements from one
//!   transaction to the next), and it is one round trip.
//! - **prepared** (`--db-prepared-statements`): a named statement prepared
//!   once per connection and cached; PostgreSQL parses and plans it once.
//!   Only for direct connections to PostgreSQL (or PgBouncer ≥ 1.21 with
//!   `max_prepared_statements`).

use std::sync::atomic::{AtomicBool, Ordering};

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Row, RowStream};

use super::DbError;

static PREPARED: AtomicBool = AtomicBool::new(false);

/// How this process sends statements (set once at start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statements {
    Unnamed,
    Prepared,
}

pub fn set_statements(mode: Statements) {
    PREPARED.store(mode == Statements::Prepared, Ordering::Relaxed);
}

fn prepared() -> bool {
    PREPARED.load(Ordering::Relaxed)
}

/// A parameter and the PostgreSQL type it is sent as.
pub type Typed<'a> = (&'a (dyn ToSql + Sync), Type);

/// A Rust value's PostgreSQL type, for [`params!`].
pub trait Param: ToSql + Sync {
    const TYPE: Type;
}

macro_rules! param_types {
    ($($rust:ty => $pg:ident),* $(,)?) => {
        $(impl Param for $rust { const TYPE: Type = Type::$pg; })*
    };
}

param_types! {
    bool => BOOL,
    i16 => INT2,
    i32 => INT4,
    i64 => INT8,
    f64 => FLOAT8,
    String => TEXT,
    &str => TEXT,
    Vec<String> => TEXT_ARRAY,
    Vec<&str> => TEXT_ARRAY,
    &[String] => TEXT_ARRAY,
    Vec<i64> => INT8_ARRAY,
    Vec<bool> => BOOL_ARRAY,
    Vec<u8> => BYTEA,
    &[u8] => BYTEA,
    chrono::NaiveDate => DATE,
    chrono::DateTime<chrono::Utc> => TIMESTAMPTZ,
}

impl<T: Param> Param for Option<T> {
    const TYPE: Type = T::TYPE;
}

/// The type of a parameter, by inference (see [`params!`]).
pub fn type_of<T: Param>(_: &T) -> Type {
    T::TYPE
}

/// `params![a, b]`: the statement's parameters with their types, in order.
macro_rules! params {
    ($($param:expr),* $(,)?) => {
        [$(
            (
                &$param as &(dyn ::tokio_postgres::types::ToSql + Sync),
                $crate::db::sql::type_of(&$param),
            )
        ),*]
    };
}

pub(crate) use params;

/// The values alone, for a prepared statement.
fn values<'p>(params: &'p [Typed<'p>]) -> Vec<&'p (dyn ToSql + Sync)> {
    params.iter().map(|(v, _)| *v).collect()
}

/// A connection or a transaction to run statements on.
#[allow(async_fn_in_trait)]
pub trait Db: deadpool_postgres::GenericClient {
    /// The tokio-postgres side, for unnamed statements.
    fn typed(&self) -> &(impl tokio_postgres::GenericClient + Sync);

    /// The connection's cached named statement for `sql` (prepared mode).
    async fn cached(
        &self,
        sql: &str,
        params: &[Typed<'_>],
    ) -> Result<tokio_postgres::Statement, DbError> {
        let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
        Ok(self.prepare_typed_cached(sql, &types).await?)
    }

    async fn rows(&self, sql: &str, params: &[Typed<'_>]) -> Result<Vec<Row>, DbError> {
        if prepared() {
            let statement = self.cached(sql, params).await?;
            Ok(self.query(&statement, &values(params)).await?)
        } else {
            Ok(tokio_postgres::GenericClient::query_typed(self.typed(), sql, params).await?)
        }
    }

    async fn row(&self, sql: &str, params: &[Typed<'_>]) -> Result<Row, DbError> {
        let mut rows = self.rows(sql, params).await?;
        match rows.len() {
            1 => Ok(rows.remove(0)),
            n => Err(DbError::Unexpected(format!("expected one row, got {n}"))),
        }
    }

    async fn maybe_row(&self, sql: &str, params: &[Typed<'_>]) -> Result<Option<Row>, DbError> {
        let mut rows = self.rows(sql, params).await?;
        match rows.len() {
            0 => Ok(None),
            1 => Ok(Some(rows.remove(0))),
            n => Err(DbError::Unexpected(format!(
                "expected at most one row, got {n}"
            ))),
        }
    }

    /// Rows affected.
    async fn run(&self, sql: &str, params: &[Typed<'_>]) -> Result<u64, DbError> {
        if prepared() {
            let statement = self.cached(sql, params).await?;
            Ok(self.execute(&statement, &values(params)).await?)
        } else {
            Ok(tokio_postgres::GenericClient::execute_typed(self.typed(), sql, params).await?)
        }
    }

    /// Rows as they arrive.
    async fn stream(&self, sql: &str, params: &[Typed<'_>]) -> Result<RowStream, DbError> {
        if prepared() {
            let statement = self.cached(sql, params).await?;
            Ok(self.query_raw(&statement, values(params)).await?)
        } else {
            let typed = params.iter().map(|(v, t)| (*v, t.clone()));
            Ok(tokio_postgres::GenericClient::query_typed_raw(self.typed(), sql, typed).await?)
        }
    }
}

impl Db for deadpool_postgres::Object {
    fn typed(&self) -> &(impl tokio_postgres::GenericClient + Sync) {
        let wrapper: &deadpool_postgres::ClientWrapper = self;
        let client: &tokio_postgres::Client = wrapper;
        client
    }
}

impl Db for deadpool_postgres::Transaction<'_> {
    fn typed(&self) -> &(impl tokio_postgres::GenericClient + Sync) {
        let transaction: &tokio_postgres::Transaction<'_> = self;
        transaction
    }
}

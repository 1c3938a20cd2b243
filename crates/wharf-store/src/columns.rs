//! Status columns: ECS's vocabulary kept as its wire spelling in TEXT
//! columns, read back into the `wharf-model` types.

use std::str::FromStr;

use rusqlite::types::Type;
use rusqlite::Row;

/// Reads column `i` as a closed vocabulary (`TaskStatus`, `InstanceStatus`,
/// ...); a spelling the type does not know is a conversion error, not a
/// silent default.
pub(crate) fn vocabulary<T>(row: &Row<'_>, i: usize) -> rusqlite::Result<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.get(i)?;
    text.parse().map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e)))
}

/// Reads column `i` as one of the model's generated enums, which keep an
/// unlisted spelling verbatim.
pub(crate) fn listed<T: for<'a> From<&'a str>>(row: &Row<'_>, i: usize) -> rusqlite::Result<T> {
    let text: String = row.get(i)?;
    Ok(T::from(text.as_str()))
}

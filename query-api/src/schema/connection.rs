//! Relay-style paging: page sizes, opaque keyset cursors, `PageInfo`.

use async_graphql::SimpleObject;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::QueryError;

/// Most items a page may ask for.
pub const MAX_PAGE: i32 = 100;
/// Longest cursor accepted.
const MAX_CURSOR_CHARS: usize = 2048;

/// Where a page ends.
#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    /// Whether another page follows.
    pub has_next_page: bool,
    /// Cursor of the last edge, to pass as `after`.
    pub end_cursor: Option<String>,
}

/// Checks `first` (null means `default`) against `1..=MAX_PAGE`.
pub fn page_size(first: Option<i32>, default: i32) -> Result<i64, QueryError> {
    let n = first.unwrap_or(default);
    if (1..=MAX_PAGE).contains(&n) {
        Ok(i64::from(n))
    } else {
        Err(QueryError::bad_input(format!(
            "first must be between 1 and {MAX_PAGE}, got {n}"
        )))
    }
}

/// The page-size multiplier the complexity budget charges for `first`.
pub fn charged(first: Option<i32>, default: i32) -> usize {
    // Out-of-range sizes are charged as the bound so the resolver's clear error wins.
    first.unwrap_or(default).clamp(1, MAX_PAGE) as usize
}

/// Encodes a cursor of `kind` (which list it belongs to) and its keyset position.
pub fn encode_cursor<T: Serialize>(kind: &str, key: &T) -> String {
    // Serializing plain keys (strings, numbers, uuids, times) cannot fail.
    let json = serde_json::to_string(key).unwrap_or_default();
    hex::encode(format!("{kind}:{json}"))
}

/// Decodes a cursor made by [`encode_cursor`] for the same `kind`.
pub fn decode_cursor<T: DeserializeOwned>(kind: &str, cursor: &str) -> Result<T, QueryError> {
    let bad = || QueryError::bad_input(format!("after: not a cursor of this {kind} list"));
    if cursor.len() > MAX_CURSOR_CHARS {
        return Err(bad());
    }
    let bytes = hex::decode(cursor.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (found, json) = text.split_once(':').ok_or_else(bad)?;
    if found != kind {
        return Err(bad());
    }
    serde_json::from_str(json).map_err(|_| bad())
}

/// Decodes an optional `after`.
pub fn decode_after<T: DeserializeOwned>(
    kind: &str,
    after: Option<&str>,
) -> Result<Option<T>, QueryError> {
    after.map(|c| decode_cursor(kind, c)).transpose()
}

/// Splits `limit + 1` fetched rows into the page and whether more follow.
pub fn split_page<T>(mut rows: Vec<T>, limit: i64) -> (Vec<T>, bool) {
    let limit = usize::try_from(limit).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_outside_one_to_a_hundred_are_refused() {
        assert_eq!(page_size(None, 20).expect("default"), 20);
        assert_eq!(page_size(Some(100), 20).expect("max"), 100);
        for bad in [0, -1, 101] {
            let err = page_size(Some(bad), 20).expect_err("out of range");
            assert!(err.to_string().contains("between 1 and 100"), "{err}");
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_other_lists_and_garbage() {
        let c = encode_cursor("people", &("ann", 3));
        let back: (String, i32) = decode_cursor("people", &c).expect("round trip");
        assert_eq!(back, ("ann".to_owned(), 3));
        assert!(decode_cursor::<(String, i32)>("interviews", &c).is_err());
        assert!(decode_cursor::<(String, i32)>("people", "zz").is_err());
        assert!(decode_cursor::<(String, i32)>("people", &hex::encode("people:{")).is_err());
    }

    #[test]
    fn one_extra_row_means_another_page() {
        assert_eq!(split_page(vec![1, 2, 3], 2), (vec![1, 2], true));
        assert_eq!(split_page(vec![1, 2], 2), (vec![1, 2], false));
    }
}

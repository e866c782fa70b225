//! Parsed query documents by query text, so a client repeating the same query (the usual
//! case: queries are fixed strings with variables) does not pay for parsing it each time.
//! Only documents that parsed are kept; validation still runs on every request, as do
//! the depth and complexity limits.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_graphql::parser::types::ExecutableDocument;

/// Documents kept at most; when full, the cache starts over.
const MAX_DOCUMENTS: usize = 256;
/// Longer query texts are parsed each time and not kept.
const MAX_QUERY_BYTES: usize = 16 * 1024;

/// The cache, shared by every request.
#[derive(Default)]
pub(crate) struct Documents {
    by_text: Mutex<HashMap<String, ExecutableDocument>>,
}

impl Documents {
    /// Gives `request` its parsed document: a copy of the one kept for its text, or one
    /// parsed now (and kept). A query that does not parse is left to the executor, which
    /// reports the error as usual.
    pub(crate) fn prepare(&self, request: &mut async_graphql::Request) {
        if request.query.len() > MAX_QUERY_BYTES {
            return;
        }
        let kept = self
            .by_text
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&request.query)
            .cloned();
        if let Some(doc) = kept {
            request.set_parsed_query(doc);
            return;
        }
        let Ok(doc) = request.parsed_query() else {
            return;
        };
        let doc = doc.clone();
        let mut by_text = self.by_text.lock().unwrap_or_else(PoisonError::into_inner);
        if by_text.len() >= MAX_DOCUMENTS {
            by_text.clear();
        }
        by_text.insert(request.query.clone(), doc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_query_gets_the_kept_document_and_bad_ones_are_not_kept() {
        let docs = Documents::default();
        let mut first = async_graphql::Request::new("{ a }");
        docs.prepare(&mut first);
        let mut again = async_graphql::Request::new("{ a }");
        docs.prepare(&mut again);
        let mut broken = async_graphql::Request::new("{ a ");
        docs.prepare(&mut broken);
        let kept = docs.by_text.lock().expect("not poisoned");
        assert_eq!(kept.len(), 1);
        assert!(kept.contains_key("{ a }"));
    }
}

//! Parsed query documents by query text, so a client repeating the same query (the usual
//! case: queries are fixed strings with variables) does not pay for parsing it each time.
//! Only documents that parsed are kept; validation still runs on every request, as do
//! the depth and complexity limits.

use async_graphql::parser::types::ExecutableDocument;
use moka::sync::Cache;

/// Documents kept at most; beyond it, the least used leave.
const MAX_DOCUMENTS: u64 = 256;
/// Longer query texts are parsed each time and not kept.
const MAX_QUERY_BYTES: usize = 16 * 1024;

/// The cache, shared by every request.
pub(crate) struct Documents {
    by_text: Cache<String, ExecutableDocument>,
}

impl Default for Documents {
    fn default() -> Self {
        Documents {
            by_text: Cache::new(MAX_DOCUMENTS),
        }
    }
}

impl Documents {
    /// Gives `request` its parsed document: a copy of the one kept for its text, or one
    /// parsed now (and kept). A query that does not parse is left to the executor, which
    /// reports the error as usual.
    pub(crate) fn prepare(&self, request: &mut async_graphql::Request) {
        if request.query.len() > MAX_QUERY_BYTES {
            return;
        }
        if let Some(doc) = self.by_text.get(&request.query) {
            request.set_parsed_query(doc);
            return;
        }
        let Ok(doc) = request.parsed_query() else {
            return;
        };
        let doc = doc.clone();
        self.by_text.insert(request.query.clone(), doc);
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
        docs.by_text.run_pending_tasks();
        assert_eq!(docs.by_text.entry_count(), 1);
        assert!(docs.by_text.contains_key("{ a }"));
    }
}

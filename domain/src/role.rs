//! The roles a person can hold.

use crate::macros::wire_enum;

wire_enum! {
    /// What a person can take part in an interview as. Wire names `candidate`, `interviewer`.
    #[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
    pub enum Role {
        /// Is interviewed.
        Candidate => "candidate",
        /// Sits on interview panels.
        Interviewer => "interviewer",
    }
}

//! The OpenAPI document, generated from the handlers and their types.

use utoipa::OpenApi;

use crate::command::CommandResult;
use crate::error::{Problem, ProblemConflict, ProblemField};
use crate::routes::*;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Interview Ledger command API",
        description = "Commands of API.md §2. Errors are application/problem+json."
    ),
    paths(
        register,
        change_details,
        change_availability,
        schedule_interview,
        reschedule,
        cancel,
        start,
        transcript,
        complete,
        no_show,
        feedback,
        decision
    ),
    components(schemas(
        CommandResult,
        Problem,
        ProblemField,
        ProblemConflict,
        RegisterPerson,
        ChangeDetails,
        ChangeAvailability,
        Window,
        ScheduleInterview,
        Reschedule,
        Cancel,
        Empty,
        NoShow,
        Segment,
        Transcript,
        Competency,
        Feedback,
        Decision
    ))
)]
struct ApiDoc;

/// The document served at `/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

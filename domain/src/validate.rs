//! Collects every field error of a command before refusing it.

use crate::error::{Error, FieldError};

/// Accumulates field errors; `finish` turns them into one [`Error::Validation`].
#[derive(Debug, Default)]
pub(crate) struct Violations(Vec<FieldError>);

impl Violations {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Records `message` on `field` unless `ok`.
    pub(crate) fn check(&mut self, ok: bool, field: impl Into<String>, message: impl Into<String>) {
        if !ok {
            self.add(field, message);
        }
    }

    /// A required text: trimmed, then 1..=`max` characters. Returns the trimmed text.
    pub(crate) fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        let trimmed = value.trim();
        let len = trimmed.chars().count();
        if len == 0 {
            self.add(field, "must not be empty");
        } else if len > max {
            self.add(field, format!("must be at most {max} characters"));
        }
        trimmed.to_owned()
    }

    /// An optional text: trimmed; blank counts as absent; at most `max` characters.
    pub(crate) fn optional_text(
        &mut self,
        field: &str,
        value: Option<String>,
        max: usize,
    ) -> Option<String> {
        let trimmed = value.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
        if trimmed.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
        Some(trimmed.to_owned())
    }

    /// Records an error unless `min <= value <= max`.
    pub(crate) fn range(&mut self, field: &str, value: i64, min: i64, max: i64) {
        self.check(
            (min..=max).contains(&value),
            field,
            format!("must be between {min} and {max}"),
        );
    }

    pub(crate) fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.0))
        }
    }
}

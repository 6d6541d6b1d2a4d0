//! Values someone wrote, kept readable after their type's layout changes.
//!
//! A stored value's bytes are decoded only under the schema they were
//! stored with (see [`Value::schema`](crate::Value::schema)): after a field
//! is added to a settings struct, a value written before is no longer
//! decoded. So that it is not lost with its bytes, a value written by a
//! user or a default also keeps its text form (the form `--set` reads, JSON
//! for a serde struct) in the store. A message about such a value then says
//! what it was and how the current type reads that text (a field added with
//! `#[serde(default)]` takes its default), so the user can write it again
//! in one step. Nothing is written again without the user: the type's
//! meaning may have changed with its layout.

use crate::fingerprint::Fingerprint;
use crate::store::Store;
use crate::value::{ErasedValue, TextError, ValueType};

/// Texts longer than this are not kept: a value that large is written by
/// code, not typed, and can be written again the same way.
const MAX_KEPT_TEXT: usize = 64 * 1024;

/// Keeps the text form of `value`, just stored as `fingerprint`, beside it.
/// Failing to keep it costs only the text in a later message.
pub(crate) fn keep_text(
    store: &dyn Store,
    fingerprint: &Fingerprint,
    value_type: &ValueType,
    value: &ErasedValue,
) {
    let Some(text) = value_type
        .to_text(&**value)
        .filter(|text| text.len() <= MAX_KEPT_TEXT)
    else {
        return;
    };
    if let Err(error) = store.record_value_text(fingerprint, &text) {
        tracing::debug!(%error, "the text form of a written value was not kept");
    }
}

/// What a message about the value `fingerprint`, stored under another
/// layout of `value_type`, adds: the value's kept text, and how the current
/// type reads it; empty when no text was kept.
pub(crate) fn note(store: &dyn Store, value_type: &ValueType, fingerprint: &Fingerprint) -> String {
    let Ok(Some(text)) = store.value_text(fingerprint) else {
        return String::new();
    };
    let type_name = value_type.name();
    match value_type.parse(&text) {
        Ok(value) => match value_type.to_text(&*value) {
            Some(now) if now == text => {
                format!(
                    ". It was {text}, which the current `{type_name}` reads as the same text: write that"
                )
            }
            Some(now) => format!(
                ". It was {text}, which the current `{type_name}` reads as {now}: write that to keep it"
            ),
            None => format!(". It was {text}"),
        },
        Err(error) => format!(
            ". It was {text}, which the current `{type_name}` does not read ({})",
            reason_of(&error)
        ),
    }
}

/// The reason part of a text error (its text is already in the message).
fn reason_of(error: &TextError) -> String {
    match error {
        TextError::Invalid { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

//! `gc`: removing values no version refers to (here and in the store's
//! object store), checking stored files, and dropping local copies that the
//! object store holds.

use serde_json::{Value as Json, json};

use super::args::GcArgs;
use super::context::Context;
use super::error::CliError;
use super::output::Output;
use crate::history::bytes;
use crate::store::{EvictReport, GcReport, VerifyReport};

/// Runs `gc`.
pub(crate) fn gc(ctx: &Context<'_>, args: &GcArgs, output: &Output) -> Result<(), CliError> {
    let runtime = ctx.open_existing_runtime()?;
    let report = runtime.gc()?;
    let verified = args.verify.then(|| runtime.verify()).transpose()?;
    let evicted = args
        .evict_local
        .then(|| runtime.evict_local())
        .transpose()?;
    let store = ctx.store_dir().display().to_string();
    if output.json {
        output.json_object(gc_json(&store, &report, &verified, &evicted));
    } else {
        print!("{}", gc_text(&store, &report, &verified, &evicted));
    }
    Ok(())
}

/// `gc --json`: see `docs/cli.md`.
fn gc_json(
    store: &str,
    report: &GcReport,
    verified: &Option<VerifyReport>,
    evicted: &Option<EvictReport>,
) -> Json {
    let mut object = json!({
        "store": store,
        "values_removed": report.values_removed,
        "files_removed": report.files_removed,
        "memo_entries_removed": report.memo_entries_removed,
        "partial_results_removed": report.partial_results_removed,
        "bytes_freed": report.bytes_freed,
        "objects_deleted": report.objects_deleted,
    });
    if let Some(verified) = verified {
        object["values_checked"] = json!(verified.values_checked);
        object["bytes_checked"] = json!(verified.bytes_checked);
        object["refetched"] = json!(verified.refetched);
        object["damaged"] = verified
            .damaged
            .iter()
            .map(|(fingerprint, damage)| json!({"value": fingerprint.to_hex(), "damage": damage}))
            .collect();
    }
    if let Some(evicted) = evicted {
        object["evicted"] = json!({
            "files": evicted.files_evicted,
            "bytes": evicted.bytes_freed,
            "uploaded": evicted.uploaded,
            "kept": evicted
                .kept
                .iter()
                .map(|(fingerprint, reason)| json!({"value": fingerprint.to_hex(), "reason": reason}))
                .collect::<Vec<Json>>(),
        });
    }
    object
}

/// `gc`'s text.
fn gc_text(
    store: &str,
    report: &GcReport,
    verified: &Option<VerifyReport>,
    evicted: &Option<EvictReport>,
) -> String {
    let mut out = format!(
        "removed {} values, {} files and {} memo entries from {store}: {} freed\n",
        report.values_removed,
        report.files_removed,
        report.memo_entries_removed,
        bytes(report.bytes_freed)
    );
    if report.objects_deleted > 0 {
        out.push_str(&format!(
            "deleted {} of those values from the object store\n",
            report.objects_deleted
        ));
    }
    if report.partial_results_removed > 0 {
        out.push_str(&format!(
            "dropped {} partial results computed from those values\n",
            report.partial_results_removed
        ));
    }
    if let Some(verified) = verified {
        out.push_str(&format!(
            "checked {} values ({}): {} damaged",
            verified.values_checked,
            bytes(verified.bytes_checked),
            verified.damaged.len()
        ));
        if verified.refetched > 0 {
            out.push_str(&format!(
                ", {} fetched again from the object store",
                verified.refetched
            ));
        }
        out.push('\n');
        for (fingerprint, damage) in &verified.damaged {
            out.push_str(&format!(
                "  value {}: {damage}; moved aside, its task runs again\n",
                fingerprint.short()
            ));
        }
    }
    if let Some(evicted) = evicted {
        out.push_str(&format!(
            "evicted {} local files ({}) that the object store holds",
            evicted.files_evicted,
            bytes(evicted.bytes_freed)
        ));
        if evicted.uploaded > 0 {
            out.push_str(&format!(", uploading {} of them first", evicted.uploaded));
        }
        out.push('\n');
        for (fingerprint, reason) in &evicted.kept {
            out.push_str(&format!(
                "  value {}: kept here: {reason}\n",
                fingerprint.short()
            ));
        }
    }
    out
}

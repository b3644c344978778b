//! Reviews of runs, the review queue, and exports of reviewed runs.

use super::Answer;
use citrus_types::api::reviews::{
    ExportPreview, ExportSave, GetReview, ListReviewQueue, SaveReview, SearchCodes,
};
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use super::blocking;
use crate::app::AppState;
use crate::deid::unreviewed;
use crate::error::AppError;
use crate::store::export::export;
use crate::store::AuditEvent;
use crate::vocabulary::Vocabulary;
use citrus_types::protection::AuditAction;

/// The most suggestions one search returns.
const MOST_SUGGESTIONS: usize = 50;

/// The review of a run, if it has one.
#[tauri::command]
pub fn get_review(state: State<'_, AppState>, request: GetReview) -> Answer<GetReview> {
    let GetReview { run_id } = request;
    Ok(state.store().review(run_id)?)
}

/// Saves (or replaces) the review of a run.
#[tauri::command]
pub fn save_review(state: State<'_, AppState>, request: SaveReview) -> Answer<SaveReview> {
    let SaveReview { review } = request;
    if let Some(code) = &review.confirmed_code {
        if Vocabulary::open_installed()?.lookup(code)?.is_none() {
            return Err(AppError::UnknownCode(code.clone()));
        }
    }
    Ok(state.store().save_review(&review)?)
}

/// ICD-10-CM entries for a confirmed diagnosis as it is typed.
#[tauri::command]
pub fn search_codes(request: SearchCodes) -> Answer<SearchCodes> {
    let SearchCodes { query, limit } = request;
    Vocabulary::open_installed()?.search(&query, limit.min(MOST_SUGGESTIONS))
}

/// Cases waiting for review, each with the run to review.
#[tauri::command]
pub fn list_review_queue(
    state: State<'_, AppState>,
    request: ListReviewQueue,
) -> Answer<ListReviewQueue> {
    let ListReviewQueue {} = request;
    Ok(state.store().review_queue()?)
}

/// The export as it will be written, to preview, with what de-identification replaces: SFT
/// covers every reviewed run, a report one run. Recorded as a view of the cases it holds.
#[tauri::command]
pub fn export_preview(state: State<'_, AppState>, request: ExportPreview) -> Answer<ExportPreview> {
    let ExportPreview {
        format,
        run_id,
        deid,
    } = request;
    let store = state.store();
    let export = export(&store, format, run_id, &deid)?;
    store.audit(
        AuditEvent::new(AuditAction::CaseViewed, export.case_ids.iter().copied())
            .detail(format!("export preview ({})", format.extension())),
    )?;
    Ok(export.view)
}

/// Asks where to save the export and writes it there; None when the user cancels.
#[tauri::command]
pub async fn export_save<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    request: ExportSave,
) -> Answer<ExportSave> {
    let ExportSave {
        format,
        run_id,
        deid,
    } = request;
    let export = export(&state.store(), format, run_id, &deid)?;
    if deid.deidentify {
        let waiting = unreviewed(&export.view.hits, &deid.reviewed, &deid.keep);
        if let Some(first) = waiting.first() {
            return Err(AppError::DeidUnreviewed {
                count: waiting.len(),
                first: format!("{} {:?}", first.category, first.text),
            });
        }
    }
    let text = export.view.text.clone();
    let saved = blocking(move || {
        let name = match run_id {
            Some(id) => format!("citrus-run-{id}.{}", format.extension()),
            None => format!("citrus-reviewed.{}", format.extension()),
        };
        let Some(target) = app.dialog().file().set_file_name(name).blocking_save_file() else {
            return Ok(None);
        };
        let path = target
            .into_path()
            .map_err(|e| AppError::Window(e.to_string()))?;
        std::fs::write(&path, text).map_err(|e| AppError::io(&path, e))?;
        Ok(Some(path.display().to_string()))
    })
    .await?;
    if let Some(path) = &saved {
        export.record(&state.store(), format, path)?;
    }
    Ok(saved)
}

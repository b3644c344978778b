//! An in-app confirmation dialog (instead of `window.confirm`).

use leptos::prelude::*;

/// A modal question with confirm and cancel buttons; Escape cancels.
#[component]
pub fn ConfirmDialog(
    /// The question.
    message: Signal<String>,
    /// The confirm button's label.
    confirm_label: &'static str,
    /// The confirm button's id.
    confirm_id: &'static str,
    /// The cancel button's id.
    cancel_id: &'static str,
    /// Called when confirmed.
    on_confirm: Callback<()>,
    /// Called when cancelled.
    on_cancel: Callback<()>,
) -> impl IntoView {
    let confirm_ref = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if let Some(button) = confirm_ref.get() {
            let _ = button.focus();
        }
    });
    view! {
        <div class="modal-backdrop">
            <div
                class="modal"
                role="alertdialog"
                aria-modal="true"
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        on_cancel.run(());
                    }
                }
            >
                <p>{message}</p>
                <div class="modal-actions">
                    <button id=cancel_id class="secondary" on:click=move |_| on_cancel.run(())>
                        "Cancel"
                    </button>
                    <button
                        id=confirm_id
                        class="danger"
                        node_ref=confirm_ref
                        on:click=move |_| on_confirm.run(())
                    >
                        {confirm_label}
                    </button>
                </div>
            </div>
        </div>
    }
}

//! Reload and quit triggers: SIGHUP, and `POST /-/reload`, `POST /-/quit` when `--web.enable-lifecycle` is
//! set (Prometheus's lifecycle API: 403 without the flag).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tokio_util::sync::CancellationToken;

use super::reload::Reloader;

/// Reloads on every SIGHUP until `cancel`. (Installing the handler also stops SIGHUP from killing the
/// process, its default action.)
pub async fn on_sighup(reloader: Arc<Reloader>, cancel: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(error) => {
                tracing::warn!(%error, "no SIGHUP handler: reload over HTTP only");
                return;
            }
        };
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                got = hup.recv() => {
                    if got.is_none() {
                        return;
                    }
                    tracing::info!(signal = "SIGHUP", "reloading");
                    let _ = run(reloader.clone(), "SIGHUP").await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = reloader;
        cancel.cancelled().await;
    }
}

/// Reloads off the async workers: loading a web config hashes with bcrypt, deliberately slow.
async fn run(reloader: Arc<Reloader>, trigger: &'static str) -> Result<(), String> {
    tokio::task::spawn_blocking(move || reloader.reload(trigger))
        .await
        .map_err(|e| format!("reload task failed: {e}"))?
}

#[derive(Clone)]
struct Lifecycle {
    /// `None`: the lifecycle API is off.
    reloader: Option<Arc<Reloader>>,
    quit: CancellationToken,
}

/// `/-/reload` and `/-/quit` (POST or PUT, as Prometheus). With `reloader` `None` both answer 403.
pub fn router(reloader: Option<Arc<Reloader>>, quit: CancellationToken) -> Router {
    Router::new()
        .route("/-/reload", post(reload).put(reload))
        .route("/-/quit", post(quit_handler).put(quit_handler))
        .with_state(Lifecycle { reloader, quit })
}

fn disabled() -> Response {
    (
        StatusCode::FORBIDDEN,
        "Lifecycle API is not enabled (--web.enable-lifecycle).\n",
    )
        .into_response()
}

async fn reload(State(state): State<Lifecycle>) -> Response {
    let Some(reloader) = state.reloader else {
        return disabled();
    };
    match run(reloader, "HTTP").await {
        Ok(()) => (StatusCode::OK, "Reloaded.\n").into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {error}\n"),
        )
            .into_response(),
    }
}

async fn quit_handler(State(state): State<Lifecycle>) -> Response {
    if state.reloader.is_none() {
        return disabled();
    }
    state.quit.cancel();
    (StatusCode::OK, "Requesting termination... Goodbye!\n").into_response()
}

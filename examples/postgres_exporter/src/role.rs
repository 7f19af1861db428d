//! `/primary` and `/replica`: health endpoints for load balancers, as pgsty/pg_exporter has them. 200 when
//! the server is in that role, 404 when it is in the other, 503 when it cannot be asked. One target: no
//! parameter needed; several (discovery): `?target=host:port`, a target being exported.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::live::{Live, TargetLookup};

/// What the role handlers need.
#[derive(Clone)]
pub struct Roles {
    live: Arc<Live>,
    timeout: Duration,
}

impl Roles {
    /// Asks targets of `live`, each answer within `timeout`.
    pub fn new(live: Arc<Live>, timeout: Duration) -> Self {
        Roles { live, timeout }
    }
}

#[derive(serde::Deserialize)]
struct RoleQuery {
    target: Option<String>,
}

/// The routes, for merging into the exporter's router.
pub fn router(roles: Roles) -> axum::Router {
    axum::Router::new()
        .route(
            "/primary",
            axum::routing::get(|s: State<Roles>, q: Query<RoleQuery>| async move {
                answer(s, q, false).await
            }),
        )
        .route(
            "/replica",
            axum::routing::get(|s: State<Roles>, q: Query<RoleQuery>| async move {
                answer(s, q, true).await
            }),
        )
        .with_state(roles)
}

async fn answer(
    State(roles): State<Roles>,
    Query(query): Query<RoleQuery>,
    replica: bool,
) -> Response {
    let connections = match roles.live.connections_of(query.target.as_deref()) {
        Ok(c) => c,
        Err(TargetLookup::Unknown) => {
            return (
                StatusCode::BAD_REQUEST,
                "unknown target: give ?target=host:port of a target this exporter exports\n",
            )
                .into_response()
        }
        Err(TargetLookup::Ambiguous) => {
            return (
                StatusCode::BAD_REQUEST,
                "several targets: give ?target=host:port\n",
            )
                .into_response()
        }
    };
    // In the target's batch, over its own connection: a load balancer's checks open no second backend.
    let asked = tokio::time::timeout(
        roles.timeout,
        connections.fetch_text("SELECT pg_is_in_recovery()"),
    )
    .await;
    let in_recovery = match asked {
        Ok(Ok(answer)) => answer
            .first_row()
            .and_then(|row| hubble::text_rows::cell::<bool>(&row, 0))
            .ok(),
        _ => None,
    };
    let role = |standby: bool| if standby { "replica" } else { "primary" };
    match in_recovery {
        None => (StatusCode::SERVICE_UNAVAILABLE, "server unreachable\n").into_response(),
        Some(standby) if standby == replica => {
            (StatusCode::OK, format!("{}\n", role(standby))).into_response()
        }
        Some(standby) => (StatusCode::NOT_FOUND, format!("{}\n", role(standby))).into_response(),
    }
}

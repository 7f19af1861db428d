//! The rate limit, basic auth against bcrypt hashes, and the configured response headers: one middleware in
//! front of every route.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::{WebConfig, WebConfigHandle};

/// Most remembered successful logins; past this the set starts over.
const CACHE_LIMIT: usize = 256;

/// Successful (user, hash, password) triples, by SHA-256, so a scraper that authenticates every 15 s pays
/// bcrypt (tens of milliseconds of CPU) once, not on every scrape. Only successes are kept: failures cannot
/// fill it, and nothing in it can be turned back into a password.
#[derive(Debug, Default)]
pub(super) struct AuthCache(Mutex<HashSet<[u8; 32]>>);

impl AuthCache {
    pub(super) fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn key(user: &str, hash: &str, password: &[u8]) -> [u8; 32] {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for part in [user.as_bytes(), b"\0", hash.as_bytes(), b"\0", password] {
            ctx.update(part);
        }
        let mut key = [0; 32];
        key.copy_from_slice(ctx.finish().as_ref());
        key
    }

    /// Whether `authorization` holds a known user and the password of its hash.
    async fn check(&self, config: &WebConfig, authorization: Option<&HeaderValue>) -> bool {
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return false;
        };
        let (hash, known) = match config.users.get(&user) {
            Some(h) => (h.clone(), true),
            None => (config.dummy_hash.clone(), false),
        };
        let key = Self::key(&user, &hash, &password);
        if known
            && self
                .0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&key)
        {
            return true;
        }
        // bcrypt is deliberately slow: off the async workers. Its comparison is constant-time.
        let matched = tokio::task::spawn_blocking(move || bcrypt::verify(&password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        let ok = matched & known;
        if ok {
            let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(key);
        }
        ok
    }
}

/// `Basic base64(user:password)` → (user, password).
fn parse_basic(value: &HeaderValue) -> Option<(String, Vec<u8>)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

/// The middleware: 429 past the rate limit; 401 without valid credentials when users are configured; the
/// configured headers on every response, the 429 and 401 included.
pub(crate) async fn guard(
    State(handle): State<Arc<WebConfigHandle>>,
    request: Request,
    next: Next,
) -> Response {
    let config = handle.current();
    // Before auth, as in the toolkit: failed logins spend tokens too.
    let limited = config.rate_limit.as_ref().is_some_and(|l| !l.allow());
    let mut response = if limited {
        (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests\n").into_response()
    } else if !config.basic_auth_enabled()
        || handle
            .auth
            .check(&config, request.headers().get(header::AUTHORIZATION))
            .await
    {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic")],
            "Unauthorized\n",
        )
            .into_response()
    };
    for (name, value) in &config.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_credentials() {
        let v = HeaderValue::from_static("Basic dXNlcjpwYTpzcw=="); // user:pa:ss
        assert_eq!(parse_basic(&v), Some(("user".into(), b"pa:ss".to_vec())));
        assert_eq!(parse_basic(&HeaderValue::from_static("Bearer x")), None);
        assert_eq!(parse_basic(&HeaderValue::from_static("Basic !!!")), None);
        assert_eq!(
            parse_basic(&HeaderValue::from_static("Basic dXNlcg==")),
            None
        ); // no colon
    }
}

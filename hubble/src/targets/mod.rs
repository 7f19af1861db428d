//! How an exporter reaches the servers it exports, the same way in every exporter: which servers `/probe` may
//! reach ([`allowlist`]), the probed targets' registry with its bounds and answers ([`probe`]), the `up`
//! collector ([`up`]), connection descriptions per driver ([`postgres`]), PostgreSQL's protocol as a
//! collection speaks it ([`pg_wire`]), and TLS made by the exporter itself ([`tls`]).

pub mod allowlist;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod pg_wire;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
pub mod probe;
pub mod tls;
pub mod up;

//! Entry points for the criterion benchmarks in `benches/`: the encoding, cache and render steps without a
//! scheduler or HTTP around them. Not public API; may change at any time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::body::{Body, Plan};
use crate::cache::CollectorCache;
use crate::encode::{encode_collection, ConstLabels, Format};
use crate::{CollectError, Labels, Sample};

/// Encodes one collector run; returns the bytes stored for its lines.
pub fn encode(metrics: Vec<Sample>, const_labels: &Labels) -> Result<usize, CollectError> {
    Ok(encode_collection(metrics, const_labels)?.text_len())
}

/// One collector's cache.
#[allow(missing_debug_implementations)]
pub struct Cache(CollectorCache, Box<str>);

impl Cache {
    /// An empty cache for collector `name` with the exporter's constant labels.
    pub fn new(name: &str, const_labels: Labels) -> Self {
        Cache(
            CollectorCache::new(
                Arc::new(ConstLabels::new(const_labels)),
                Duration::from_secs(3600),
            ),
            name.into(),
        )
    }

    /// Stores a successful run (encoding it), as the scheduler does.
    pub fn record(&self, metrics: Vec<Sample>) {
        self.0.record(Ok(metrics), Duration::ZERO, Instant::now());
    }
}

/// Renders the caches as one scrape body, the way the registry does: into one buffer (`streamed == false`)
/// or piece by piece. Returns the body's length.
pub fn render(caches: &[Cache], format: Format, streamed: bool) -> usize {
    let now = Instant::now();
    let snapshots: Vec<_> = caches.iter().map(|c| c.0.snapshot(&c.1, now)).collect();
    let plan = Plan::new(format, snapshots, Default::default());
    if streamed {
        Body::streamed(plan).bytes_len()
    } else {
        plan.write_whole().len()
    }
}

//! A scrape body: one cached buffer for ordinary sizes, or written piece by piece while it is sent.
//!
//! A body up to [`STREAM_ABOVE`] bytes is rendered once into one buffer that every scraper shares until
//! something changes. Above that (hundreds of targets in one process), keeping whole bodies would cost more
//! memory than the data itself, and with that many collectors something changes every few milliseconds, so a
//! cached body would rarely be reused. Such a body is instead written in [`PIECE`]-sized pieces as the client
//! reads it, from a snapshot of the collectors' encoded chunks taken when the scrape began: the same bytes,
//! with memory bounded per scrape.

use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use flate2::write::GzEncoder;
use flate2::Compression;
use http_body::Frame;

use crate::cache::CacheSnapshot;
use crate::encode::{Chunk, EncodedRun, FamilyMeta, Format, EOF};

/// Bodies larger than this are streamed instead of cached.
pub(crate) const STREAM_ABOVE: usize = 16 << 20;
/// Size of the pieces a streamed body is written in.
const PIECE: usize = 32 << 10;

/// A rendered, cached body.
pub(crate) struct Rendered {
    pub version: (u64, u64),
    pub extra_at: Instant,
    pub valid_until: Option<Instant>,
    pub body: Bytes,
    gzip: OnceLock<Bytes>,
}

impl Rendered {
    pub(crate) fn new(
        version: (u64, u64),
        extra_at: Instant,
        valid_until: Option<Instant>,
        body: Bytes,
    ) -> Self {
        Rendered {
            version,
            extra_at,
            valid_until,
            body,
            gzip: OnceLock::new(),
        }
    }
}

/// What a body is written from: the collectors' chunks at the start of the scrape, in output order.
///
/// Families come out in name order, each family's chunks in exporter and collector order. That order jumps
/// between runs far apart in memory at every chunk (a thousand targets each hold 300 one-line `pg_settings`
/// families), so the writer looks up a batch of chunks before copying any (see [`warm`]).
pub(crate) struct Plan {
    format: Format,
    snapshots: Vec<CacheSnapshot>,
    /// (run, chunk within the run) in output order. Run `r` is the data run (even `r`) or the health run (odd)
    /// of snapshot `r / 2`.
    order: Vec<(u32, u32)>,
    /// In name order.
    families: Vec<Family>,
    /// Every family's header, one after another.
    headers: Vec<u8>,
    extra: Bytes,
    /// The body's length.
    size: usize,
}

struct Family {
    /// Where its chunks start in `Plan::order`.
    first: u32,
    /// End of its header in `Plan::headers`; it starts where the previous family's ends.
    header_end: usize,
}

impl Plan {
    pub(crate) fn new(format: Format, snapshots: Vec<CacheSnapshot>, extra: Bytes) -> Self {
        // One pass over the runs gives every chunk a family id, and counts each family's chunks and bytes.
        // Families are interned, so a family's chunks mostly share one record: ids are keyed by the record's
        // address, hashed with one multiplication.
        let mut ids: HashMap<usize, u32, BuildHasherDefault<AddressHasher>> = HashMap::default();
        // Per id: the record, its chunk count, its bytes.
        let mut metas: Vec<(Arc<FamilyMeta>, u32, usize)> = Vec::new();
        let mut chunk_ids = Vec::new();
        let mut run_sizes = Vec::with_capacity(2 * snapshots.len());
        for s in &snapshots {
            for run in [&s.data, &s.health] {
                run_sizes.push(run.family_count() as u32);
                for j in 0..run.family_count() {
                    let chunk = run.chunk(j, &s.consts);
                    let id = *ids
                        .entry(Arc::as_ptr(chunk.meta) as usize)
                        .or_insert_with(|| {
                            metas.push((chunk.meta.clone(), 0, 0));
                            (metas.len() - 1) as u32
                        });
                    let meta = &mut metas[id as usize];
                    meta.1 += 1;
                    meta.2 += chunk.len(format);
                    chunk_ids.push(id);
                }
            }
        }

        // The few distinct families in name order; equal names behind different records make one family,
        // with one header. Then each family's chunk count becomes its next slot in `order`: a counting sort,
        // with no sort of the chunks, which keeps exporter and collector order within a family.
        let mut by_name: Vec<usize> = (0..metas.len()).collect();
        by_name.sort_by(|&a, &b| metas[a].0.name.cmp(&metas[b].0.name));
        let mut families: Vec<Family> = Vec::new();
        let mut family_of = vec![0u32; metas.len()];
        let mut headers = Vec::new();
        let mut size = extra.len();
        let mut slot = 0;
        let mut last_name: Option<&str> = None;
        for &id in &by_name {
            let (meta, count, bytes) = &metas[id];
            if last_name != Some(&*meta.name) {
                let before = headers.len();
                headers.extend_from_slice(meta.header(format));
                size += headers.len() - before;
                families.push(Family {
                    first: slot,
                    header_end: headers.len(),
                });
                last_name = Some(&meta.name);
            }
            family_of[id] = (families.len() - 1) as u32;
            size += bytes;
            slot += count;
        }
        let mut next: Vec<u32> = families.iter().map(|f| f.first).collect();
        let mut order = vec![(0, 0); chunk_ids.len()];
        let mut ids = chunk_ids.into_iter();
        for (r, &chunks) in (0u32..).zip(&run_sizes) {
            for (j, id) in (0..chunks).zip(ids.by_ref()) {
                let at = &mut next[family_of[id as usize] as usize];
                order[*at as usize] = (r, j);
                *at += 1;
            }
        }
        if format == Format::OpenMetrics {
            size += EOF.len();
        }
        Plan {
            format,
            snapshots,
            order,
            families,
            headers,
            extra,
            size,
        }
    }

    /// The length of the body.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The whole body in one buffer.
    pub(crate) fn write_whole(self) -> Bytes {
        self.write_whole_into(None)
    }

    /// The whole body in `buffer` (emptied first) when it has room for it, else in a new one.
    pub(crate) fn write_whole_into(self, buffer: Option<BytesMut>) -> Bytes {
        let capacity = self.size;
        let mut pieces = Pieces::sized(Arc::new(self), false, usize::MAX, 0);
        pieces.out = match buffer {
            Some(mut b) if b.capacity() >= capacity => {
                b.clear();
                b
            }
            _ => BytesMut::with_capacity(capacity),
        };
        pieces.next().unwrap_or_default()
    }

    /// Run `r`.
    fn run(&self, r: u32) -> &EncodedRun {
        let s = &self.snapshots[r as usize / 2];
        if r % 2 == 0 {
            &s.data
        } else {
            &s.health
        }
    }

    /// Run `r`'s `j`th chunk.
    fn chunk(&self, (r, j): (u32, u32)) -> Chunk<'_> {
        let consts = &self.snapshots[r as usize / 2].consts;
        self.run(r).chunk(j as usize, consts)
    }

    /// Family `f`'s header.
    fn header(&self, f: usize) -> &[u8] {
        let start = match f.checked_sub(1) {
            Some(before) => self.families[before].header_end,
            None => 0,
        };
        &self.headers[start..self.families[f].header_end]
    }
}

/// Hashes an address (a family record's) with one multiplication: the keys are distinct pointers, so
/// SipHash's protection against chosen keys buys nothing here, and it showed in profiles of large scrapes.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        // Fibonacci hashing mixes the address into the high bits; folding them down fills the low bits too
        // (hashbrown picks buckets by the low bits, and aligned addresses end in zeros).
        let h = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 32);
    }
}

/// A scrape body in one format, gzipped on request.
#[derive(Clone)]
pub struct Body {
    kind: Kind,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::Rendered(_) => "rendered",
            Kind::Streamed(_) => "streamed",
        };
        f.debug_struct("Body").field("kind", &kind).finish()
    }
}

#[derive(Clone)]
enum Kind {
    Rendered(Arc<Rendered>),
    Streamed(Arc<Plan>),
}

impl Body {
    pub(crate) fn rendered(r: Arc<Rendered>) -> Self {
        Body {
            kind: Kind::Rendered(r),
        }
    }

    pub(crate) fn streamed(plan: Plan) -> Self {
        Body {
            kind: Kind::Streamed(Arc::new(plan)),
        }
    }

    #[cfg(test)]
    pub(crate) fn cached(&self) -> Option<&Arc<Rendered>> {
        match &self.kind {
            Kind::Rendered(r) => Some(r),
            Kind::Streamed(_) => None,
        }
    }

    /// The uncompressed body. A large body is assembled here in one buffer; the HTTP server streams it
    /// instead.
    pub fn bytes(&self) -> Bytes {
        match &self.kind {
            Kind::Rendered(r) => r.body.clone(),
            Kind::Streamed(plan) => collect(Pieces::new(plan.clone(), false)),
        }
    }

    /// Length of the uncompressed body, streaming a large one without assembling it.
    #[doc(hidden)]
    pub fn bytes_len(&self) -> usize {
        match &self.kind {
            Kind::Rendered(r) => r.body.len(),
            Kind::Streamed(plan) => Pieces::new(plan.clone(), false).map(|p| p.len()).sum(),
        }
    }

    /// The body gzip-compressed (computed once per rendered body).
    pub fn gzip(&self) -> Bytes {
        match &self.kind {
            Kind::Rendered(r) => r.gzip.get_or_init(|| gzip(&r.body)).clone(),
            Kind::Streamed(plan) => collect(Pieces::new(plan.clone(), true)),
        }
    }

    /// The HTTP response body, gzipped if asked.
    pub(crate) fn into_http(self, gzip: bool) -> axum::body::Body {
        match self.kind {
            Kind::Rendered(_) if gzip => self.gzip().into(),
            Kind::Rendered(r) => r.body.clone().into(),
            Kind::Streamed(plan) => axum::body::Body::new(Pieces::new(plan, gzip)),
        }
    }
}

fn gzip(body: &[u8]) -> Bytes {
    // Fast compression: a cached body changes at most once per interval and is compressed once per change.
    let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
    let _ = enc.write_all(body);
    enc.finish().unwrap_or_default().into()
}

fn collect(pieces: Pieces) -> Bytes {
    let mut out = Vec::new();
    for piece in pieces {
        out.extend_from_slice(&piece);
    }
    out.into()
}

/// The pieces of a streamed body, as an iterator and as an HTTP body.
struct Pieces {
    plan: Arc<Plan>,
    piece: usize,
    /// Capacity of the buffers pieces are cut from.
    buffer: usize,
    out: BytesMut,
    /// The buffer the piece before was cut from. Pieces alternate between the two: by the time a buffer is
    /// used again, the client has usually been sent its piece, and `reserve` takes the buffer back instead of
    /// allocating.
    spare: BytesMut,
    /// Scratch space for [`Chunk::write_lines`].
    head: Vec<u8>,
    /// The next chunk to write, in `plan.order`.
    next: usize,
    /// The next family to write a header for.
    family: usize,
    gzip: Option<GzEncoder<Vec<u8>>>,
    done: bool,
}

impl Pieces {
    fn new(plan: Arc<Plan>, gzip: bool) -> Self {
        Self::sized(plan, gzip, PIECE, 4 * PIECE)
    }

    /// Pieces of at least `piece` bytes (but the last), written into buffers of `capacity`.
    fn sized(plan: Arc<Plan>, gzip: bool, piece: usize, capacity: usize) -> Self {
        Pieces {
            out: BytesMut::with_capacity(capacity),
            spare: BytesMut::new(),
            head: Vec::new(),
            piece,
            buffer: capacity,
            plan,
            next: 0,
            family: 0,
            gzip: gzip.then(|| GzEncoder::new(Vec::with_capacity(PIECE / 2), Compression::fast())),
            done: false,
        }
    }

    /// Writes chunks until the piece is full or every chunk is written.
    fn write_chunks(&mut self) {
        let plan = &*self.plan;
        let order = &plan.order;
        while self.next < order.len() && self.out.len() < self.piece {
            let batch = self.next..(self.next + BATCH).min(order.len());
            warm(plan, &order[batch.clone()]);
            for i in batch {
                if self.out.len() >= self.piece {
                    break;
                }
                if plan
                    .families
                    .get(self.family)
                    .is_some_and(|f| f.first as usize == i)
                {
                    self.out.extend_from_slice(plan.header(self.family));
                    self.family += 1;
                }
                let chunk = plan.chunk(order[i]);
                self.out.reserve(chunk.len(plan.format));
                chunk.write_lines(&mut self.out, plan.format, &mut self.head);
                self.next = i + 1;
            }
        }
    }
}

/// Chunks looked up together before any of them is written: see [`warm`].
const BATCH: usize = 64;

/// Reads the record and the first bytes of each chunk of `batch`. Chunks in output order lie far apart in
/// memory, so each lookup misses the cache. In a loop that does nothing else the processor overlaps those misses, where between
/// copies each would stall on its own (`docs/performance.md` §2). (Safe Rust has no
/// prefetch instruction.)
fn warm(plan: &Plan, batch: &[(u32, u32)]) {
    // Records first, then lines: the address of a chunk's lines is in its record, so in one pass each lookup
    // would be two misses one after the other.
    let mut seen = 0u32;
    for &(r, j) in batch {
        seen ^= plan.run(r).touch(j as usize);
    }
    let mut seen = seen as u8;
    for &at in batch {
        seen ^= plan.chunk(at).touch();
    }
    std::hint::black_box(seen);
}

impl Iterator for Pieces {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        while !self.done {
            self.write_chunks();
            if self.next == self.plan.order.len() {
                self.out.extend_from_slice(&self.plan.extra);
                if self.plan.format == Format::OpenMetrics {
                    self.out.extend_from_slice(EOF);
                }
                self.done = true;
            }
            let plain = self.out.split().freeze();
            if !self.done {
                std::mem::swap(&mut self.out, &mut self.spare);
                self.out.reserve(self.buffer);
            }
            let piece = match &mut self.gzip {
                None => plain,
                Some(enc) => {
                    // Writing to a Vec cannot fail.
                    let _ = enc.write_all(&plain);
                    if self.done {
                        let enc = self.gzip.take().expect("gzip encoder present");
                        enc.finish().unwrap_or_default().into()
                    } else {
                        std::mem::take(enc.get_mut()).into()
                    }
                }
            };
            if !piece.is_empty() {
                return Some(piece);
            }
        }
        None
    }
}

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        // Each piece is a bounded amount of copying (and compressing): no need to yield in between.
        Poll::Ready(self.get_mut().next().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::cache::CollectorCache;
    use crate::encode::{ConstLabels, FamilyWriter};
    use crate::{CollectError, Labels, Sample};

    /// Thirty targets' collectors, laid out to exercise the plan: one-series families in every target (like
    /// `pg_settings`), families of many series, families only some targets have, a family name behind two
    /// different help texts, a failed collector (health only).
    fn caches() -> Vec<(&'static str, CollectorCache)> {
        let now = Instant::now();
        let mut out = Vec::new();
        for t in 0..30 {
            let consts = Arc::new(ConstLabels::new(
                Labels::new().with("target", format!("t{t}")),
            ));
            let cache = |name: &'static str, run: Result<Vec<Sample>, CollectError>| {
                let c = CollectorCache::new(consts.clone(), Duration::from_secs(60));
                c.record(run, Duration::ZERO, now);
                (name, c)
            };
            let settings = (0..40)
                .map(|k| Sample::gauge(format!("demo_setting_{k:02}"), "A setting.", k as f64))
                .collect();
            out.push(cache("settings", Ok(settings)));
            let mut rows: Vec<Sample> = (0..20)
                .flat_map(|row| {
                    [
                        Sample::counter("demo_big_total", "Large.", row as f64)
                            .label("row", row.to_string()),
                        Sample::gauge("demo_rows", "Rows.", row as f64 / 3.0)
                            .label("row", row.to_string()),
                    ]
                })
                .collect();
            if t % 3 == 0 {
                rows.push(Sample::gauge("demo_sometimes", "Some targets.", 1.0));
            }
            let help = if t % 2 == 0 {
                "Even help."
            } else {
                "Odd help."
            };
            rows.push(Sample::gauge("demo_help", help, t as f64));
            out.push(cache("rows", Ok(rows)));
            if t % 7 == 0 {
                out.push(cache(
                    "failing",
                    Err(CollectError::Timeout(Duration::from_secs(1))),
                ));
            }
        }
        out
    }

    fn snapshots(caches: &[(&str, CollectorCache)], now: Instant) -> Vec<CacheSnapshot> {
        caches.iter().map(|(n, c)| c.snapshot(n, now)).collect()
    }

    fn reference(format: Format, snapshots: &[CacheSnapshot], extra: &[u8]) -> Vec<u8> {
        let runs: Vec<_> = snapshots
            .iter()
            .flat_map(|s| [(&s.data, &*s.consts), (&s.health, &*s.consts)])
            .collect();
        let mut w = FamilyWriter::new(format, 0);
        w.write_all(&runs);
        w.out.extend_from_slice(extra);
        w.finish()
    }

    /// Asserts `got == want`, showing where they first differ.
    fn same(got: &[u8], want: &[u8], what: &str) {
        if got != want {
            let at = got.iter().zip(want).take_while(|(a, b)| a == b).count();
            let show = |b: &[u8]| {
                String::from_utf8_lossy(&b[at.saturating_sub(80)..(at + 80).min(b.len())])
                    .into_owned()
            };
            panic!(
                "{what}: {} bytes, want {}; first difference at {at}:\n{}\n---- want:\n{}",
                got.len(),
                want.len(),
                show(got),
                show(want)
            );
        }
    }

    #[test]
    fn pieces_of_any_size_write_the_reference_bytes() {
        let extra = Bytes::from_static(b"# HELP z_extra Extra.\n# TYPE z_extra gauge\nz_extra 1\n");
        let (caches, now) = (caches(), Instant::now());
        for format in [Format::Text, Format::OpenMetrics] {
            let want = reference(format, &snapshots(&caches, now), &extra);
            let plan = Plan::new(format, snapshots(&caches, now), extra.clone());
            assert_eq!(plan.size(), want.len(), "{format:?}");
            let plan = Arc::new(plan);
            // A piece per chunk (batches cut short), a few chunks per piece, several batches per piece.
            for piece in [1, 500, 20_000] {
                let what = format!("{format:?}, pieces of {piece}");
                let pieces: Vec<Bytes> = Pieces::sized(plan.clone(), false, piece, 64).collect();
                // A piece ends once it is large enough, even within a batch: one chunk per piece here.
                assert!(
                    pieces[..pieces.len() - 1].iter().all(|p| p.len() >= piece),
                    "{what}"
                );
                if piece == 1 {
                    assert!(pieces.len() > 1_500, "{what}: {} pieces", pieces.len());
                }
                same(&pieces.concat(), &want, &what);
                let gz = collect(Pieces::sized(plan.clone(), true, piece, 64));
                let mut plain = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain)
                    .unwrap();
                same(&plain, &want, &format!("{what}, gzip"));
            }
            let whole = Arc::try_unwrap(plan)
                .ok()
                .expect("no other owner")
                .write_whole();
            same(&whole, &want, &format!("{format:?}, whole"));
        }
    }

    #[test]
    fn an_empty_plan_is_the_extra_bytes() {
        let plan = Plan::new(
            Format::OpenMetrics,
            Vec::new(),
            Bytes::from_static(b"x 1\n"),
        );
        assert_eq!(plan.write_whole(), Bytes::from_static(b"x 1\n# EOF\n"));
    }
}

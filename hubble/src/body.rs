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

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http_body::Frame;

use crate::cache::CacheSnapshot;
use crate::encode::{Chunk, FamilyWriter, Format};

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
    pub fn new(
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

/// What a large body is written from: the collectors' chunks at the start of the scrape, in output order.
pub(crate) struct Plan {
    format: Format,
    snapshots: Vec<CacheSnapshot>,
    /// (snapshot, family) in output order; family indexes `data` then `health`.
    order: Vec<(u32, u32)>,
    extra: Bytes,
    /// About the body's length: lines, plus room for headers.
    size: usize,
}

impl Plan {
    pub fn new(format: Format, snapshots: Vec<CacheSnapshot>, extra: Bytes) -> Self {
        // A counting sort by family: count each family's chunks, order the few distinct families by name,
        // then place every chunk at its family's next slot. Far cheaper than sorting every chunk by name, and
        // the order is the only allocation the size of the chunk count. Names are interned, so a family's
        // chunks mostly share one record; equal names behind different records end up adjacent after the
        // sort, which is all the writer needs. Within a family, chunks keep the order of exporters and
        // collectors.
        // Family record's address → (its first chunk, its chunk count; later its next slot in `order`).
        let mut families: HashMap<usize, ((u32, u32), usize), BuildHasherDefault<AddressHasher>> =
            HashMap::default();
        let mut size = extra.len() + 16;
        let mut total = 0;
        for_each_chunk(&snapshots, |f, at| {
            size += f.len(format);
            total += 1;
            families
                .entry(Arc::as_ptr(f.meta) as usize)
                .or_insert((at, 0))
                .1 += 1;
        });
        let mut plan = Plan {
            format,
            snapshots,
            order: Vec::new(),
            extra,
            size: size + families.len() * 128,
        };
        let mut sorted: Vec<_> = families.values_mut().collect();
        sorted.sort_by(|a, b| plan.chunk(a.0).meta.name.cmp(&plan.chunk(b.0).meta.name));
        let mut start = 0;
        for (_, count) in sorted {
            (*count, start) = (start, start + *count);
        }
        let mut order = vec![(0, 0); total];
        for_each_chunk(&plan.snapshots, |f, at| {
            if let Some((_, slot)) = families.get_mut(&(Arc::as_ptr(f.meta) as usize)) {
                order[*slot] = at;
                *slot += 1;
            }
        });
        plan.order = order;
        plan
    }

    /// About the length of the body.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The whole body in one buffer.
    pub fn write_whole(self) -> Bytes {
        let capacity = self.size;
        Pieces::sized(Arc::new(self), false, usize::MAX, capacity)
            .next()
            .unwrap_or_default()
    }

    fn chunk(&self, (i, j): (u32, u32)) -> Chunk<'_> {
        chunk(&self.snapshots[i as usize], j as usize)
    }
}

/// Calls `f` with every chunk and its position, in exporter and collector order.
fn for_each_chunk(snapshots: &[CacheSnapshot], mut f: impl FnMut(Chunk<'_>, (u32, u32))) {
    for (i, s) in snapshots.iter().enumerate() {
        for j in 0..s.data.families.len() + s.health.families.len() {
            f(chunk(s, j), (i as u32, j as u32));
        }
    }
}

/// A snapshot's `j`th family, counting its data families first, then its health families.
fn chunk(s: &CacheSnapshot, j: usize) -> Chunk<'_> {
    match j.checked_sub(s.data.families.len()) {
        None => s.data.chunk(j, &s.consts),
        Some(h) => s.health.chunk(h, &s.consts),
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
    /// Capacity of the buffer pieces are cut from.
    buffer: usize,
    next: usize,
    writer: FamilyWriter,
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
            writer: FamilyWriter::new(plan.format, capacity),
            piece,
            buffer: capacity,
            plan,
            next: 0,
            gzip: gzip.then(|| GzEncoder::new(Vec::with_capacity(PIECE / 2), Compression::fast())),
            done: false,
        }
    }
}

impl Iterator for Pieces {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        while !self.done {
            let order = &self.plan.order;
            while self.next < order.len() && self.writer.out.len() < self.piece {
                self.writer.write(&self.plan.chunk(order[self.next]));
                self.next += 1;
            }
            if self.next == order.len() {
                self.writer.out.extend_from_slice(&self.plan.extra);
                self.writer.end();
                self.done = true;
            }
            // The piece shares the writer's buffer; once the client has been sent the earlier pieces,
            // `reserve` takes the buffer back instead of allocating.
            let plain = self.writer.out.split().freeze();
            if !self.done {
                self.writer.out.reserve(self.buffer);
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

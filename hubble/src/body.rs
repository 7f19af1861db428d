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
use crate::encode::{write_family_header, Chunk, FamilyMeta, Format, EOF};

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

/// Upper bound on the bytes of one window: the families a scrape writes in one pass over the runs.
const WINDOW: usize = 1 << 20;

/// What a body is written from: the collectors' chunks at the start of the scrape, with the order to write them
/// in.
///
/// Families come out in name order, each family's chunks in exporter and collector order. Taking the chunks in
/// that order one by one jumps between runs far apart in memory for every chunk (a thousand targets each hold
/// 300 one-line `pg_settings` families), and those cache misses were most of a large scrape's time. So the
/// families are grouped into windows of consecutive names, at most [`WINDOW`] bytes each: a window is written
/// in one pass over the runs that hold any of its families, each run's chunks of the window read together
/// (they are adjacent, since a run is sorted by name too) and copied to their family's place in the window.
/// A family larger than a window is written on its own, straight into the pieces.
pub(crate) struct Plan {
    format: Format,
    snapshots: Vec<CacheSnapshot>,
    /// Where each run's chunks start in `ranks`, and one more entry for the end. Run `r` is the data run
    /// (even `r`) or the health run (odd) of snapshot `r / 2`.
    run_start: Vec<u32>,
    /// The family rank (place in name order) of every chunk, run after run.
    ranks: Vec<u32>,
    /// Per rank.
    families: Vec<Family>,
    /// Every family's header, one after another.
    headers: Vec<u8>,
    windows: Vec<Window>,
    /// Per rank: its window.
    window_of: Vec<u32>,
    extra: Bytes,
    /// The body's length.
    size: usize,
}

struct Family {
    /// End of its header in `Plan::headers`; it starts where the previous family's ends.
    header_end: usize,
    /// Bytes of its header and lines.
    len: usize,
}

struct Window {
    ranks: std::ops::Range<u32>,
    /// Bytes of its families.
    len: usize,
    /// A family larger than a window, written straight into the pieces.
    alone: bool,
}

impl Plan {
    pub fn new(format: Format, snapshots: Vec<CacheSnapshot>, extra: Bytes) -> Self {
        Self::windowed(format, snapshots, extra, WINDOW)
    }

    /// A plan with windows of at most `window` bytes.
    fn windowed(
        format: Format,
        snapshots: Vec<CacheSnapshot>,
        extra: Bytes,
        window: usize,
    ) -> Self {
        // One pass over the runs gives every chunk a family id (families are interned, so a family's chunks
        // mostly share one record; ids are keyed by the record's address) and sums each family's bytes.
        let mut ids: HashMap<usize, u32, BuildHasherDefault<AddressHasher>> = HashMap::default();
        let mut metas: Vec<(Arc<FamilyMeta>, usize)> = Vec::new();
        let mut run_start = Vec::with_capacity(2 * snapshots.len() + 1);
        let mut ranks = Vec::new();
        for s in &snapshots {
            for run in [&s.data, &s.health] {
                run_start.push(ranks.len() as u32);
                for j in 0..run.families.len() {
                    let chunk = run.chunk(j, &s.consts);
                    let id = *ids
                        .entry(Arc::as_ptr(chunk.meta) as usize)
                        .or_insert_with(|| {
                            metas.push((chunk.meta.clone(), 0));
                            (metas.len() - 1) as u32
                        });
                    metas[id as usize].1 += chunk.len(format);
                    ranks.push(id);
                }
            }
        }
        run_start.push(ranks.len() as u32);

        // Then the few distinct families are put in name order. Equal names behind different records share
        // a rank, so they get one header.
        let mut by_name: Vec<usize> = (0..metas.len()).collect();
        by_name.sort_by(|&a, &b| metas[a].0.name.cmp(&metas[b].0.name));
        let mut rank_of = vec![0u32; metas.len()];
        let mut families: Vec<Family> = Vec::new();
        let mut headers = Vec::new();
        let mut last_name: Option<&str> = None;
        for id in by_name {
            let (meta, lines) = &metas[id];
            if last_name != Some(&*meta.name) {
                let header_start = headers.len();
                write_family_header(&mut headers, meta, format);
                families.push(Family {
                    header_end: headers.len(),
                    len: headers.len() - header_start,
                });
                last_name = Some(&meta.name);
            }
            let family = families.last_mut().expect("a family was pushed");
            family.len += lines;
            rank_of[id] = (families.len() - 1) as u32;
        }
        for r in &mut ranks {
            *r = rank_of[*r as usize];
        }

        let (windows, window_of) = windows(&families, window);
        let end = if format == Format::OpenMetrics {
            EOF.len()
        } else {
            0
        };
        let size = families.iter().map(|f| f.len).sum::<usize>() + extra.len() + end;
        Plan {
            format,
            snapshots,
            run_start,
            ranks,
            families,
            headers,
            windows,
            window_of,
            extra,
            size,
        }
    }

    /// The length of the body.
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

    /// Run `r`'s `j`th chunk.
    fn chunk(&self, r: usize, j: usize) -> Chunk<'_> {
        let s = &self.snapshots[r / 2];
        let run = if r % 2 == 0 { &s.data } else { &s.health };
        run.chunk(j, &s.consts)
    }

    fn header(&self, rank: u32) -> &[u8] {
        let start = match rank.checked_sub(1) {
            Some(before) => self.families[before as usize].header_end,
            None => 0,
        };
        &self.headers[start..self.families[rank as usize].header_end]
    }
}

/// Groups consecutive families into windows of at most `max` bytes, a larger family alone; returns them and
/// each family's window.
fn windows(families: &[Family], max: usize) -> (Vec<Window>, Vec<u32>) {
    let mut windows = Vec::new();
    let mut window_of = Vec::with_capacity(families.len());
    let mut open = Window {
        ranks: 0..0,
        len: 0,
        alone: false,
    };
    for (rank, family) in (0u32..).zip(families) {
        let alone = family.len > max;
        if !open.ranks.is_empty() && (alone || open.len + family.len > max) {
            let next = rank..rank;
            windows.push(std::mem::replace(
                &mut open,
                Window {
                    ranks: next,
                    len: 0,
                    alone: false,
                },
            ));
        }
        open.ranks.end = rank + 1;
        open.len += family.len;
        open.alone = alone;
        window_of.push(windows.len() as u32);
        if alone {
            let next = rank + 1..rank + 1;
            windows.push(std::mem::replace(
                &mut open,
                Window {
                    ranks: next,
                    len: 0,
                    alone: false,
                },
            ));
        }
    }
    if !open.ranks.is_empty() {
        windows.push(open);
    }
    (windows, window_of)
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
    out: BytesMut,
    /// Scratch space for [`Chunk::write_lines`].
    head: Vec<u8>,
    /// Per run: its next chunk to write, as an index into `plan.ranks`.
    next: Vec<u32>,
    /// Per window: the runs whose next chunk is in it. Filled as the windows before it are written.
    waiting: Vec<Vec<u32>>,
    /// The window being written.
    window: usize,
    /// Its runs, in order, once it is started, and how many of them are written (a family written alone
    /// spans pieces).
    runs: Vec<u32>,
    started: bool,
    written: usize,
    /// Where each family of the window being written continues.
    at: Vec<usize>,
    gzip: Option<GzEncoder<Vec<u8>>>,
    done: bool,
}

impl Pieces {
    fn new(plan: Arc<Plan>, gzip: bool) -> Self {
        Self::sized(plan, gzip, PIECE, WINDOW + PIECE)
    }

    /// Pieces of at least `piece` bytes (but the last), written into buffers of `capacity`.
    fn sized(plan: Arc<Plan>, gzip: bool, piece: usize, capacity: usize) -> Self {
        let runs = plan.run_start.len() - 1;
        let next = plan.run_start[..runs].to_vec();
        let mut waiting = vec![Vec::new(); plan.windows.len()];
        for (r, (&start, &end)) in plan.run_start.iter().zip(&plan.run_start[1..]).enumerate() {
            if start < end {
                let window = plan.window_of[plan.ranks[start as usize] as usize];
                waiting[window as usize].push(r as u32);
            }
        }
        Pieces {
            out: BytesMut::with_capacity(capacity),
            head: Vec::new(),
            piece,
            buffer: capacity,
            next,
            waiting,
            window: 0,
            runs: Vec::new(),
            started: false,
            written: 0,
            at: Vec::new(),
            plan,
            gzip: gzip.then(|| GzEncoder::new(Vec::with_capacity(PIECE / 2), Compression::fast())),
            done: false,
        }
    }

    /// Writes the current window, or as much of a family written alone as makes a piece.
    fn write_window(&mut self) {
        let Pieces {
            plan,
            out,
            head,
            next,
            waiting,
            runs,
            started,
            written,
            at,
            ..
        } = self;
        let plan: &Plan = plan;
        let window = &plan.windows[self.window];
        if !*started {
            // Runs were queued by the windows before, each in order: merge into one order.
            std::mem::swap(runs, &mut waiting[self.window]);
            runs.sort_unstable();
            if window.alone {
                out.extend_from_slice(plan.header(window.ranks.start));
            }
            *started = true;
        }
        if window.alone {
            while *written < runs.len() && out.len() < self.piece {
                let batch = &runs[*written..(*written + BATCH).min(runs.len())];
                warm(plan, next, batch);
                for &r in batch {
                    write_run(plan, window, next, waiting, r, |_, chunk| {
                        out.reserve(chunk.len(plan.format));
                        chunk.write_lines(out, plan.format, head);
                    });
                }
                *written += batch.len();
            }
        } else {
            // Every family's place in the window is known from the plan: lay out the headers, then copy each
            // run's chunks to where their families continue.
            let mut base = out.len();
            out.resize(base + window.len, 0);
            at.clear();
            for rank in window.ranks.clone() {
                let header = plan.header(rank);
                out[base..base + header.len()].copy_from_slice(header);
                at.push(base + header.len());
                base += plan.families[rank as usize].len;
            }
            for (i, &r) in runs.iter().enumerate() {
                if i % BATCH == 0 {
                    warm(plan, next, &runs[i..(i + BATCH).min(runs.len())]);
                }
                write_run(plan, window, next, waiting, r, |rank, chunk| {
                    let at = &mut at[(rank - window.ranks.start) as usize];
                    let len = chunk.len(plan.format);
                    chunk.write_lines(&mut &mut out[*at..*at + len], plan.format, head);
                    *at += len;
                });
            }
            *written = runs.len();
        }
        if *written == runs.len() {
            runs.clear();
            (*started, *written) = (false, 0);
            self.window += 1;
        }
    }
}

/// Writes run `r`'s chunks of `window` with `write` (given each chunk's family rank), and queues the run for
/// the window of its next chunk.
fn write_run(
    plan: &Plan,
    window: &Window,
    next: &mut [u32],
    waiting: &mut [Vec<u32>],
    r: u32,
    mut write: impl FnMut(u32, Chunk<'_>),
) {
    let r = r as usize;
    let (start, end) = (plan.run_start[r], plan.run_start[r + 1]);
    let mut k = next[r];
    while k < end && plan.ranks[k as usize] < window.ranks.end {
        write(plan.ranks[k as usize], plan.chunk(r, (k - start) as usize));
        k += 1;
    }
    next[r] = k;
    if k < end {
        let later = plan.window_of[plan.ranks[k as usize] as usize];
        waiting[later as usize].push(r as u32);
    }
}

/// Runs whose chunks are looked up together before any is written: see [`warm`].
const BATCH: usize = 32;

/// Reads the first bytes of the next chunk of each run in `runs`. Runs lie far apart in memory, so each lookup
/// misses the cache; in a loop that does nothing else, the processor overlaps those misses, where between copies
/// each would stall on its own. (Safe code has no prefetch instruction.)
fn warm(plan: &Plan, next: &[u32], runs: &[u32]) {
    let mut seen = 0u8;
    for &r in runs {
        let r = r as usize;
        seen ^= plan
            .chunk(r, (next[r] - plan.run_start[r]) as usize)
            .touch();
    }
    std::hint::black_box(seen);
}

impl Iterator for Pieces {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        while !self.done {
            while self.out.len() < self.piece && self.window < self.plan.windows.len() {
                self.write_window();
            }
            if self.window == self.plan.windows.len() {
                self.out.extend_from_slice(&self.plan.extra);
                if self.plan.format == Format::OpenMetrics {
                    self.out.extend_from_slice(EOF);
                }
                self.done = true;
            }
            // The piece shares the buffer; once the client has been sent the earlier pieces, `reserve` takes
            // the buffer back instead of allocating.
            let plain = self.out.split().freeze();
            if !self.done {
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
    use crate::{CollectError, Labels, Metric};

    /// Thirty targets' collectors, laid out to exercise the plan: one-series families in every target (like
    /// `pg_settings`), a family too large for a small window, families only some targets have, a family
    /// name behind two different help texts, a failed collector (health only).
    fn caches() -> Vec<CollectorCache> {
        let now = Instant::now();
        let mut out = Vec::new();
        for t in 0..30 {
            let consts = Arc::new(ConstLabels::new(
                Labels::new().with("target", format!("t{t}")),
            ));
            let cache = |name: &str, run: Result<Vec<Metric>, CollectError>| {
                let c = CollectorCache::new(name, consts.clone(), Duration::from_secs(60));
                c.record(run, Duration::ZERO, now);
                c
            };
            let settings = (0..40)
                .map(|k| Metric::gauge(format!("demo_setting_{k:02}"), "A setting.", k as f64))
                .collect();
            out.push(cache("settings", Ok(settings)));
            let mut rows: Vec<Metric> = (0..20)
                .flat_map(|row| {
                    [
                        Metric::counter("demo_big_total", "Large.", row as f64)
                            .label("row", row.to_string()),
                        Metric::gauge("demo_rows", "Rows.", row as f64 / 3.0)
                            .label("row", row.to_string()),
                    ]
                })
                .collect();
            if t % 3 == 0 {
                rows.push(Metric::gauge("demo_sometimes", "Some targets.", 1.0));
            }
            let help = if t % 2 == 0 {
                "Even help."
            } else {
                "Odd help."
            };
            rows.push(Metric::gauge("demo_help", help, t as f64));
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

    fn snapshots(caches: &[CollectorCache], now: Instant) -> Vec<CacheSnapshot> {
        caches.iter().map(|c| c.snapshot(now)).collect()
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
    fn windows_of_any_size_write_the_reference_bytes() {
        let extra = Bytes::from_static(b"# HELP z_extra Extra.\n# TYPE z_extra gauge\nz_extra 1\n");
        let (caches, now) = (caches(), Instant::now());
        for format in [Format::Text, Format::OpenMetrics] {
            let want = reference(format, &snapshots(&caches, now), &extra);
            // Every family alone; windows of a few families, with the large one alone; one window.
            for window in [1, 2_000, 20_000, usize::MAX] {
                let plan = Plan::windowed(format, snapshots(&caches, now), extra.clone(), window);
                assert_eq!(plan.size(), want.len(), "{format:?}, window {window}");
                if window == 2_000 {
                    assert!(plan.windows.iter().any(|w| w.alone));
                    assert!(plan.windows.iter().any(|w| w.ranks.len() > 1));
                }
                let plan = Arc::new(plan);
                let pieces: Vec<Bytes> = Pieces::sized(plan.clone(), false, 512, 4096).collect();
                if window <= 2_000 {
                    assert!(pieces.len() > 10, "{format:?}, window {window}");
                }
                same(
                    &pieces.concat(),
                    &want,
                    &format!("{format:?}, window {window}"),
                );
                let gz = collect(Pieces::sized(plan.clone(), true, 512, 4096));
                let mut plain = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain)
                    .unwrap();
                same(&plain, &want, &format!("{format:?}, window {window}, gzip"));
                let whole = Arc::try_unwrap(plan)
                    .ok()
                    .expect("no other owner")
                    .write_whole();
                same(
                    &whole,
                    &want,
                    &format!("{format:?}, window {window}, whole"),
                );
            }
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

//! The `process_*` metrics client libraries export (CPU, memory, file descriptors, threads, start time), of
//! the exporter itself or of another process by its pid, read from Linux's `/proc`.
//!
//! The `prometheus` crate's process collector reads the same files through `procfs`; reading them here
//! takes `procfs` (and its `rustix`) out of the build. What a gather costs is mostly the kernel writing
//! those files (`perf record` in `docs/performance.md` §10), so the registry gathers at most once a second,
//! and the exporter's own CPU time and file limit come from system calls instead of files.
//!
//! ```
//! use hubble::prometheus::core::Collector;
//!
//! let process = hubble::process::ProcessMetrics::for_self();
//! let families = process.collect();
//! # #[cfg(target_os = "linux")]
//! assert!(families.iter().any(|f| f.name() == "process_resident_memory_bytes"));
//! ```

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Counter, IntGauge, Opts};

/// A collector of one process's `process_*` families (prefixed `NAMESPACE_` when given). A process that is
/// gone, or a system without `/proc`, gives no families.
#[derive(Debug)]
pub struct ProcessMetrics {
    /// `/proc/self` or `/proc/PID`.
    dir: PathBuf,
    /// The exporter's own: its CPU time and file limit come from system calls.
    own: bool,
    descs: Vec<Desc>,
    cpu: Counter,
    open_fds: IntGauge,
    max_fds: IntGauge,
    vsize: IntGauge,
    rss: IntGauge,
    start_time: IntGauge,
    threads: IntGauge,
    /// One collection at a time: the CPU counter is set from the total each time.
    collecting: Mutex<()>,
}

impl ProcessMetrics {
    /// The exporter's own, unprefixed (`process_cpu_seconds_total`, ...).
    pub fn for_self() -> Self {
        Self::at(PathBuf::from("/proc/self"), "", true)
    }

    /// Those of process `pid`, prefixed `namespace_` (none when empty).
    pub fn for_pid(pid: u32, namespace: &str) -> Self {
        Self::at(PathBuf::from(format!("/proc/{pid}")), namespace, false)
    }

    fn at(dir: PathBuf, namespace: &str, own: bool) -> Self {
        let opts = |name: &str, help: &str| Opts::new(name, help).namespace(namespace);
        let gauge =
            |name: &str, help: &str| IntGauge::with_opts(opts(name, help)).expect("valid name");
        let cpu = Counter::with_opts(opts(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
        ))
        .expect("valid name");
        let open_fds = gauge("process_open_fds", "Number of open file descriptors.");
        let max_fds = gauge(
            "process_max_fds",
            "Maximum number of open file descriptors.",
        );
        let vsize = gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
        );
        let rss = gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
        );
        let start_time = gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
        );
        let threads = gauge("process_threads", "Number of OS threads in the process.");
        let mut descs = Vec::new();
        descs.extend(cpu.desc().into_iter().cloned());
        for g in [&open_fds, &max_fds, &vsize, &rss, &start_time, &threads] {
            descs.extend(g.desc().into_iter().cloned());
        }
        ProcessMetrics {
            dir,
            own,
            descs,
            cpu,
            open_fds,
            max_fds,
            vsize,
            rss,
            start_time,
            threads,
            collecting: Mutex::new(()),
        }
    }
}

impl Collector for ProcessMetrics {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut buf = [0u8; STAT_BUF];
        let Some(stat) = read_small(&self.dir.join("stat"), &mut buf).and_then(Stat::parse) else {
            return Vec::new();
        };
        let _one = self.collecting.lock().unwrap_or_else(|e| e.into_inner());
        let ticks = rustix::param::clock_ticks_per_second().max(1) as f64;
        // Its own CPU and file limit by system call: exact to the nanosecond, where `stat` counts clock ticks,
        // and cheaper than generating `stat`'s times and the `limits` file.
        let cpu = if self.own {
            let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
            t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
        } else {
            (stat.utime + stat.stime) as f64 / ticks
        };
        self.cpu.reset();
        self.cpu.inc_by(cpu);
        self.vsize.set(saturating(stat.vsize));
        self.rss.set(saturating(
            stat.rss.saturating_mul(rustix::param::page_size() as u64),
        ));
        self.threads.set(saturating(stat.threads));
        let mut out = self.cpu.collect();
        if let Some(boot) = boot_time() {
            self.start_time
                .set(saturating(boot + stat.start_ticks / ticks as u64));
            out.extend(self.start_time.collect());
        }
        if let Ok(fds) = std::fs::read_dir(self.dir.join("fd")) {
            self.open_fds.set(saturating(fds.count() as u64));
            out.extend(self.open_fds.collect());
        }
        let max = if self.own {
            rustix::process::getrlimit(rustix::process::Resource::Nofile).current
        } else {
            max_open_files(&self.dir)
        };
        if let Some(max) = max {
            self.max_fds.set(saturating(max));
            out.extend(self.max_fds.collect());
        }
        for g in [&self.vsize, &self.rss, &self.threads] {
            out.extend(g.collect());
        }
        out
    }
}

/// Room for `/proc/PID/stat` (about 300 bytes) and `limits` (about 1.4 KB).
const STAT_BUF: usize = 4096;

/// A small `/proc` file read into `buf` with one `open` and as few `read`s as it takes (no `statx` or growing
/// buffer as `read_to_string` has); `None` when unreadable, not text, or not shorter than `buf`.
fn read_small<'b>(path: &std::path::Path, buf: &'b mut [u8]) -> Option<&'b str> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut len = 0;
    loop {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
        if len == buf.len() {
            return None;
        }
    }
    std::str::from_utf8(&buf[..len]).ok()
}

fn saturating(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// What the collector takes from `/proc/PID/stat`.
#[derive(Debug, PartialEq)]
struct Stat {
    utime: u64,
    stime: u64,
    threads: u64,
    start_ticks: u64,
    vsize: u64,
    /// Pages.
    rss: u64,
}

impl Stat {
    /// Fields after the command name, which is in parentheses and may itself hold spaces and parentheses
    /// (proc(5): field 3 is the state, 14 and 15 utime and stime, 20 the threads, 22 the start time, 23 the
    /// virtual size, 24 the resident pages).
    fn parse(text: &str) -> Option<Stat> {
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
        Some(Stat {
            utime: field(14)?,
            stime: field(15)?,
            threads: field(20)?,
            start_ticks: field(22)?,
            vsize: field(23)?,
            rss: field(24)?,
        })
    }
}

/// The system's boot time (`btime` in `/proc/stat`), read once.
fn boot_time() -> Option<u64> {
    static BOOT: OnceLock<Option<u64>> = OnceLock::new();
    *BOOT.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()
    })
}

/// The soft limit of open files, from `dir/limits`; `None` when unlimited or unreadable.
fn max_open_files(dir: &std::path::Path) -> Option<u64> {
    const LINE: &str = "Max open files";
    let mut buf = [0u8; STAT_BUF];
    let text = read_small(&dir.join("limits"), &mut buf)?;
    text.lines()
        .find_map(|l| l.strip_prefix(LINE))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_found_after_a_command_with_spaces_and_parentheses() {
        let line = "4242 (tokio (rt) w) S 1 4242 4242 0 -1 4194304 900 0 0 0 \
                    250 75 0 0 20 0 7 0 123456 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1";
        assert_eq!(
            Stat::parse(line),
            Some(Stat {
                utime: 250,
                stime: 75,
                threads: 7,
                start_ticks: 123456,
                vsize: 104857600,
                rss: 2560,
            })
        );
        assert_eq!(Stat::parse("4242 (cut short) S 1 2"), None);
        assert_eq!(Stat::parse("no parenthesis"), None);
    }

    /// The value of the one series of family `name`.
    fn value_in(families: &[MetricFamily], name: &str) -> f64 {
        let f = families.iter().find(|f| f.name() == name).unwrap();
        let m = &f.get_metric()[0];
        if name.ends_with("_total") {
            m.get_counter().get_value()
        } else {
            m.get_gauge().get_value()
        }
    }

    #[test]
    fn a_file_longer_than_the_buffer_is_not_read_short() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "x".repeat(100)).unwrap();
        assert_eq!(
            read_small(&path, &mut [0; 101]),
            Some("x".repeat(100).as_str())
        );
        assert_eq!(read_small(&path, &mut [0; 100]), None);
        assert_eq!(read_small(&dir.path().join("gone"), &mut [0; 100]), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_process_reports_its_families_as_the_prometheus_crate_named_them() {
        let families = ProcessMetrics::for_self().collect();
        let mut names: Vec<&str> = families.iter().map(|f| f.name()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "process_cpu_seconds_total",
                "process_max_fds",
                "process_open_fds",
                "process_resident_memory_bytes",
                "process_start_time_seconds",
                "process_threads",
                "process_virtual_memory_bytes",
            ]
        );
        let value = |name: &str| value_in(&families, name);
        assert!(value("process_resident_memory_bytes") > 1e6);
        assert!(value("process_threads") >= 1.0);
        assert!(value("process_open_fds") >= 3.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(
            started <= now + 1.0 && started > now - 86_400.0 * 365.0,
            "{started}"
        );
        // Read by pid, the same process gives the same limit, and CPU time in clock ticks a little behind.
        let by_pid = ProcessMetrics::for_pid(std::process::id(), "");
        let by_pid_families = by_pid.collect();
        let by_pid_value = |name: &str| value_in(&by_pid_families, name);
        assert_eq!(value("process_max_fds"), by_pid_value("process_max_fds"));
        let (own_cpu, pid_cpu) = (
            value("process_cpu_seconds_total"),
            by_pid_value("process_cpu_seconds_total"),
        );
        assert!(
            own_cpu > 0.0 && (own_cpu - pid_cpu).abs() < 0.5,
            "{own_cpu} {pid_cpu}"
        );
        let prefixed = ProcessMetrics::for_pid(std::process::id(), "pgbouncer").collect();
        assert!(prefixed
            .iter()
            .any(|f| f.name() == "pgbouncer_process_open_fds"));
        assert!(ProcessMetrics::for_pid(u32::MAX, "gone")
            .collect()
            .is_empty());
    }
}

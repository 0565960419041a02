//! Shared pieces of the chaos checker (`pgmq-chaos`) and its Rust worker (`chaos-worker`): the clock every
//! process logs with, the seeded random generator, and the DSN helper.

use std::io::Write;

/// Microseconds of `CLOCK_MONOTONIC`: one clock for every process on this machine (Rust, Python's
/// `time.monotonic_ns()`, Node's `process.hrtime.bigint()`), immune to wall-clock steps, so timestamps
/// logged by different workers can be compared.
pub fn mono_us() -> i64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec * 1_000_000 + t.tv_nsec / 1_000
}

/// Writes one JSON line to stdout and flushes it (one `write` per line, so a SIGKILL never splits one).
pub fn emit(value: &serde_json::Value) {
    let mut line = value.to_string();
    line.push('\n');
    let mut out = std::io::stdout().lock();
    if out.write_all(line.as_bytes()).and_then(|_| out.flush()).is_err() {
        std::process::exit(0); // the checker is gone
    }
}

/// Exits this worker once its parent (the checker) is gone, so that a checker that dies never leaves
/// workers behind. Call once, inside a tokio runtime.
pub fn exit_when_orphaned() {
    let parent = rustix::process::getppid();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            if rustix::process::getppid() != parent {
                std::process::exit(0);
            }
        }
    });
}

/// `dsn` with `application_name` set, so that the fault injector can find this process's connections in
/// `pg_stat_activity`. Works for URLs and for key=value strings.
pub fn dsn_with_app_name(dsn: &str, app: &str) -> String {
    if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
        let sep = if dsn.contains('?') { '&' } else { '?' };
        format!("{dsn}{sep}application_name={app}")
    } else {
        format!("{dsn} application_name={app}")
    }
}

/// A small seeded generator (SplitMix64): the same seed gives the same sequence, on every platform.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`; `stream` separates independent sequences drawn from one seed.
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F));
        r.next_u64();
        r
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi]`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Exponentially distributed with this mean (for fault inter-arrival times).
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.next_u64() as usize % items.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_reproducible() {
        let mut a = Rng::new(42, 1);
        let mut b = Rng::new(42, 1);
        let mut c = Rng::new(42, 2);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        assert_eq!(xs, (0..5).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(xs, (0..5).map(|_| c.next_u64()).collect::<Vec<_>>());
        assert!((0..1000).all(|_| (3..=7).contains(&a.range(3, 7))));
    }

    #[test]
    fn dsn_gets_an_application_name() {
        assert_eq!(dsn_with_app_name("postgres://u@h/db", "x"), "postgres://u@h/db?application_name=x");
        assert_eq!(dsn_with_app_name("postgres://u@h/db?a=b", "x"), "postgres://u@h/db?a=b&application_name=x");
        assert_eq!(dsn_with_app_name("host=h user=u", "x"), "host=h user=u application_name=x");
    }
}

//! DSNs, queue names and options, as `connect`, `create_queue` and `receiver` check them before touching
//! the database: never a panic; a DSN is parsed or `invalid_option`; a name is accepted exactly when it
//! matches `^[a-zA-Z0-9_-]{1,48}$`; options are accepted exactly when the documented rules hold, and then
//! every duration converts to the microseconds PostgreSQL stores.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pgmq_core::fuzzing::{parse_dsn, validate_queue_options, validate_receive_options, MAX_INTERVAL};
use pgmq_core::{
    validate_new_queue_name, validate_queue_name, Attribute, Backoff, DeadLetterOptions, QueueOptions, ReceiveOptions,
};

#[derive(Arbitrary, Debug)]
struct Input {
    dsn: String,
    name: String,
    ack: (u64, u32),
    attempts: u32,
    retention: (u64, u32),
    dlq: Option<((u64, u32), u32, (u64, u32))>,
    backoff: Option<((u64, u32), f64, (u64, u32), bool)>,
    batch_size: usize,
    batch_size_signed: i64,
    poll: (u64, u32),
    like: Option<String>,
}

fn d((secs, nanos): (u64, u32)) -> Duration {
    // Small durations are the interesting ones; keep many of them near the limits.
    Duration::new(secs % (MAX_INTERVAL.as_secs() * 2 + 2), nanos % 1_000_000_000)
}

fn plain(name: &str) -> bool {
    (1..=48).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fuzz_target!(|input: Input| {
    if let Err(e) = parse_dsn(&input.dsn) {
        assert_eq!(e.code(), "invalid_option", "{e}");
    }

    let name = &input.name;
    assert_eq!(validate_new_queue_name(name).is_ok(), plain(name), "{name:?}");
    assert_eq!(validate_queue_name(name).is_ok(), plain(name.strip_prefix("dlq@").unwrap_or(name)), "{name:?}");
    for r in [validate_new_queue_name(name), validate_queue_name(name)] {
        if let Err(e) = r {
            assert_eq!(e.code(), "invalid_queue_name");
        }
    }

    let options = QueueOptions::default()
        .ack_deadline(d(input.ack))
        .max_delivery_attempts(input.attempts)
        .retention_period(d(input.retention))
        .dead_letter_queue(input.dlq.map(|(a, n, r)| DeadLetterOptions {
            ack_deadline: d(a),
            max_delivery_attempts: n,
            retention_period: d(r),
        }))
        .backoff(input.backoff.map(|(base, factor, max, jitter)| Backoff {
            base: d(base),
            factor,
            max: d(max),
            jitter,
        }));
    let lease = |ack: Duration, n: u32, retention: Duration| {
        ack >= Duration::from_secs(1)
            && ack <= MAX_INTERVAL
            && (1..=i32::MAX as u32).contains(&n)
            && !retention.is_zero()
            && retention <= MAX_INTERVAL
    };
    let valid = lease(options.ack_deadline, options.max_delivery_attempts, options.retention_period)
        && options
            .dead_letter_queue
            .as_ref()
            .is_none_or(|q| lease(q.ack_deadline, q.max_delivery_attempts, q.retention_period))
        && options
            .backoff
            .as_ref()
            .is_none_or(|b| b.factor.is_finite() && b.factor >= 1.0 && b.base <= b.max && b.max <= MAX_INTERVAL);
    match validate_queue_options(&options) {
        Ok(()) => assert!(valid, "accepted {options:?}"),
        Err(e) => {
            assert_eq!(e.code(), "invalid_option", "{e}");
            assert!(!valid, "rejected {options:?}: {e}");
        }
    }

    let batch_ok = (1..=100_000).contains(&input.batch_size_signed);
    assert_eq!(ReceiveOptions::checked_batch_size(input.batch_size_signed).is_ok(), batch_ok);
    let mut receive = ReceiveOptions::default().batch_size(input.batch_size).poll_interval(d(input.poll));
    if let Some(pattern) = &input.like {
        receive = receive.filter(Attribute::new("k").is_like(pattern.as_str()));
    }
    if let Err(e) = validate_receive_options(&receive) {
        assert_eq!(e.code(), "invalid_option", "{e}");
    }
    let receive_ok = (1..=100_000).contains(&input.batch_size) && !d(input.poll).is_zero();
    if receive_ok && input.like.is_none() {
        assert!(validate_receive_options(&receive).is_ok());
    }
});

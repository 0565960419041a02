//! The tables of docs/options.md and docs/errors.md that come from the core's table of truths
//! (`pgmq_core::truths_json`): every value in them is the core's, so the documentation cannot drift from
//! what the code does. A block between `<!-- generated: NAME -->` and `<!-- end -->` is checked here;
//! `make docs` (PGMQ_UPDATE_DOCS=1) rewrites the generated cells in place and keeps the hand-written ones
//! (the rules, and each language's names, which each binding's own tests check).

use std::path::{Path, PathBuf};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn truths() -> Value {
    serde_json::from_str(&pgmq_core::truths_json()).unwrap()
}

fn updating() -> bool {
    std::env::var_os("PGMQ_UPDATE_DOCS").is_some()
}

/// The lines strictly between the markers of block `name`, as a range of line indexes.
fn block(lines: &[String], name: &str, file: &str) -> std::ops::Range<usize> {
    let open = format!("<!-- generated: {name} -->");
    let start = lines.iter().position(|l| l.trim() == open).unwrap_or_else(|| panic!("{file} has no {open}"));
    let end = start + lines[start..].iter().position(|l| l.trim() == "<!-- end -->").expect("an <!-- end --> marker");
    start + 1..end
}

/// The cells of a markdown table row (`| a | b |` -> ["a", "b"]); `|` inside backticks does not split.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    let (mut out, mut cell, mut code) = (Vec::new(), String::new(), false);
    for c in inner.chars() {
        match c {
            '`' => {
                code = !code;
                cell.push(c);
            }
            '|' if !code => out.push(std::mem::take(&mut cell).trim().to_owned()),
            _ => cell.push(c),
        }
    }
    out.push(cell.trim().to_owned());
    out
}

fn row(cells: &[String]) -> String {
    format!("| {} |", cells.join(" | "))
}

/// A duration as the docs write it: `7 days`, `10 min`, `30 s`, `50 ms`.
fn duration(ms: u64) -> String {
    const DAY: u64 = 86_400_000;
    match ms {
        0 => "0".to_owned(),
        _ if ms % DAY == 0 => format!("{} day{}", ms / DAY, if ms == DAY { "" } else { "s" }),
        _ if ms % 3_600_000 == 0 => format!("{} h", ms / 3_600_000),
        _ if ms % 60_000 == 0 => format!("{} min", ms / 60_000),
        _ if ms % 1_000 == 0 => format!("{} s", ms / 1_000),
        _ => format!("{ms} ms"),
    }
}

/// A truths value as a table cell: durations (`*_ms`) in words, strings and booleans as code.
fn value(key: &str, v: &Value) -> String {
    match v {
        Value::Number(n) if key.ends_with("_ms") => duration(n.as_u64().expect("whole milliseconds")),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => format!("`{b}`"),
        Value::String(s) => format!("`{s}`"),
        Value::Null => "none".to_owned(),
        other => panic!("no table cell for {key}: {other}"),
    }
}

fn lookup<'a>(truths: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(truths, |v, k| v.get(k).unwrap_or_else(|| panic!("truths_json has no {path}")))
}

/// Rows of the defaults table whose default cell is the core's value, by the row's option cell. Every
/// other leaf of `defaults` is in [`DOCUMENTED_ELSEWHERE`].
const DEFAULT_ROWS: &[(&str, &str)] = &[
    ("`QueueOptions::ack_deadline`", "defaults.queue.ack_deadline_ms"),
    ("`QueueOptions::max_delivery_attempts`", "defaults.queue.max_delivery_attempts"),
    ("`QueueOptions::retention_period`", "defaults.queue.retention_period_ms"),
    ("`SendOptions::track`", "defaults.send.track"),
    ("`ReceiveOptions::batch_size`", "defaults.receive.batch_size"),
    ("`ReceiveOptions::poll_interval`", "defaults.receive.poll_interval_ms"),
    ("`Completion::with_poll_interval`", "defaults.completion.poll_interval_ms"),
    ("`Queue::request` timeout", "defaults.request.timeout_ms"),
    ("`QueueOptions::max_messages`", "defaults.queue.max_messages"),
    ("`SendOptions::wait_for_room`", "defaults.send.wait_for_room_ms"),
    ("`SendOptions::wait_for_room` re-try", "defaults.send.room_poll_interval_ms"),
    ("`PeekOptions::limit`", "defaults.peek.limit"),
    ("`ClientOptions::pool_size`", "defaults.client.pool_size"),
    ("`ClientOptions::connect_timeout`", "defaults.client.connect_timeout_ms"),
    ("`ClientOptions::statement_timeout`", "defaults.client.statement_timeout_ms"),
    ("`ClientOptions::connect_retry`", "defaults.client.connect_retry_ms"),
    ("`ClientOptions::schema`", "defaults.client.schema"),
    ("`ClientOptions::maintenance_interval`", "defaults.client.maintenance_interval_ms"),
    ("`Backoff::base`", "defaults.backoff.base_ms"),
    ("`Backoff::factor`", "defaults.backoff.factor"),
    ("`Backoff::max`", "defaults.backoff.max_ms"),
    ("`Backoff::jitter`", "defaults.backoff.jitter"),
];

/// Leaves of `defaults` that are not a row of the defaults table, and where the docs give them.
const DOCUMENTED_ELSEWHERE: &[&str] = &[
    "defaults.queue.dead_letter_queue",     // the dead_letter_queue row: `dlq@<name>` with the DLQ defaults
    "defaults.queue.backoff",               // the backoff row: none
    "defaults.dead_letter_queue.ack_deadline_ms", // the dead_letter_queue row
    "defaults.dead_letter_queue.max_delivery_attempts",
    "defaults.dead_letter_queue.retention_period_ms",
    "defaults.receive.max_batch_size",      // the limits table
    "defaults.peek.max_limit",              // the limits table
    "defaults.client.application_name",     // the application_name row: `pgmq-<language>`
    "defaults.client.application_name_prefix",
    "defaults.client.keepalives_count",     // the limits table (connection keepalives)
    "defaults.client.keepalives_idle_ms",
    "defaults.client.keepalives_interval_ms",
    "defaults.client.tcp_user_timeout_ms",
    "defaults.client.reconnect_backoff_min_ms", // the on_error row: 50 ms doubling to 5 s
    "defaults.client.reconnect_backoff_max_ms",
];

/// Rows of the limits table: the truths path, and what the limit bounds.
const LIMIT_ROWS: &[(&str, &str)] = &[
    ("limits.max_queue_name_len", "characters in a queue name (not counting the `dlq@` prefix)"),
    ("limits.max_schema_name_len", "characters in the `schema` option"),
    ("limits.max_send_bytes", "bytes of bodies and attributes (as JSON) in one send or send batch"),
    ("limits.max_filter_depth", "nesting of a filter's `and` / `or` / `not`"),
    ("limits.min_ack_deadline_ms", "shortest ack deadline"),
    ("limits.max_delivery_attempts", "largest `max_delivery_attempts`"),
    ("limits.max_duration_ms", "longest duration any option takes (about 100 years)"),
    ("defaults.receive.max_batch_size", "largest receive `batch_size`"),
    ("defaults.peek.max_limit", "largest peek `limit`"),
    ("limits.notify_max_ids", "ids one notification lists; more, and it says `*` (re-read everything)"),
    ("limits.max_messages", "largest `max_messages` of a bounded queue"),
    ("limits.max_group_len", "bytes of a job group id"),
    ("limits.max_dependencies", "dependencies of one message (`depends_on` and `after` together)"),
    ("limits.migrate_lock_timeout_ms", "how long `migrate` waits for a table lock before it gives up with `timeout`"),
    ("defaults.client.keepalives_idle_ms", "TCP keepalive: idle time before the first probe (unless the DSN sets `keepalives_idle`)"),
    ("defaults.client.keepalives_interval_ms", "TCP keepalive: time between probes (DSN `keepalives_interval`)"),
    ("defaults.client.keepalives_count", "TCP keepalive: probes lost before the connection is dropped (DSN `keepalives_count`)"),
    ("defaults.client.tcp_user_timeout_ms", "unacknowledged data before the connection is dropped (DSN `tcp_user_timeout`)"),
];

fn leaves(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => map.iter().for_each(|(k, v)| leaves(v, &format!("{prefix}.{k}"), out)),
        _ => out.push(prefix.to_owned()),
    }
}

/// Checks (or, updating, rewrites) one file's generated blocks with `fix`, which returns the block's new
/// lines and the differences it found.
fn check_file(file: &str, fix: impl Fn(&[String]) -> (Vec<String>, Vec<String>)) {
    let path = repo().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let (new_lines, problems) = fix(&lines);
    if problems.is_empty() {
        return;
    }
    if updating() {
        std::fs::write(&path, new_lines.join("\n") + "\n").unwrap();
        eprintln!("{file}: rewrote {} generated cell(s)", problems.len());
    } else {
        panic!("{file} differs from the core's table (run `make docs`):\n  {}", problems.join("\n  "));
    }
}

#[test]
fn the_defaults_and_limits_in_docs_options_md_are_the_cores() {
    let truths = truths();
    let mut all = Vec::new();
    leaves(&truths["defaults"], "defaults", &mut all);
    let covered: Vec<&str> = DEFAULT_ROWS.iter().map(|(_, p)| *p).chain(DOCUMENTED_ELSEWHERE.iter().copied()).collect();
    let missing: Vec<&String> = all.iter().filter(|p| !covered.contains(&p.as_str())).collect();
    assert!(missing.is_empty(), "defaults with no place in docs/options.md (add them to DEFAULT_ROWS): {missing:?}");
    for (path, _) in LIMIT_ROWS {
        lookup(&truths, path);
    }

    check_file("docs/options.md", |lines| {
        let mut lines = lines.to_vec();
        let mut problems = Vec::new();
        // Defaults: the second cell of each mapped row.
        let range = block(&lines, "defaults", "docs/options.md");
        let mut seen = Vec::new();
        for line in &mut lines[range] {
            let mut row_cells = cells(line);
            if let Some((key, path)) = DEFAULT_ROWS.iter().find(|(k, _)| row_cells[0] == *k) {
                seen.push(*key);
                let want = value(path.rsplit('.').next().unwrap(), lookup(&truths, path));
                if row_cells[1] != want {
                    problems.push(format!("{key}: {:?}, the core says {want:?}", row_cells[1]));
                    row_cells[1] = want;
                    *line = row(&row_cells);
                }
            }
        }
        for (key, _) in DEFAULT_ROWS.iter().filter(|(k, _)| !seen.contains(k)) {
            problems.push(format!("no row for {key} in the defaults table (add it by hand: a rule is prose)"));
        }
        // Limits: the whole table.
        let range = block(&lines, "limits", "docs/options.md");
        let mut table = vec!["| limit | value | what it bounds |".to_owned(), "|---|---|---|".to_owned()];
        for (path, what) in LIMIT_ROWS {
            let key = path.rsplit('.').next().unwrap();
            table.push(row(&[format!("`{path}`"), value(key, lookup(&truths, path)), (*what).to_owned()]));
        }
        if lines[range.clone()] != table[..] {
            problems.push("the limits table".to_owned());
            lines.splice(range, table);
        }
        (lines, problems)
    });
}

#[test]
fn the_error_codes_in_docs_errors_md_are_the_cores() {
    let truths = truths();
    let codes = truths["error_codes"].as_array().unwrap();
    check_file("docs/errors.md", |lines| {
        let mut lines = lines.to_vec();
        let mut problems = Vec::new();
        let range = block(&lines, "error-codes", "docs/errors.md");
        let header = cells(&lines[range.start]);
        assert_eq!(header[..3], ["code", "transient", "meaning"], "docs/errors.md: the table starts with these columns");
        let language_columns = header.len() - 3;
        let rows: Vec<Vec<String>> = lines[range.start + 2..range.end].iter().map(|l| cells(l)).collect();
        let mut table = lines[range.start..range.start + 2].to_vec();
        for code in codes {
            let name = format!("`{}`", code["code"].as_str().unwrap());
            let transient = if code["transient"].as_bool().unwrap() { "yes" } else { "no" };
            let meaning = code["description"].as_str().unwrap().to_owned();
            let mut want = vec![name.clone(), transient.to_owned(), meaning];
            match rows.iter().find(|r| r[0] == name) {
                Some(have) => want.extend(have[3..].iter().cloned()),
                None => want.extend(std::iter::repeat_n("—".to_owned(), language_columns)),
            }
            table.push(row(&want));
        }
        for (have, want) in lines[range.clone()].iter().zip(&table) {
            if have != want {
                problems.push(format!("{have}\n    the core says\n  {want}"));
            }
        }
        if lines[range.clone()].len() != table.len() {
            problems.push(format!("{} rows, the core has {} codes", rows.len(), codes.len()));
        }
        lines.splice(range, table);
        (lines, problems)
    });
}

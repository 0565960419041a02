//! docs/parity.md lists every public operation of the core: each `pub fn` of the API types, each free
//! function lib.rs exports, each function of its public modules. A new one fails here until it has a row
//! (with each binding's name for it, or `—`) or is listed as not part of the API; a row or a listed name
//! whose Rust operation is gone fails too. No database needed.

use std::collections::BTreeSet;
use std::path::Path;

const CORE: &str = env!("CARGO_MANIFEST_DIR");

/// The files whose `impl` blocks hold the API types' methods.
const API_FILES: &[&str] = &["client", "queue", "message", "receiver", "completion"];

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The name of the `pub fn` / `pub async fn` declared on this line, if any (not `pub(crate)`).
fn public_fn(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix("pub ")?;
    let rest = rest.strip_prefix("async ").unwrap_or(rest);
    let rest = rest.strip_prefix("fn ")?;
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
    Some(&rest[..end])
}

/// `Type::method` for every public method of an inherent impl in `source`, and `name` for every public
/// free function (top level) in it. With `module` (a public module of lib.rs), only its free functions,
/// as `module::name`: its types' methods are not operations of the API.
fn public_functions(source: &str, module: Option<&str>) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_impl: Option<Option<String>> = None; // Some(None): a trait impl, whose methods are not ours
    for line in source.lines() {
        if line.starts_with("#[cfg(test)]") {
            break;
        }
        if let Some(header) = line.strip_prefix("impl") {
            let header = header.trim_start_matches(|c| c != ' ').trim();
            let is_trait_impl = header.contains(" for ");
            let ty: String = header.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            in_impl = Some((!is_trait_impl).then_some(ty));
            continue;
        }
        if line.starts_with('}') {
            in_impl = None;
            continue;
        }
        let Some(name) = public_fn(line) else { continue };
        match (&in_impl, line.starts_with("pub ")) {
            (Some(Some(ty)), false) if module.is_none() => found.push(format!("{ty}::{name}")),
            (None, true) => found.push(module.map_or(name.to_owned(), |m| format!("{m}::{name}"))),
            _ => {}
        }
    }
    found
}

/// Lower-case names in lib.rs's `pub use` lists (functions; types and constants are capitalised), and
/// the functions of its public modules (not `#[doc(hidden)]` ones).
fn exported_functions(lib: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut statement = String::new();
    let mut hidden = false;
    for line in lib.lines() {
        let line = line.trim();
        if line == "#[doc(hidden)]" {
            hidden = true;
            continue;
        }
        if let Some(module) = line.strip_prefix("pub mod ").and_then(|m| m.strip_suffix(';')) {
            if !hidden {
                let source = read(&Path::new(CORE).join(format!("src/{module}.rs")));
                found.extend(public_functions(&source, Some(module)));
            }
        } else if line.starts_with("pub use ") || !statement.is_empty() {
            statement.push_str(line);
            statement.push(' ');
            if line.ends_with(';') {
                let items = statement.split_once('{').map_or_else(
                    || statement.rsplit("::").next().unwrap_or_default().to_owned(),
                    |(_, list)| list.to_owned(),
                );
                for item in items.split([',', '}', ';', ' ']).filter(|i| !i.is_empty()) {
                    if item.starts_with(|c: char| c.is_ascii_lowercase()) && item != "self" {
                        found.push(item.to_owned());
                    }
                }
                statement.clear();
            }
        }
        hidden = false;
    }
    found
}

/// Every public operation of the core.
fn core_operations() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for file in API_FILES {
        all.extend(public_functions(&read(&Path::new(CORE).join(format!("src/{file}.rs"))), None));
    }
    all.extend(exported_functions(&read(&Path::new(CORE).join("src/lib.rs"))));
    all
}

/// The names in backticks of a markdown cell.
fn backticked(cell: &str) -> Vec<String> {
    cell.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

struct Parity {
    /// The Rust column of the Operations table.
    rows: Vec<String>,
    /// The names listed under "Not part of the API".
    not_api: Vec<String>,
}

fn parity() -> Parity {
    let text = read(&Path::new(CORE).join("../docs/parity.md"));
    let (mut rows, mut not_api) = (Vec::new(), Vec::new());
    let mut section = "";
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            section = if heading == "Operations" { "rows" } else if heading == "Not part of the API" { "not_api" } else { "" };
            continue;
        }
        match section {
            "rows" if line.starts_with("| `") => {
                let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
                assert_eq!(cells.len(), 6, "a row has six cells (Rust, Python, Node, Kotlin, Swift, notes): {line}");
                let rust = backticked(cells[0]);
                assert_eq!(rust.len(), 1, "one Rust name per row: {line}");
                for cell in &cells[1..5] {
                    let cell = cell.trim();
                    assert!(cell == "—" || !backticked(cell).is_empty(), "a binding's cell is `names` or —: {line}");
                }
                rows.extend(rust);
            }
            "not_api" if line.starts_with("- `") => not_api.extend(backticked(line).into_iter().take(1)),
            _ => {}
        }
    }
    Parity { rows, not_api }
}

#[test]
fn every_public_core_operation_is_in_docs_parity_md_and_every_row_still_exists() {
    let operations = core_operations();
    let parity = parity();
    assert!(operations.len() > 50 && parity.rows.len() > 50, "the scan found {operations:?}");

    let listed: BTreeSet<String> = parity.rows.iter().chain(&parity.not_api).cloned().collect();
    let unlisted: Vec<&String> = operations.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "public operations missing from docs/parity.md (add a row with each binding's name, or `—`, or list \
         them under \"Not part of the API\"): {unlisted:?}"
    );
    let gone: Vec<&String> = listed.difference(&operations).collect();
    assert!(gone.is_empty(), "docs/parity.md names operations the core no longer has: {gone:?}");
    let mut seen = BTreeSet::new();
    let twice: Vec<&String> = parity.rows.iter().chain(&parity.not_api).filter(|n| !seen.insert(*n)).collect();
    assert!(twice.is_empty(), "listed twice in docs/parity.md: {twice:?}");
}

#[test]
fn the_scan_sees_methods_free_functions_and_module_functions_but_not_trait_or_crate_items() {
    let source = "
impl Thing {
    pub async fn open(&self) {}
    pub(crate) fn hidden(&self) {}
    fn private(&self) {}
}
impl std::fmt::Debug for Thing {
    pub fn fmt(&self) {}
}
pub fn free() {}
pub(crate) fn internal() {}
#[cfg(test)]
mod tests { pub fn helper() {} }
";
    assert_eq!(public_functions(source, None), ["Thing::open", "free"]);
    assert_eq!(public_functions(source, Some("m")), ["m::free"]);
    let lib = "pub use a::{dlq_name, Client,\n    validate_x};\npub use b::redact_dsn;\npub use uuid::Uuid;\n";
    assert_eq!(exported_functions(lib), ["dlq_name", "validate_x", "redact_dsn"]);
}

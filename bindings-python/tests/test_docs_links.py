"""The documentation's links and doctests hold together: every relative link in README.md, docs/*.md,
examples/README.md and the package READMEs points to a file that exists (and, with a `#fragment`, to a
heading of that file), no block the example runners execute is indented where they would miss it, and
every Markdown file with ```rust blocks is included as a doctest by core/src/lib.rs. No database needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support import REPO_DIR

NOT_DOCS = {"node_modules", "target"}
DOC_FILES = sorted(
    [REPO_DIR / "README.md", *REPO_DIR.glob("docs/*.md")]
    + [p for p in REPO_DIR.glob("*/README.md") if p.parent.name not in NOT_DOCS and not p.parent.name.startswith(".")]
)
# Pages other engineers are writing (issue 14): linked already, checked as soon as they exist.
PENDING = {REPO_DIR / "docs" / "protocol.md", REPO_DIR / "docs" / "parity.md"}
LIB_RS = REPO_DIR / "core" / "src" / "lib.rs"

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", flags=re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def relative(path: Path) -> str:
    return path.relative_to(REPO_DIR).as_posix() if path.is_relative_to(REPO_DIR) else path.name


def links_in(markdown: str) -> list[str]:
    """The targets of the inline links of a Markdown text, outside code."""
    text = INLINE_CODE.sub("", FENCE.sub("", markdown))
    return LINK.findall(text)


def anchors_of(markdown: str) -> set[str]:
    """The fragment ids GitHub gives the headings of a Markdown text (a repeated one gets -1, -2, ...)."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", FENCE.sub("", markdown), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def broken_links(doc: Path) -> list[str]:
    broken = []
    for target in links_in(doc.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.I):  # https:, mailto: ...
            continue
        path_part, _, fragment = target.partition("#")
        path = (doc.parent / path_part).resolve() if path_part else doc
        if not path.exists():
            if path not in PENDING:
                broken.append(f"{target}: no such file")
            continue
        if fragment and path.suffix == ".md" and fragment not in anchors_of(path.read_text(encoding="utf-8")):
            broken.append(f"{target}: no heading #{fragment} in {relative(path)}")
    return broken


def rust_doctest_files() -> set[str]:
    """The Markdown files core/src/lib.rs includes as doctests (`#[doc = include_str!("...md")]`)."""
    included = re.findall(r'include_str!\("([^"]+\.md)"\)', LIB_RS.read_text(encoding="utf-8"))
    return {relative((LIB_RS.parent / p).resolve()) for p in included}


def has_rust_blocks(markdown: str) -> bool:
    return re.search(r"^```rust\b", markdown, flags=re.M) is not None


# ---- links ----


def test_the_documentation_set_is_where_it_is_expected() -> None:
    names = {relative(p) for p in DOC_FILES}

    assert {
        "README.md",
        "bindings-python/README.md",
        "bindings-node/README.md",
        "bindings-uniffi/README.md",
        "core/README.md",
        "examples/README.md",
        "docs/concepts.md",
        "docs/options.md",
        "docs/errors.md",
        "docs/operations.md",
        "docs/performance.md",
        "docs/testing.md",
    } <= names, names


@pytest.mark.parametrize("doc", DOC_FILES, ids=relative)
def test_every_relative_link_resolves(doc: Path) -> None:
    assert not broken_links(doc), f"{relative(doc)}: " + "; ".join(broken_links(doc))


def test_the_link_checker_finds_broken_files_and_anchors(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## A `code` heading: yes\n")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "[ok](other.md) [ok](other.md#a-code-heading-yes) [ok](#title) [web](https://example.com/x)\n"
        "# Title\n```text\n[not a link](missing-in-code.md)\n```\n"
        "[gone](missing.md) [no anchor](other.md#nowhere) `[code](missing-inline.md)`\n"
    )

    assert broken_links(doc) == ["missing.md: no such file", "other.md#nowhere: no heading #nowhere in other.md"]


# ---- blocks the runners would miss ----

RUN_LANGUAGES = r"(?:python|py|ts|typescript|kotlin|swift|rust)"


@pytest.mark.parametrize("doc", DOC_FILES, ids=relative)
def test_no_runnable_block_is_indented(doc: Path) -> None:
    # The runners read fences at the start of a line: an indented one (say, in a list item) would not run.
    indented = re.findall(rf"^[ \t]+```{RUN_LANGUAGES}\b.*$", doc.read_text(encoding="utf-8"), flags=re.M)

    assert not indented, f"{relative(doc)}: indented code blocks are not run by the tests: {indented}"


# ---- Rust doctests ----


def test_every_markdown_file_with_rust_blocks_is_a_doctest_and_only_those() -> None:
    with_rust = {relative(p) for p in DOC_FILES if has_rust_blocks(p.read_text(encoding="utf-8"))}

    assert with_rust == rust_doctest_files(), (
        f"core/src/lib.rs includes {sorted(rust_doctest_files())} as doctests, "
        f"but these files have ```rust blocks: {sorted(with_rust)}"
    )


@pytest.mark.parametrize("doc", sorted(p for p in DOC_FILES if relative(p) in rust_doctest_files()), ids=relative)
def test_a_doctest_file_has_no_untagged_code_block(doc: Path) -> None:
    # rustdoc compiles a fence without a language as Rust: every block must say what it is.
    languages = [m.group(0).split("\n", 1)[0][3:].strip() for m in FENCE.finditer(doc.read_text(encoding="utf-8"))]

    assert "" not in languages, f"{relative(doc)} has a ``` block without a language"

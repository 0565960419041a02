"""The examples people copy: the seed program of the spec, the example programs in examples/python, the
```python blocks of every Markdown file (README.md, the package READMEs, docs/*.md), the typed example
module, and `mypy --strict` over all of them and over this suite."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import anyio
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

import pgmq
import typed_example
from support import REPO_DIR, TESTS_DIR, run_python, unique

EXAMPLES_DIR = REPO_DIR / "examples" / "python"
SEED = EXAMPLES_DIR / "seed.py"
# Every Markdown file that may carry ```python blocks; those in EXPECT_PYTHON must carry at least one.
NOT_DOCS = {"node_modules", "target"}
DOC_FILES = sorted(
    [REPO_DIR / "README.md", *REPO_DIR.glob("docs/*.md")]
    + [p for p in REPO_DIR.glob("*/README.md") if p.parent.name not in NOT_DOCS and not p.parent.name.startswith(".")]
)
EXPECT_PYTHON = {"README.md", "bindings-python/README.md", "docs/operations.md", "docs/errors.md"}
SEED_OUTPUT = ["sent", "received", "done processing", "acked", "completed"]

# The program of the spec (issue 3, "The seed example must run"), which examples/python/seed.py must hold
# unchanged.
SPEC_SEED = '''
import anyio, pgmq

async def main(dsn: str) -> None:
    async with pgmq.connect(dsn) as client:
        await pgmq.migrate_to_latest_version(client)
        await pgmq.create_queue("myq", client)
        async with pgmq.connect_to_queue("myq", client) as queue:
            async with anyio.create_task_group() as tg:
                async def worker() -> None:
                    async with queue.receive() as msg_handle_rcv_stream:
                        async with (await msg_handle_rcv_stream.receive()).acquire():
                            print("received")
                            await anyio.sleep(1)
                            print("done processing")
                            print("acked")
                tg.start_soon(worker)
                tg.start_soon(worker)
                async with queue.send(b'{"foo":"bar"}') as completion_handle:
                    print("sent")
                    await completion_handle()
                    print("completed")
                    tg.cancel_scope.cancel()
'''

# Lets a Markdown block that only defines `async def main(...)` run: called with the DSN if it takes one.
RUN_MAIN = '''

if __name__ == "__main__":
    import inspect as _inspect, os as _os, anyio as _anyio
    _anyio.run(main, *([_os.environ["DATABASE_URL"]] if _inspect.signature(main).parameters else []))
'''


def python_blocks(markdown: str) -> list[str]:
    """The ```python blocks of a Markdown text, without those whose first line is `# not run`."""
    blocks = re.findall(r"^```(?:python|py)[ \t]*\n(.*?)^```[ \t]*$", markdown, flags=re.M | re.S)
    return [textwrap.dedent(b) for b in blocks if not b.lstrip().lower().startswith("# not run")]


def runnable(block: str) -> str:
    if re.search(r"^async def main\(", block, flags=re.M) and not re.search(r"\.run\(", block):
        return block + RUN_MAIN
    return block


def queue_names_in(code: str) -> set[str]:
    """The queues a program creates by a literal name, or through a module constant `QUEUE = "..."`."""
    literal = re.findall(r"""create_queue\(\s*["']([A-Za-z0-9_-]+)["']""", code)
    constant = re.findall(r"""^QUEUE\s*=\s*["']([A-Za-z0-9_-]+)["']""", code, flags=re.M)
    return set(literal) | set(constant)


def relative(path: Path) -> str:
    return path.relative_to(REPO_DIR).as_posix()


def expected_output(source: str) -> list[str]:
    """The lines under `Output:` in an example's docstring (indented by four spaces), which it must print."""
    match = re.search(r"^Output:\n((?:    .*\n)+)", source, flags=re.M)
    assert match, "the example's docstring has no `Output:` section"
    return [line.strip() for line in match.group(1).splitlines()]


def delete_queues(dsn: str, names: set[str]) -> None:
    """Deletes fixed-name queues an example creates, so a run never sees messages left by an earlier one."""

    async def delete() -> None:
        async with pgmq.connect(dsn) as client:
            for name in names:
                await pgmq.delete_queue(name, client)

    anyio.run(delete)


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# ---- the seed example ----


def test_seed_example_holds_the_spec_program_unchanged() -> None:
    assert SEED.exists(), f"{SEED} is missing"
    source = "\n".join(line.rstrip() for line in SEED.read_text().splitlines())

    assert SPEC_SEED.strip() in source, "examples/python/seed.py does not contain the spec's program verbatim"


def test_seed_example_prints_sent_received_done_processing_acked_completed(migrated: str) -> None:
    delete_queues(migrated, {"myq"})
    run_seed = f"import anyio, os, runpy; anyio.run(runpy.run_path({str(SEED)!r})['main'], os.environ['DATABASE_URL'])"

    result = run_python(["-c", run_seed], migrated, timeout=60)

    assert result.returncode == 0, result.stderr
    assert lines(result.stdout) == SEED_OUTPUT, result.stdout + result.stderr


def test_python_m_pgmq_demo_with_a_dsn_prints_the_seed_output(migrated: str) -> None:
    delete_queues(migrated, {"myq"})

    result = run_python(["-m", "pgmq", "demo", migrated], migrated, timeout=60)

    assert result.returncode == 0, result.stderr
    assert lines(result.stdout) == SEED_OUTPUT, result.stdout + result.stderr


# ---- the example programs ----

EXAMPLES = sorted(p for p in EXAMPLES_DIR.glob("*.py") if p != SEED)


def test_examples_directory_has_the_programs_it_lists() -> None:
    assert {p.name for p in EXAMPLES} >= {"worker.py", "filters.py", "cancel.py", "completion.py"}, EXAMPLES


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_program_prints_its_stated_output(migrated: str, example: Path) -> None:
    source = example.read_text()
    names = queue_names_in(source)
    delete_queues(migrated, names)

    result = run_python([str(example), migrated], migrated, timeout=90)

    delete_queues(migrated, names)
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines(result.stdout) == expected_output(source), result.stdout + result.stderr


# ---- the Markdown files' ```python blocks ----


def test_every_markdown_file_expected_to_carry_python_blocks_has_them() -> None:
    carrying = {relative(path) for path in DOC_FILES if python_blocks(path.read_text())}

    assert EXPECT_PYTHON <= carrying, f"no ```python block in {sorted(EXPECT_PYTHON - carrying)}"


@pytest.mark.parametrize("doc", [d for d in DOC_FILES if python_blocks(d.read_text())], ids=relative)
def test_markdown_python_blocks_run(migrated: str, doc: Path) -> None:
    blocks = python_blocks(doc.read_text())

    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, block in enumerate(blocks, 1):
            names = queue_names_in(block)
            delete_queues(migrated, names)
            path = Path(tmp) / f"doc_example_{i}.py"
            path.write_text(runnable(block))
            result = run_python([str(path)], migrated, timeout=60, cwd=Path(tmp))
            if result.returncode != 0:
                failures.append(f"{relative(doc)} python block {i} exited {result.returncode}:\n{block}\n{result.stderr}")
            delete_queues(migrated, names)

    assert not failures, "\n\n".join(failures)


def test_python_block_extractor_skips_blocks_marked_not_run() -> None:
    markdown = (
        "text\n```python\nprint('a')\n```\n\n```python\n# not run\nimport nothing\n```\n"
        "```sh\nls\n```\n```py\nasync def main(dsn: str) -> None:\n    pass\n```\n"
    )

    blocks = python_blocks(markdown)

    assert blocks == ["print('a')\n", "async def main(dsn: str) -> None:\n    pass\n"]
    assert runnable(blocks[1]).endswith(RUN_MAIN)
    assert runnable(blocks[0]) == blocks[0]


# ---- typing ----


@pytest.mark.anyio
async def test_typed_example_runs_against_the_database(migrated: str) -> None:
    name = unique("typed")

    with anyio.fail_after(30):
        log = await typed_example.exercise(migrated, name)

    assert log == [
        f"created=True again=False dlq=dlq@{name}",
        "filters built: True",
        "received b'{\"foo\":\"bar\"}' attempt 1 attributes {}",
        "received b'with attributes' attributes "
        "[('color', 'red'), ('no', None), ('ok', True), ('ratio', 0.5), ('size', 3)]",
        "outcomes ['COMPLETED', 'COMPLETED'] same=True",
        "cancelled 1",
        "stats (1, 0, 1, 0, 0)",
        "waited 2",
        "error QueueNotFound queue_not_found",
        "outcome enum True",
        "deleted=True",
    ]


def test_mypy_strict_passes_on_the_tests_the_examples_and_the_markdown_blocks() -> None:
    # Arrange: the Markdown blocks as files of their own, beside this suite and the example programs.
    with tempfile.TemporaryDirectory() as tmp:
        readme_files = []
        for doc in DOC_FILES:
            for i, block in enumerate(python_blocks(doc.read_text()), 1):
                path = Path(tmp) / f"{relative(doc).replace('/', '_').replace('.', '_')}_{i}.py"
                path.write_text(block)
                readme_files.append(str(path))
        cache = Path(tempfile.gettempdir()) / "pgmq-tests-mypy-cache"

        # Act
        result = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), "--no-error-summary"]
            + [str(TESTS_DIR)]
            + [str(p) for p in sorted(EXAMPLES_DIR.glob("*.py"))]
            + readme_files,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    # Assert
    assert "No module named mypy" not in result.stderr, "mypy is not installed in this interpreter's environment"
    assert result.returncode == 0, result.stdout + result.stderr


def test_typed_example_uses_every_exported_name_of_the_spec() -> None:
    source = inspect.getsource(typed_example)
    spec_names = [
        "connect", "migrate_to_latest_version", "create_queue", "delete_queue", "get_dlq_name",
        "connect_to_queue", "QueueOptions", "OutgoingMessage", "Outcome", "Attribute", "PgmqError",
        "QueueNotFound", "InvalidQueueName", "InvalidOption", "LeaseLost", "HandleError", "ConnectionError",
    ]  # fmt: skip

    missing = [n for n in spec_names if f"pgmq.{n}" not in source or not hasattr(pgmq, n)]

    assert not missing, missing


# Tembo's pgmq as a managed service installs it (Supabase Queues enables it): the schema `pgmq` is not ours.
TEMBO_LOOKALIKE = """
CREATE SCHEMA pgmq;
CREATE TABLE pgmq.meta (queue_name varchar UNIQUE NOT NULL, is_partitioned boolean NOT NULL,
                        is_unlogged boolean NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE pgmq.q_myq (msg_id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
                         read_ct integer NOT NULL DEFAULT 0, vt timestamptz NOT NULL, message jsonb);
INSERT INTO pgmq.meta VALUES ('myq', false, false, now());
"""


def test_the_seed_example_runs_beside_tembos_pgmq_in_a_schema_of_its_own(migrated: str) -> None:
    # Arrange: a database whose `pgmq` schema is Tembo's; the seed program, told to use `pgmq_app`.
    database = unique("pgmq_beside").replace("-", "_")
    with psycopg.connect(migrated, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    dsn = make_conninfo(migrated, dbname=database)
    try:
        with psycopg.connect(dsn, autocommit=True) as tembo:
            tembo.execute(TEMBO_LOOKALIKE)
        seed = SPEC_SEED.replace("pgmq.connect(dsn)", 'pgmq.connect(dsn, schema="pgmq_app")')
        assert seed != SPEC_SEED
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "seed_in_schema.py"
            path.write_text(seed + "\n\nimport os\nanyio.run(main, os.environ['DATABASE_URL'])\n")

            # Act
            result = run_python([str(path)], dsn, timeout=60)

        # Assert: the seed's output, our tables in pgmq_app, Tembo's untouched; the default schema refused.
        assert result.returncode == 0, result.stderr
        assert lines(result.stdout) == SEED_OUTPUT, result.stdout + result.stderr
        with psycopg.connect(dsn, autocommit=True) as check:
            row = check.execute(
                "SELECT (SELECT count(*) FROM pgmq.meta), to_regclass('pgmq_app.messages') IS NOT NULL,"
                " (SELECT count(*) FROM pgmq_app.queues WHERE name = 'myq')"
            ).fetchone()
        assert row == (1, True, 1)
        refused = run_python(
            ["-c", "import anyio, os, pgmq\nasync def m():\n    async with pgmq.connect(os.environ['DATABASE_URL']) as c:\n"
             "        await pgmq.migrate_to_latest_version(c)\nanyio.run(m)"],
            dsn,
            timeout=60,
        )
        assert refused.returncode != 0 and "SchemaConflict" in refused.stderr, refused.stderr
    finally:
        with psycopg.connect(migrated, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {database} WITH (FORCE)")

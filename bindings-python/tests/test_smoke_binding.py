"""The hand-written stub of the native module matches what the extension really exports
(`mypy.stubtest`), so `mypy --strict` on user code checks against the truth."""

from __future__ import annotations

import subprocess
import sys


def test_native_stub_matches_the_extension_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "pgmq._pgmq"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr

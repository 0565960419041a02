#!/usr/bin/env python3
"""Sum up test results from test-runner logs.

Usage: python3 tests/summarize.py LOGFILE...

Prints one line, `tests: N passed, M failed`, summed over all files, and exits 0
only if M == 0 and N > 0. Understands cargo test, cargo nextest, pytest,
node --test (TAP and spec reporters), plain `[word:] N passed, M failed` lines, and
`word: skipped ...` lines of a suite that cannot run here (counted as nothing).
A missing file, or one without any recognised line, counts as 1 failed.
"""
import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# cargo test: "test result: ok. 12 passed; 0 failed; 1 ignored; ..." (or FAILED.)
CARGO = re.compile(r"^test result: (?:ok|FAILED)\. (\d+) passed; (\d+) failed;")
# cargo nextest: "Summary [ 1.2s] 12 tests run: 10 passed, 1 failed, 1 timed out, 0 skipped"
NEXTEST = re.compile(r"^\s*Summary \[.*?\]\s+\d+ tests? run: (.*)$")
# node --test: "# pass 10" / "# fail 0" (TAP) or "ℹ pass 10" (spec reporter)
NODE = re.compile(r"^(?:#|ℹ) (pass|fail|cancelled) (\d+)\s*$")
# pytest "===== 5 passed, 1 failed, 2 skipped in 3.2s =====", "5 passed in 1.0s",
# "1 failed, 2 errors", and plain "kotlin: 5 passed, 0 failed".
ITEM = r"\d+ (?:passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?|rerun)"
SUMMARY = re.compile(
    rf"^(?:[\w.-]+:\s*)?=*\s*({ITEM}(?:,\s*{ITEM})*|no tests ran)"
    r"(?:\s+in\s+[\d.]+s(?:\s+\([\d:.]+\))?)?\s*=*$"
)
FAILED_WORDS = ("failed", "error", "errors", "timed out")
# A whole suite that cannot run on this machine says so in one line: "swift: skipped (no swift ...)".
SKIPPED_SUITE = re.compile(r"^[\w.-]+: skipped\b")


def count_items(text):
    """'5 passed, 1 failed, 2 errors' -> (5, 3)."""
    passed = failed = 0
    for n, word in re.findall(r"(\d+) ([a-z]+(?: out)?)", text):
        if word == "passed":
            passed += int(n)
        elif word in FAILED_WORDS:
            failed += int(n)
    return passed, failed


def summarize(path):
    """Returns (passed, failed, recognised) for one log file."""
    passed = failed = 0
    recognised = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            # Not lstrip: indented copies (e.g. a failed test's captured output
            # echoed by nextest) must not be counted twice.
            line = ANSI.sub("", line).rstrip()
            if m := CARGO.match(line):
                p, fl = int(m[1]), int(m[2])
            elif m := NEXTEST.match(line):
                p, fl = count_items(m[1])
            elif m := NODE.match(line):
                n = int(m[2])
                p, fl = (n, 0) if m[1] == "pass" else (0, n)  # cancelled = failed
            elif m := SUMMARY.match(line):
                p, fl = count_items(m[1])
            elif SKIPPED_SUITE.match(line):
                p, fl = 0, 0
            else:
                continue
            recognised = True
            passed += p
            failed += fl
    return passed, failed, recognised


def main(paths):
    if not paths:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    passed = failed = 0
    for path in paths:
        try:
            p, fl, ok = summarize(path)
        except OSError as e:
            print(f"summarize: warning: cannot read {path}: {e.strerror}; counting 1 failed",
                  file=sys.stderr)
            failed += 1
            continue
        if not ok:
            print(f"summarize: warning: no test results found in {path}; counting 1 failed",
                  file=sys.stderr)
            fl += 1
        passed += p
        failed += fl
    print(f"tests: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The small harness the CLI tests share: `@case` runs a test function at once
and records its outcome (an AssertionError is a failure, anything else a crash
of the test itself); `finish()` prints one line a case and exits non-zero when
any failed, so ctest reports it."""
import sys

results = []


def case(fn):
    try:
        fn()
        results.append((fn.__name__, None))
    except AssertionError as e:
        results.append((fn.__name__, str(e) or "assertion failed"))
    return fn


def finish():
    failed = [n for n, e in results if e]
    for n, e in results:
        print(("FAIL " if e else "ok   ") + n + (f": {e[:2000]}" if e else ""))
    print(f"{len(results) - len(failed)}/{len(results)} passed")
    sys.exit(1 if failed else 0)

"""Runs every `test_*` function of a module, prints `ok`/`FAIL` per test and
`N passed, N failed` last (CI counts that line), and lets the core's threads leave Python
before the interpreter shuts down."""

import os
import time
import traceback


def run_tests(namespace):
    tests = [v for k, v in sorted(namespace.items()) if k.startswith("test_")]
    passed = failed = 0
    for test in tests:
        try:
            test()
            passed += 1
            print(f"ok   {test.__name__}")
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print(f"FAIL {test.__name__}")
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    wait_for_core_threads()
    return 1 if failed else 0


def wait_for_core_threads(timeout=5.0):
    """Lets the core's worker threads leave Python before the interpreter shuts down.

    A worker that completes an awaited call wakes the event loop from its own thread
    (`call_soon_threadsafe`, which releases the GIL while it writes to the loop's socket).
    The loop can finish the script in that window; if the interpreter is already finalizing
    when the worker takes the GIL back, CPython (before 3.14) ends that thread with
    `pthread_exit`, and unwinding a Rust thread that way aborts the process. Scripts that
    exit right after their last call should wait the same way (Linux: thread names in /proc).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            names = [open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")]
        except OSError:
            return
        if "bluezone-work" not in names:
            return
        time.sleep(0.01)

"""A panic inside the core is an exception in Python and the process lives. Needs the
library built with the `testing` feature and bindings generated from it (the committed
bindings do not know its test-only exports). Run by scripts/test-bindings."""

import sys
import time

import bluezone as bz
import bluezone_core as bzc
from runner import run_tests


def tracer():
    config = bz.BluezoneConfig(tx_power_dbm=-15, rssi_correction_db=0, trusted_signers=[], upload_public_key=None)
    return bz.BluezoneTracer.open(config, None, bytes(range(32)))


def test_a_panic_in_rust_is_an_exception_and_the_process_lives():
    try:
        bz.testing_panic()
        raise AssertionError("no exception")
    except bz.InternalError:
        pass
    # Still usable afterwards.
    assert len(tracer().current_advertisement().payload) == 31


def test_a_driver_comes_back_after_a_panic_inside_it():
    t0 = int(time.time() * 1000)
    d = bz.BluezoneDriver(tracer(), bzc.Platform.ANDROID, None, 7, t0)
    d.handle(t0, bz.DriverEvent.ENABLE())
    try:
        d.testing_panic(t0 + 1_000)
        raise AssertionError("no error")
    except bz.BluezoneError.Internal as e:
        assert e.code == 90, e
    # Reopened from its saved state and restarted: collecting again at the next event.
    out = d.handle(t0 + 2_000, bz.DriverEvent.SCREEN(on=True))
    names = {type(c).__name__.split(".")[-1] for c in out}
    assert {"START_SCAN", "START_ADVERTISING"} <= names, names
    assert d.collection().driver.restarts == 1


if __name__ == "__main__":
    sys.exit(run_tests(globals()))

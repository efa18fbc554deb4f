"""The Bluezone core from Python, through the generated bindings (QA engineers script with
these). Runs against the real cdylib built with the `testing` feature; prints
`N passed, N failed` last. Run by scripts/test."""

import asyncio
import json
import os
import sys
import time
import traceback

import bluezone as bz

GAEN_SAMPLE_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE49JY6kekDgxj3Crm4y6kEHdfoKQFSNDM4mV9cgDb+e5nOAw0"
    "GeRoRThCu9/wX5wDT2QloFoOjl2pGZHI0f3C3w=="
)


def config(**overrides):
    values = dict(
        tx_power_dbm=-15,
        rssi_correction_db=0,
        trusted_signers=[bz.TrustedSigner(key_id="310", key_version="v1", public_key=GAEN_SAMPLE_KEY)],
        upload_public_key=None,
    )
    values.update(overrides)
    return bz.BluezoneConfig(**values)


# Any X25519 public key: verify and upload requests are sealed to the pinned upload key.
UPLOAD_KEY = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk="


def tracer(**overrides):
    return bz.BluezoneTracer.open(config(**overrides), None, bytes(range(32)))


class Refusing(bz.HttpClient):
    """A server that refuses every request without sealing its answer (as a proxy might)."""

    def __init__(self):
        self.paths = []

    def post(self, path, body):
        self.paths.append(path)
        return bz.HttpResponse(
            status=400,
            body=json.dumps({"code": "code_invalid", "message": "the code is not valid"}).encode(),
        )

    def get(self, path):
        self.paths.append(path)
        return bz.HttpResponse(status=200, body=b"")


class Unreachable(bz.HttpClient):
    def post(self, path, body):
        raise bz.BluezoneError.Network(code=30, reason="no route to host")

    def get(self, path):
        raise bz.BluezoneError.Network(code=30, reason="no route to host")


def test_advertisement_and_sightings():
    t = tracer()
    ad = t.current_advertisement()
    assert len(ad.payload) == 31 and ad.payload[:3] == bytes([2, 1, 0x1A]), ad.payload
    assert len(ad.service_data) == 20
    assert 600 <= ad.next_rotation_at - ad.rotated_at <= 1200
    now = int(time.time())
    batch = [
        bz.Sighting(advert=bz.Advert.RAW_ADVERTISING_DATA(bytes=ad.payload), rssi=-60, time=now, scan_window=1),
        bz.Sighting(
            advert=bz.Advert.SERVICE_DATA_MAP(entries=[bz.ServiceDataEntry(uuid="FD6F", data=ad.service_data)]),
            rssi=-61, time=now, scan_window=1),
        bz.Sighting(advert=bz.Advert.SERVICE_DATA(bytes=b"short"), rssi=-60, time=now, scan_window=1),
        bz.Sighting(advert=bz.Advert.SERVICE_DATA(bytes=ad.service_data), rssi=127, time=now, scan_window=1),
    ]
    report = t.record_sightings(batch)
    assert (report.accepted, report.malformed, report.implausible_rssi) == (2, 1, 1), report
    diag = t.diagnostics()
    assert diag.accepted_since_open == 2 and diag.refused_since_open == 2
    assert len(diag.ids_heard_per_hour) == 24
    t.run_maintenance()
    t.delete_all_data()
    assert t.diagnostics().storage_bytes > 0


def test_errors_are_typed_with_stable_codes():
    try:
        bz.BluezoneTracer.open(config(), None, b"short")
        raise AssertionError("a 5-byte master key was accepted")
    except bz.BluezoneError.InvalidInput as e:
        assert e.code == 10, e
    try:
        bz.BluezoneTracer.open(config(trusted_signers=[bz.TrustedSigner(key_id="x", key_version="v1", public_key="nope")]), None, bytes(32))
        raise AssertionError("a bad signer key was accepted")
    except bz.BluezoneError.InvalidInput as e:
        assert e.code == 10


def test_async_key_files_and_http_callbacks():
    async def run():
        t = tracer()
        status = await t.process_key_files([])
        assert not status.notify and status.files_matched == 0
        try:
            await t.process_key_files([b"not a zip"])
            raise AssertionError("garbage was accepted")
        except bz.BluezoneError.KeyFile as e:
            assert e.code == 50
        with open(sys.argv[1], "rb") as f:
            sample = f.read()
        status = await t.process_key_files([sample])
        assert status.files_matched == 1 and status.keys_checked == 140 and not status.notify
        client = Refusing()
        keyed = tracer(upload_public_key=UPLOAD_KEY)
        try:
            await keyed.verify_code(client, "1234 5678")
            raise AssertionError("a refused code was accepted")
        except bz.BluezoneError.Server as e:
            # An unsealed refusal is not believed: only its status is kept.
            assert (e.code, e.status, e.server_code) == (40, 400, "unsealed_refusal"), e
        assert client.paths == ["/v1/verify"]
        try:
            await keyed.verify_code(client, "12")
            raise AssertionError("a 2-digit code was sent")
        except bz.BluezoneError.InvalidInput as e:
            assert e.code == 12
        try:
            await keyed.verify_code(Unreachable(), "12345678")
            raise AssertionError("an unreachable server answered")
        except bz.BluezoneError.Network as e:
            assert e.code == 30
        verified = bz.VerifiedCode(token="dG9rZW4=", report_type=1, symptom_onset_interval=None)
        try:
            await t.upload_keys(client, verified, int(time.time()))
            raise AssertionError("uploaded without an upload key")
        except bz.BluezoneError.InvalidInput as e:
            assert e.code == 13
        status = await t.download_key_files(client)
        assert status.files_matched == 0

    asyncio.run(run())


class Recorder(bz.Notifier):
    def __init__(self):
        self.calls = []

    def exposure_detected(self, status):
        self.calls.append(status)


def test_a_close_contact_is_notified_through_the_python_notifier():
    async def run():
        signer = bz.TrustedSigner(key_id="test", key_version="v1", public_key=bz.testing_signer_public_key())
        t = bz.BluezoneTracer.open(config(trusted_signers=[signer]), None, bytes(32))
        notifier = Recorder()
        t.set_notifier(notifier)
        f0 = bytes([0xF0] * 16)
        now = int(time.time())
        start = now - 2 * 3600
        if start % 86400 > 86400 - 3600:  # keep the 35 minutes inside one UTC day
            start -= 3600
        for scan in range(7):  # 35 minutes, a scan every 5, close (-55 dBm at -15 dBm TX)
            when = start + scan * 300
            payload = bz.testing_advert_payload(f0, when)
            t.record_sightings([
                bz.Sighting(advert=bz.Advert.RAW_ADVERTISING_DATA(bytes=payload), rssi=-55, time=when + k, scan_window=scan)
                for k in range(3)
            ])
        day_start = (start // 86400) * 144
        status = await t.process_key_files([bz.testing_key_file([f0], day_start, now)])
        assert status.notify and status.newly_notified, status
        assert len(notifier.calls) == 1 and notifier.calls[0].notify
        assert status.days and status.days[0].weighted_minutes >= 15
        again = await t.process_key_files([bz.testing_key_file([f0], day_start, now)])
        assert again.notify and not again.newly_notified and len(notifier.calls) == 1

    asyncio.run(run())


def test_a_panic_in_rust_is_an_exception_and_the_process_lives():
    try:
        bz.testing_panic()
        raise AssertionError("no exception")
    except bz.InternalError:
        pass
    # Still usable afterwards.
    assert len(tracer().current_advertisement().payload) == 31


def main():
    tests = [v for k, v in sorted(globals().items()) if k.startswith("test_")]
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


if __name__ == "__main__":
    sys.exit(main())

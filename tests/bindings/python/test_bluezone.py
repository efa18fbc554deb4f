"""The Bluezone core from Python, through the bindings committed in bindings/python (QA
engineers script with these), against the real cdylib. Test data (signed key files, GAEN
adverts) comes from the separate test-only library `bluezone_testing`. Prints
`N passed, N failed` last. Run by scripts/test-bindings."""

import asyncio
import json
import os
import sys
import time
import subprocess
import tempfile

import bluezone as bz
import bluezone_core as bzc
import bluezone_testing as bzt
from runner import run_tests

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
        signer = bz.TrustedSigner(key_id="test", key_version="v1", public_key=bzt.testing_signer_public_key())
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
            payload = bzt.testing_advert_payload(f0, when)
            t.record_sightings([
                bz.Sighting(advert=bz.Advert.RAW_ADVERTISING_DATA(bytes=payload), rssi=-55, time=when + k, scan_window=scan)
                for k in range(3)
            ])
        day_start = (start // 86400) * 144
        status = await t.process_key_files([bzt.testing_key_file([f0], day_start, now)])
        assert status.notify and status.newly_notified, status
        assert len(notifier.calls) == 1 and notifier.calls[0].notify
        assert status.days and status.days[0].weighted_minutes >= 15
        again = await t.process_key_files([bzt.testing_key_file([f0], day_start, now)])
        assert again.notify and not again.newly_notified and len(notifier.calls) == 1

    asyncio.run(run())


# --- The phone driver: scripted event traces in, commands out. ---------------------------

HEART_RATE_MONITOR = bytes([2, 1, 6, 3, 3, 0x0D, 0x18])
# An iPhone advertising in the background: Apple's overflow area, no payload.
IPHONE_OVERFLOW = bytes([2, 1, 6, 20, 0xFF, 0x4C, 0x00, 0x01] + [0] * 16)


def now_ms():
    return int(time.time() * 1000)


def driver(t, platform=None, settings=None, at=None):
    return bz.BluezoneDriver(t, platform or bzc.Platform.ANDROID, settings, 7, at or now_ms())


def kinds(commands):
    return [type(c).__name__.split(".")[-1] for c in commands]


def first(commands, kind):
    found = [c for c in commands if isinstance(c, kind)]
    assert found, f"no {kind.__name__} in {kinds(commands)}"
    return found[0]


def last(commands, kind):
    found = [c for c in commands if isinstance(c, kind)]
    assert found, f"no {kind.__name__} in {kinds(commands)}"
    return found[-1]


def heard(device, advert_bytes, rssi=-60, apple_overflow=False):
    report = bz.ScanReport(
        device=device, advert=bz.Advert.RAW_ADVERTISING_DATA(bytes=advert_bytes), service_uuids=[],
        apple_overflow=apple_overflow, rssi=rssi, tx_power_dbm=None)
    return bz.DriverEvent.SCAN_RESULT(report=report)


def other_phone(tek_byte, at_ms):
    return bzt.testing_advert_payload(bytes([tek_byte] * 16), at_ms // 1000)


def test_driver_scans_a_window_and_stores_what_it_heard_when_it_ends():
    t = tracer()
    t0 = now_ms()
    d = driver(t, at=t0)
    on = d.handle(t0, bz.DriverEvent.ENABLE())
    assert {"START_ADVERTISING", "START_SCAN", "WAKE_AT", "HOLD_WAKE_LOCK", "SHOW_STATUS"} <= set(kinds(on)), kinds(on)
    ad = first(on, bzc.DriverCommand.START_ADVERTISING).request
    assert len(ad.payload) == 31 and len(ad.service_data) == 20
    assert ad.include_service_data and not ad.connectable and not ad.serve_payload
    assert ad.until_ms > t0 + 500_000
    scan = first(on, bzc.DriverCommand.START_SCAN)
    assert scan.window_ms == 4_000 and scan.mode == bzc.ScanMode.LOW_LATENCY
    assert scan.filters.exposure_service and scan.filters.apple_manufacturer_data
    end_at = first(on, bzc.DriverCommand.WAKE_AT).at_ms
    assert end_at == t0 + 4_000 == d.next_wakeup()
    assert last(on, bzc.DriverCommand.SHOW_STATUS).status.state == bzc.CollectionState.COLLECTING()

    # Two phones (one close, one far) and a heart-rate monitor; nothing is stored mid-window.
    assert d.handle(t0 + 1_000, heard("AA:00:00:00:00:01", other_phone(0xA1, t0), rssi=-50)) == []
    assert d.handle(t0 + 1_500, heard("AA:00:00:00:00:02", other_phone(0xB2, t0), rssi=-85)) == []
    assert d.handle(t0 + 2_000, heard("AA:00:00:00:00:03", HEART_RATE_MONITOR)) == []
    assert t.diagnostics().accepted_since_open == 0

    # The alarm fires at the window's end: the scan stops and the window is stored.
    end = d.handle(end_at, bz.DriverEvent.TIMER())
    assert {"STOP_SCAN", "RELEASE_WAKE_LOCK", "WAKE_AT"} <= set(kinds(end)), kinds(end)
    next_at = first(end, bzc.DriverCommand.WAKE_AT).at_ms
    assert t0 + 210_000 <= next_at <= t0 + 300_000, next_at - t0
    diag = d.diagnostics()
    assert diag.accepted_since_open == 2, diag
    c = diag.collection
    assert (c.driver.windows, c.driver.sightings, c.driver.unrelated) == (1, 2, 1), c
    assert c.status.state == bzc.CollectionState.COLLECTING() and c.engine_errors == 0
    nearby = d.nearby()
    assert (nearby.near, nearby.mid, nearby.far, nearby.window_start_ms) == (1, 0, 1, t0), nearby
    assert t.diagnostics().collection is None  # the tracer alone knows nothing of the driver

    # The next window opens when its alarm fires.
    again = d.handle(next_at, bz.DriverEvent.TIMER())
    assert "START_SCAN" in kinds(again), kinds(again)


def test_driver_pauses_when_bluetooth_goes_off_mid_window():
    t = tracer()
    t0 = now_ms()
    d = driver(t, at=t0)
    d.handle(t0, bz.DriverEvent.ENABLE())
    d.handle(t0 + 1_000, heard("AA:00:00:00:00:01", other_phone(0xA1, t0)))
    off = d.handle(t0 + 2_000, bz.DriverEvent.BLUETOOTH(state=bzc.BluetoothState.OFF))
    assert {"STOP_SCAN", "STOP_ADVERTISING", "RELEASE_WAKE_LOCK"} <= set(kinds(off)), kinds(off)
    assert "START_SCAN" not in kinds(off) and "START_ADVERTISING" not in kinds(off)
    paused = bzc.CollectionState.PAUSED(reason=bzc.PauseReason.BLUETOOTH_OFF)
    status = last(off, bzc.DriverCommand.SHOW_STATUS).status
    assert status.state == paused and status.since_ms == t0 + 2_000, status
    assert d.status() == status
    # What the cut window heard is kept; a check is scheduled while paused.
    assert t.diagnostics().accepted_since_open == 1
    assert first(off, bzc.DriverCommand.WAKE_AT).at_ms > t0 + 2_000
    # Results still arriving are not stored.
    d.handle(t0 + 2_500, heard("AA:00:00:00:00:02", other_phone(0xB2, t0)))
    assert t.diagnostics().accepted_since_open == 1
    back = d.handle(t0 + 60_000, bz.DriverEvent.BLUETOOTH(state=bzc.BluetoothState.ON))
    assert {"START_SCAN", "START_ADVERTISING"} <= set(kinds(back)), kinds(back)
    assert d.status().state == bzc.CollectionState.COLLECTING()


def test_driver_answers_gatt_reads_and_refuses_offsets_past_the_payload():
    t = tracer()
    t0 = now_ms()
    d = driver(t, platform=bzc.Platform.IOS, at=t0)
    on = d.handle(t0, bz.DriverEvent.ENABLE())
    ad = first(on, bzc.DriverCommand.START_ADVERTISING).request
    assert ad.connectable and ad.serve_payload and not ad.include_service_data
    scan = first(on, bzc.DriverCommand.START_SCAN)
    assert scan.window_ms is None and not scan.filters.apple_manufacturer_data
    out = d.handle(t0 + 10, bz.DriverEvent.PAYLOAD_REQUESTED(request=41, offset=25))
    assert out == [bzc.DriverCommand.RESPOND_TO_READ(request=41, value=None)], out
    out = d.handle(t0 + 20, bz.DriverEvent.PAYLOAD_REQUESTED(request=42, offset=0))
    assert out == [bzc.DriverCommand.RESPOND_TO_READ(request=42, value=ad.service_data)], out
    out = d.handle(t0 + 30, bz.DriverEvent.PAYLOAD_REQUESTED(request=43, offset=18))
    assert out == [bzc.DriverCommand.RESPOND_TO_READ(request=43, value=ad.service_data[18:])], out
    out = d.handle(t0 + 40, bz.DriverEvent.PAYLOAD_REQUESTED(request=44, offset=2**32 - 1))
    assert out == [bzc.DriverCommand.RESPOND_TO_READ(request=44, value=None)], out


def test_driver_reads_a_backgrounded_iphone_and_stores_its_payload():
    t = tracer()
    t0 = now_ms()
    d = driver(t, at=t0)
    d.handle(t0, bz.DriverEvent.ENABLE())
    iphone, other = "5A:00:00:00:00:01", "5A:00:00:00:00:02"
    out = d.handle(t0 + 500, heard(iphone, IPHONE_OVERFLOW, rssi=-58))
    assert first(out, bzc.DriverCommand.READ_PAYLOAD).device == iphone
    # One read at a time on Android: the second iPhone waits for the first.
    assert "READ_PAYLOAD" not in kinds(d.handle(t0 + 600, heard(other, IPHONE_OVERFLOW)))
    payload = other_phone(0xC3, t0)
    out = d.handle(t0 + 900, bz.DriverEvent.PAYLOAD_READ(device=iphone, value=payload[11:]))
    assert first(out, bzc.DriverCommand.READ_PAYLOAD).device == other
    d.handle(t0 + 1_200, bz.DriverEvent.PAYLOAD_READ_FAILED(device=other, failure=bzc.ReadFailure.NOT_FOUND))
    # A result for a read nobody asked for is ignored.
    d.handle(t0 + 1_300, bz.DriverEvent.PAYLOAD_READ(device="5A:00:00:00:00:09", value=payload[11:]))
    d.handle(t0 + 4_000, bz.DriverEvent.TIMER())
    assert t.diagnostics().accepted_since_open == 1
    gatt = d.collection().driver.gatt
    assert (gatt.reads_started, gatt.reads_succeeded, gatt.reads_failed, gatt.not_ours) == (2, 1, 1, 1), gatt


def test_driver_settings():
    t = tracer()
    t0 = now_ms()
    quiet = bz.DriverSettings(gatt_enabled=False, scan_window_ms=8_000)
    d = driver(t, settings=quiet, at=t0)
    scan = first(d.handle(t0, bz.DriverEvent.ENABLE()), bzc.DriverCommand.START_SCAN)
    assert scan.window_ms == 8_000 and not scan.filters.apple_manufacturer_data
    try:
        driver(t, settings=bz.DriverSettings(scan_window_ms=10))
        raise AssertionError("a 10 ms window was accepted")
    except bz.BluezoneError.InvalidInput as e:
        assert e.code == 11, e


# --- Storage errors and the reset at launch. ----------------------------------------------

def file_tracer(path, key_byte):
    return bz.BluezoneTracer.open(config(), path, bytes([key_byte] * 32))


def test_store_errors_have_their_codes_wrong_key_corrupt():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bluezone.db")
        file_tracer(path, 1).current_advertisement()
        try:
            file_tracer(path, 2)
            raise AssertionError("another key opened the store")
        except bz.BluezoneError.Storage as e:
            assert e.code == 20, e
        damaged = os.path.join(d, "damaged.db")
        with open(damaged, "wb") as f:
            f.write(b"this is not a database" * 100)
        try:
            file_tracer(damaged, 1)
            raise AssertionError("a damaged file opened")
        except bz.BluezoneError.Storage as e:
            assert e.code == 21, e


FILL_THE_DISK = """
import os, sys, time
sys.path[:0] = sys.argv[2].split(os.pathsep)
import bluezone as bz
import bluezone_testing as bzt
config = bz.BluezoneConfig(tx_power_dbm=-15, rssi_correction_db=0, trusted_signers=[], upload_public_key=None)
t = bz.BluezoneTracer.open(config, os.path.join(sys.argv[1], "bluezone.db"), bytes(32))
now = int(time.time())
try:
    for i in range(20000):
        t.record_sightings([
            bz.Sighting(advert=bz.Advert.RAW_ADVERTISING_DATA(bytes=bzt.testing_advert_payload(os.urandom(16), now)),
                        rssi=-60, time=now - i, scan_window=i)
            for _ in range(50)])
    print("never full")
except bz.BluezoneError.Storage as e:
    print(e.code)
"""


def test_a_full_disk_is_storage_code_22():
    # A 256 KiB tmpfs in a private mount namespace (unshare: no root needed where user
    # namespaces are allowed, as on Debian).
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "fill.py")
        with open(script, "w") as f:
            f.write(FILL_THE_DISK)
        disk = os.path.join(d, "disk")
        os.mkdir(disk)
        shell = 'mount -t tmpfs -o size=256k tmpfs "$1" && exec python3 "$2" "$1" "$3"'
        out = subprocess.run(
            ["unshare", "-rm", "sh", "-c", shell, "sh", disk, script, os.pathsep.join(sys.path)],
            capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "22", (out.stdout, out.stderr[-2000:])


def test_open_tracer_starts_afresh_when_the_key_no_longer_opens_the_store():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bluezone.db")
        first = bz.open_tracer(config(), path, bytes([1] * 32))
        assert first.reset is None
        first.tracer.current_advertisement()
        # Restored onto a new phone: the platform made a new key.
        again = bz.open_tracer(config(), path, bytes([2] * 32))
        assert again.reset == bz.StoreReset.KEY_NO_LONGER_OPENS_STORE, again.reset
        assert len(again.tracer.current_advertisement().payload) == 31
        damaged_path = os.path.join(d, "damaged.db")
        with open(damaged_path, "wb") as f:
            f.write(b"this is not a database" * 100)
        damaged = bz.open_tracer(config(), damaged_path, bytes([2] * 32))
        assert damaged.reset == bz.StoreReset.UNREADABLE, damaged.reset
        try:
            bz.open_tracer(config(), path, b"short")
            raise AssertionError("a short key was accepted")
        except bz.BluezoneError.InvalidInput as e:
            assert e.code == 10


# --- The download job's call. ------------------------------------------------------------

class Authority(bz.HttpClient):
    """A health authority's download server: an index and signed key files."""

    def __init__(self, files, index_status=200, on_file=None):
        self.files = files
        self.index_status = index_status
        self.on_file = on_file
        self.fetched = []

    def post(self, path, body):
        raise bz.BluezoneError.Network(code=30, reason="downloads never post")

    def get(self, path):
        if path == "/v1/index.txt":
            body = "".join(name + "\n" for name in self.files).encode()
            return bz.HttpResponse(status=self.index_status, body=body if self.index_status == 200 else b"{}")
        if path == "/v1/risk-config.json":
            return bz.HttpResponse(status=404, body=b"")
        name = path.removeprefix("/v1/files/")
        self.fetched.append(name)
        if self.on_file:
            self.on_file(len(self.fetched))
        return bz.HttpResponse(status=200, body=self.files[name])


def test_download_all_takes_every_batch_honours_cancellation_and_says_what_to_retry():
    async def run():
        signer = bz.TrustedSigner(key_id="test", key_version="v1", public_key=bzt.testing_signer_public_key())
        now = int(time.time())
        files = {f"{now - 90000 + i}-{i:05}.zip": bzt.testing_key_file([bytes([i % 256] * 16)], (now // 86400 - 1) * 144, now - 3600 * (i % 20))
                 for i in range(150)}
        t = bz.BluezoneTracer.open(config(trusted_signers=[signer]), None, bytes(32))

        cancellation = bz.DownloadCancellation()
        server = Authority(files, on_file=lambda n: cancellation.cancel() if n == 20 else None)
        report = await t.download_all(server, cancellation)
        assert report.end == bz.DownloadEnd.CANCELLED(), report.end
        assert report.status.files_matched == 20 and report.status.files_remaining == 130, report.status

        server = Authority(files)
        report = await t.download_all(server, bz.DownloadCancellation())
        assert report.end == bz.DownloadEnd.DONE(), report.end
        assert report.batches == 3 and report.status.files_matched == 130, report
        assert sorted(server.fetched) == sorted(files)[20:], "each file fetched once"
        assert t.risk_config() is None, "none published: the built-in parameters apply"

        report = await t.download_all(Unreachable(), bz.DownloadCancellation())
        assert isinstance(report.end, bz.DownloadEnd.RETRY_SOON) and report.end.code == 30, report.end
        report = await t.download_all(Authority(files, index_status=404), bz.DownloadCancellation())
        assert isinstance(report.end, bz.DownloadEnd.WAIT_FOR_NEXT_RUN) and report.end.code == 40, report.end
        unsigned = bz.BluezoneTracer.open(config(trusted_signers=[]), None, bytes(32))
        report = await unsigned.download_all(Authority(files), bz.DownloadCancellation())
        assert isinstance(report.end, bz.DownloadEnd.WAIT_FOR_NEXT_RUN) and report.end.code == 13, report.end

    asyncio.run(run())


def test_chaff_is_scheduled_in_rust_and_off_without_an_upload_key():
    async def run():
        now = int(time.time())
        client = Refusing()
        off = tracer()
        assert off.next_chaff_at() is None
        report = await off.run_due_chaff(client, bz.DownloadCancellation())
        assert (report.requests_sent, report.next_at) == (0, None), report
        assert tracer(upload_public_key=UPLOAD_KEY, chaff_mean_interval_secs=0).next_chaff_at() is None
        # A mean of 127 years: due in the next seconds with a probability of 1e-9.
        keyed = tracer(upload_public_key=UPLOAD_KEY, chaff_mean_interval_secs=4_000_000_000)
        due = keyed.next_chaff_at()
        assert due > now and keyed.next_chaff_at() == due, due
        # Not due yet: nothing is sent, and the due time stays.
        report = await keyed.run_due_chaff(client, bz.DownloadCancellation())
        assert (report.requests_sent, report.next_at) == (0, due), report
        assert client.paths == []

    asyncio.run(run())


if __name__ == "__main__":
    sys.exit(run_tests(globals()))

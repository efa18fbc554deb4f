// The Bluezone core from Kotlin on the JVM, through the bindings committed in bindings/kotlin
// and JNA, against the real cdylib; test data (signed key files, GAEN adverts) from the
// test-only library bluezone_testing. Prints `N passed, N failed` last.
// Run by scripts/test-bindings.

import kotlinx.coroutines.runBlocking
import org.bluezone.core.*
import org.bluezone.core.types.*
import org.bluezone.testrunner.runTests
import org.bluezone.testing.testingAdvertPayload
import org.bluezone.testing.testingKeyFile
import org.bluezone.testing.testingSignerPublicKey
import java.io.File

const val GAEN_SAMPLE_KEY =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE49JY6kekDgxj3Crm4y6kEHdfoKQFSNDM4mV9cgDb+e5nOAw0" +
        "GeRoRThCu9/wX5wDT2QloFoOjl2pGZHI0f3C3w=="

lateinit var samplePath: String

fun config(uploadKey: String? = null) = BluezoneConfig(
    txPowerDbm = (-15).toByte(),
    rssiCorrectionDb = 0.toByte(),
    trustedSigners = listOf(TrustedSigner(keyId = "310", keyVersion = "v1", publicKey = GAEN_SAMPLE_KEY)),
    uploadPublicKey = uploadKey,
)

fun tracer(uploadKey: String? = null): BluezoneTracer =
    BluezoneTracer.open(config(uploadKey), null, ByteArray(32) { it.toByte() })

/** Any X25519 public key: verify and upload requests are sealed to the pinned upload key. */
const val UPLOAD_KEY = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk="

fun check(condition: Boolean, what: () -> String) {
    if (!condition) throw AssertionError(what())
}

/** A server that refuses every request unsealed (as a proxy might), in Kotlin, called from Rust. */
class Refusing : HttpClient {
    val paths = mutableListOf<String>()
    override fun post(path: String, body: ByteArray): HttpResponse {
        paths += path
        return HttpResponse(400u.toUShort(), """{"code":"code_invalid","message":"the code is not valid"}""".toByteArray())
    }
    override fun get(path: String): HttpResponse {
        paths += path
        return HttpResponse(200u.toUShort(), ByteArray(0))
    }
}

class Unreachable : HttpClient {
    override fun post(path: String, body: ByteArray): HttpResponse =
        throw BluezoneException.Network(30u, "no route to host")
    override fun get(path: String): HttpResponse =
        throw BluezoneException.Network(30u, "no route to host")
}

fun testAdvertisementAndSightings() {
    tracer().use { t ->
        val ad = t.currentAdvertisement()
        check(ad.payload.size == 31 && ad.payload[2] == 0x1A.toByte()) { "payload ${ad.payload.toList()}" }
        check(ad.serviceData.size == 20) { "service data" }
        check(ad.nextRotationAt - ad.rotatedAt in 600..1200) { "rotation" }
        val now = System.currentTimeMillis() / 1000
        val report = t.recordSightings(listOf(
            Sighting(Advert.RawAdvertisingData(ad.payload), (-60).toShort(), now, 1uL),
            Sighting(Advert.ServiceDataMap(listOf(ServiceDataEntry("FD6F", ad.serviceData))), (-61).toShort(), now, 1uL),
            Sighting(Advert.ServiceData("short".toByteArray()), (-60).toShort(), now, 1uL),
            Sighting(Advert.ServiceData(ad.serviceData), 127.toShort(), now, 1uL),
        ))
        check(report.accepted == 2uL && report.malformed == 1uL && report.implausibleRssi == 1uL) { "$report" }
        val diag = t.diagnostics()
        check(diag.acceptedSinceOpen == 2uL && diag.refusedSinceOpen == 2uL) { "$diag" }
        t.runMaintenance()
        t.deleteAllData()
    }
}

fun testErrorsAreTypedWithStableCodes() {
    try {
        BluezoneTracer.open(config(), null, ByteArray(5))
        throw AssertionError("a 5-byte master key was accepted")
    } catch (e: BluezoneException.InvalidInput) {
        check(e.code == 10u) { "code ${e.code}" }
    }
}

fun testAsyncCallsAndKotlinCallbacks() = runBlocking {
    tracer().use { t ->
        check(!t.processKeyFiles(listOf()).notify) { "empty" }
        try {
            t.processKeyFiles(listOf("not a zip".toByteArray()))
            throw AssertionError("garbage accepted")
        } catch (e: BluezoneException.KeyFile) {
            check(e.code == 50u) { "code ${e.code}" }
        }
        val status = t.processKeyFiles(listOf(File(samplePath).readBytes()))
        check(status.filesMatched == 1u && status.keysChecked == 140uL) { "$status" }
        val client = Refusing()
        val keyed = tracer(UPLOAD_KEY)
        try {
            keyed.verifyCode(client, "1234 5678")
            throw AssertionError("refused code accepted")
        } catch (e: BluezoneException.Server) {
            check(e.code == 40u && e.status == 400.toUShort() && e.serverCode == "unsealed_refusal") { "$e" }
        }
        check(client.paths == listOf("/v1/verify")) { "${client.paths}" }
        try {
            keyed.verifyCode(Unreachable(), "12345678")
            throw AssertionError("unreachable answered")
        } catch (e: BluezoneException.Network) {
            check(e.code == 30u) { "code ${e.code}" }
        }
        try {
            t.uploadKeys(client, VerifiedCode("dG9rZW4=", 1u.toUByte(), null), System.currentTimeMillis() / 1000)
            throw AssertionError("uploaded without an upload key")
        } catch (e: BluezoneException.InvalidInput) {
            check(e.code == 13u) { "code ${e.code}" }
        }
    }
}

class Recorder : Notifier {
    val calls = mutableListOf<ExposureStatus>()
    override fun exposureDetected(status: ExposureStatus) {
        calls += status
    }
}

fun testACloseContactIsNotifiedThroughTheKotlinNotifier() = runBlocking {
    val signer = TrustedSigner("test", "v1", testingSignerPublicKey())
    val cfg = config().copy(trustedSigners = listOf(signer))
    BluezoneTracer.open(cfg, null, ByteArray(32)).use { t ->
        val notifier = Recorder()
        t.setNotifier(notifier)
        val f0 = ByteArray(16) { 0xF0.toByte() }
        val now = System.currentTimeMillis() / 1000
        var start = now - 2 * 3600
        if (start % 86400 > 86400 - 3600) start -= 3600 // keep the 35 minutes inside one UTC day
        for (scan in 0 until 7) {
            val time = start + scan * 300
            val payload = testingAdvertPayload(f0, time)
            t.recordSightings((0 until 3).map { k ->
                Sighting(Advert.RawAdvertisingData(payload), (-55).toShort(), time + k, scan.toULong())
            })
        }
        val dayStart = ((start / 86400) * 144).toUInt()
        val status = t.processKeyFiles(listOf(testingKeyFile(listOf(f0), dayStart, now)))
        check(status.notify && status.newlyNotified) { "$status" }
        check(notifier.calls.size == 1) { "notifier calls ${notifier.calls.size}" }
    }
}

fun testClosedObjectsRefuseUse() {
    val t = tracer()
    t.close()
    try {
        t.currentAdvertisement()
        throw AssertionError("a closed tracer answered")
    } catch (e: IllegalStateException) {
        // expected
    }
}

// --- The phone driver: scripted event traces in, commands out. ---------------------------

/** An iPhone advertising in the background: Apple's overflow area, no payload. */
val IPHONE_OVERFLOW = byteArrayOf(2, 1, 6, 20, 0xFF.toByte(), 0x4C, 0x00, 0x01) + ByteArray(16)

fun nowMs() = System.currentTimeMillis()

/**
 * 10 s into the last whole minute of the clock: iOS's continuous scanning cuts windows on the
 * clock's minutes, so a test of a few seconds from here never crosses one (from [nowMs] it
 * would, whenever a minute turned within those seconds).
 */
fun tenSecondsIntoTheLastMinute() = nowMs() / 60_000 * 60_000 - 50_000

fun driver(t: BluezoneTracer, platform: Platform = Platform.ANDROID, settings: DriverSettings? = null, at: Long = nowMs()) =
    BluezoneDriver(t, platform, settings, 7uL, at)

fun heard(device: String, advert: Advert, rssi: Int = -60, serviceUuids: List<String> = listOf(), overflow: Boolean = false) =
    DriverEvent.ScanResult(ScanReport(device, advert, serviceUuids, overflow, rssi.toShort(), null))

fun otherPhone(tekByte: Int, atMs: Long): ByteArray = testingAdvertPayload(ByteArray(16) { tekByte.toByte() }, atMs / 1000)

inline fun <reified T : DriverCommand> List<DriverCommand>.first(): T =
    filterIsInstance<T>().firstOrNull() ?: throw AssertionError("no ${T::class.simpleName} in $this")

fun testDriverScansAWindowAndStoresItWhenTheAlarmFires() {
    tracer().use { t ->
        val t0 = nowMs()
        driver(t, at = t0).use { d ->
            val on = d.handle(t0, DriverEvent.Enable)
            val ad = on.first<DriverCommand.StartAdvertising>().request
            check(ad.payload.size == 31 && ad.includeServiceData && !ad.connectable) { "$ad" }
            val scan = on.first<DriverCommand.StartScan>()
            check(scan.windowMs == 4_000L && scan.mode == ScanMode.LOW_LATENCY && scan.filters.appleManufacturerData) { "$scan" }
            val endAt = on.first<DriverCommand.WakeAt>().atMs
            check(endAt == t0 + 4_000 && d.nextWakeup() == endAt) { "wake at ${endAt - t0}" }
            check(on.any { it is DriverCommand.HoldWakeLock }) { "$on" }
            val payload = otherPhone(0xA1, t0)
            check(d.handle(t0 + 1_000, heard("AA:00:00:00:00:01", Advert.RawAdvertisingData(payload), -50)).isEmpty()) { "mid-window" }
            check(t.diagnostics().acceptedSinceOpen == 0uL) { "stored mid-window" }
            val end = d.handle(endAt, DriverEvent.Timer)
            check(end.contains(DriverCommand.StopScan) && end.contains(DriverCommand.ReleaseWakeLock)) { "$end" }
            val diag = d.diagnostics()
            check(diag.acceptedSinceOpen == 1uL) { "$diag" }
            val c = diag.collection!!
            check(c.driver.windows == 1uL && c.driver.sightings == 1uL && c.status.state == CollectionState.Collecting) { "$c" }
            check(d.nearby()?.near == 1u) { "${d.nearby()}" }
        }
    }
}

fun testDriverPausesWhenBluetoothGoesOffMidWindow() {
    tracer().use { t ->
        val t0 = nowMs()
        driver(t, at = t0).use { d ->
            d.handle(t0, DriverEvent.Enable)
            d.handle(t0 + 1_000, heard("AA:00:00:00:00:01", Advert.RawAdvertisingData(otherPhone(0xA1, t0))))
            val off = d.handle(t0 + 2_000, DriverEvent.Bluetooth(BluetoothState.OFF))
            check(off.contains(DriverCommand.StopScan) && off.contains(DriverCommand.StopAdvertising)) { "$off" }
            check(off.none { it is DriverCommand.StartScan || it is DriverCommand.StartAdvertising }) { "$off" }
            val paused = CollectionState.Paused(PauseReason.BLUETOOTH_OFF)
            check(off.filterIsInstance<DriverCommand.ShowStatus>().last().status.state == paused) { "$off" }
            check(d.status().state == paused && d.status().sinceMs == t0 + 2_000) { "${d.status()}" }
            check(t.diagnostics().acceptedSinceOpen == 1uL) { "the cut window is kept" }
        }
    }
}

fun testDriverRefusesGattReadsPastThePayload() {
    tracer().use { t ->
        val t0 = nowMs()
        driver(t, Platform.IOS, at = t0).use { d ->
            val ad = d.handle(t0, DriverEvent.Enable).first<DriverCommand.StartAdvertising>().request
            check(ad.servePayload && ad.connectable && !ad.includeServiceData) { "$ad" }
            val bad = d.handle(t0 + 10, DriverEvent.PayloadRequested(41uL, 25u))
            check(bad == listOf(DriverCommand.RespondToRead(41uL, null))) { "$bad" }
            val whole = d.handle(t0 + 20, DriverEvent.PayloadRequested(42uL, 0u)).first<DriverCommand.RespondToRead>()
            check(whole.request == 42uL && whole.value!!.contentEquals(ad.serviceData)) { "$whole" }
        }
    }
}

fun testDriverReadsAnIPhoneReportedInTheOverflowArea() {
    tracer().use { t ->
        val t0 = tenSecondsIntoTheLastMinute()
        // iOS, in the background: a burst's sightings are stored within 3 s of the first,
        // under background task time (the wake lock).
        driver(t, Platform.IOS, at = t0).use { d ->
            d.handle(t0, DriverEvent.Enable)
            val iphone = "6F1B2C3D-0000-4000-8000-000000000001"
            val read = d.handle(t0 + 500, heard(iphone, Advert.ServiceDataMap(listOf()), -62, overflow = true))
            check(read.first<DriverCommand.ReadPayload>().device == iphone) { "$read" }
            check(read.contains(DriverCommand.HoldWakeLock)) { "$read" }
            val payload = otherPhone(0xC3, t0)
            val held = d.handle(t0 + 900, DriverEvent.PayloadRead(iphone, payload.copyOfRange(11, 31)))
            check(held == listOf(DriverCommand.WakeAt(t0 + 3_900))) { "$held" }
            check(t.diagnostics().acceptedSinceOpen == 0uL) { "${t.diagnostics()}" }
            // Its next advert reuses the payload read: no new connection.
            val again = d.handle(t0 + 1_500, heard(iphone, Advert.ServiceDataMap(listOf()), -61, overflow = true))
            check(again.none { it is DriverCommand.ReadPayload }) { "$again" }
            check(d.nextWakeup() == t0 + 3_900) { "${d.nextWakeup()}" }
            val stored = d.handle(t0 + 3_900, DriverEvent.Timer)
            check(stored.contains(DriverCommand.ReleaseWakeLock)) { "$stored" }
            check(t.diagnostics().acceptedSinceOpen == 2uL) { "${t.diagnostics()}" }
            val gatt = d.collection().driver.gatt
            check(gatt.readsStarted == 1uL && gatt.readsSucceeded == 1uL && gatt.reused == 1uL) { "$gatt" }
        }
    }
}

// --- Storage errors and the reset at launch. ----------------------------------------------

fun withDir(body: (File) -> Unit) {
    val dir = kotlin.io.path.createTempDirectory("bluezone").toFile()
    try { body(dir) } finally { dir.deleteRecursively() }
}

fun testStoreErrorsHaveTheirCodes() = withDir { dir ->
    val path = File(dir, "bluezone.db").path
    BluezoneTracer.open(config(), path, ByteArray(32) { 1 }).use { it.currentAdvertisement() }
    try {
        BluezoneTracer.open(config(), path, ByteArray(32) { 2 })
        throw AssertionError("another key opened the store")
    } catch (e: BluezoneException.Storage) {
        check(e.code == 20u) { "wrong key: code ${e.code}" }
    }
    val damaged = File(dir, "damaged.db").apply { writeBytes("not a database".repeat(200).toByteArray()) }
    try {
        BluezoneTracer.open(config(), damaged.path, ByteArray(32) { 1 })
        throw AssertionError("a damaged file opened")
    } catch (e: BluezoneException.Storage) {
        check(e.code == 21u) { "corrupt: code ${e.code}" }
    }
}

fun testOpenTracerStartsAfreshWhenTheKeyNoLongerOpensTheStore() = withDir { dir ->
    val path = File(dir, "bluezone.db").path
    openTracer(config(), path, ByteArray(32) { 1 }).let { first ->
        check(first.reset == null) { "a new store was reset: ${first.reset}" }
        first.tracer.use { it.currentAdvertisement() }
    }
    // Restored onto a new phone: the Keystore key stayed on the old one, a new key was made.
    val again = openTracer(config(), path, ByteArray(32) { 2 })
    check(again.reset == StoreReset.KEY_NO_LONGER_OPENS_STORE) { "${again.reset}" }
    again.tracer.use { check(it.currentAdvertisement().payload.size == 31) { "usable" } }
}

/** A health authority's download server: an index and signed key files. */
class Authority(private val files: Map<String, ByteArray>, private val onFile: (Int) -> Unit = {}) : HttpClient {
    val fetched = mutableListOf<String>()
    override fun post(path: String, body: ByteArray): HttpResponse = throw BluezoneException.Network(30u, "downloads never post")
    override fun get(path: String): HttpResponse {
        if (path == "/v1/index.txt") return HttpResponse(200u.toUShort(), files.keys.joinToString("") { "$it\n" }.toByteArray())
        if (path == "/v1/risk-config.json") return HttpResponse(404u.toUShort(), ByteArray(0))
        val name = path.removePrefix("/v1/files/")
        fetched += name
        onFile(fetched.size)
        return HttpResponse(200u.toUShort(), files.getValue(name))
    }
}

fun testDownloadAllHonoursCancellationAndSaysWhatToRetry() = runBlocking {
    val signer = TrustedSigner("test", "v1", testingSignerPublicKey())
    val now = System.currentTimeMillis() / 1000
    val files = (0 until 100).associate { i ->
        "${now - 90_000 + i}-${i.toString().padStart(5, '0')}.zip" to
            testingKeyFile(listOf(ByteArray(16) { i.toByte() }), ((now / 86400 - 1) * 144).toUInt(), now - 3600)
    }
    val config = config().copy(trustedSigners = listOf(signer))
    BluezoneTracer.open(config, null, ByteArray(32)).use { t ->
        val cancellation = DownloadCancellation()
        val cancelling = Authority(files) { n -> if (n == 10) cancellation.cancel() }
        val report = t.downloadAll(cancelling, cancellation)
        check(report.end == DownloadEnd.Cancelled) { "${report.end}" }
        check(report.status.filesMatched == 10u && report.status.filesRemaining == 90u) { "${report.status}" }
        val rest = t.downloadAll(Authority(files), DownloadCancellation())
        check(rest.end == DownloadEnd.Done && rest.batches == 2u && rest.status.filesMatched == 90u) { "$rest" }
        val offline = t.downloadAll(Unreachable(), DownloadCancellation())
        check(offline.end is DownloadEnd.RetrySoon && (offline.end as DownloadEnd.RetrySoon).code == 30u) { "${offline.end}" }
    }
    BluezoneTracer.open(config().copy(trustedSigners = listOf()), null, ByteArray(32)).use { t ->
        val report = t.downloadAll(Authority(files), DownloadCancellation())
        check(report.end is DownloadEnd.WaitForNextRun) { "no signer is not retried: ${report.end}" }
    }
}

fun main(args: Array<String>) {
    samplePath = args[0]
    runTests(listOf(
        ::testAdvertisementAndSightings,
        ::testErrorsAreTypedWithStableCodes,
        ::testAsyncCallsAndKotlinCallbacks,
        ::testACloseContactIsNotifiedThroughTheKotlinNotifier,
        ::testClosedObjectsRefuseUse,
        ::testDriverScansAWindowAndStoresItWhenTheAlarmFires,
        ::testDriverPausesWhenBluetoothGoesOffMidWindow,
        ::testDriverRefusesGattReadsPastThePayload,
        ::testDriverReadsAnIPhoneReportedInTheOverflowArea,
        ::testStoreErrorsHaveTheirCodes,
        ::testOpenTracerStartsAfreshWhenTheKeyNoLongerOpensTheStore,
        ::testDownloadAllHonoursCancellationAndSaysWhatToRetry,
    ))
}

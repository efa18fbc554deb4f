package org.bluezone.shim

import org.bluezone.core.types.AdvertisingRequest
import org.bluezone.testrunner.runTests
import org.bluezone.core.types.BluetoothState
import org.bluezone.core.BluezoneConfig
import org.bluezone.core.BluezoneDriver
import org.bluezone.core.BluezoneTracer
import org.bluezone.core.types.CollectionState
import org.bluezone.core.types.CollectionStatus
import org.bluezone.core.DriverEvent
import org.bluezone.core.types.PauseReason
import org.bluezone.core.types.Platform
import org.bluezone.core.types.ReadFailure
import org.bluezone.core.types.RestartReason
import org.bluezone.core.types.ScanFilters
import org.bluezone.core.types.ScanMode
import org.bluezone.testing.testingAdvertPayload
import org.bluezone.testing.testingKeyFile
import org.bluezone.testing.testingSignerPublicKey
import org.bluezone.core.Advert
import org.bluezone.core.BluezoneException
import org.bluezone.core.DownloadEnd
import org.bluezone.core.HttpResponse
import org.bluezone.core.Sighting
import org.bluezone.core.StoreReset
import org.bluezone.core.TrustedSigner
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.runBlocking
import java.io.File
import java.security.GeneralSecurityException
import java.util.concurrent.ExecutionException
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import java.util.concurrent.CountDownLatch
import java.util.concurrent.atomic.AtomicInteger

// JVM tests of the plain-Kotlin part of the Android shim, against the real core library.
// Prints `N passed, N failed` last. Run by scripts/test-bindings.

fun check(condition: Boolean, what: () -> String) {
    if (!condition) throw AssertionError(what())
}

/** A radio that records what it is told; `hooks` stand in for the platform's behaviour. */
open class RecordingRadio : RadioExecutor {
    val calls = mutableListOf<String>()
    var wakeAt: Long? = null
    var status: CollectionStatus? = null
    var advertising: AdvertisingRequest? = null
    var scanMode: ScanMode? = null
    var filters: ScanFilters? = null

    override fun startScan(filters: ScanFilters, mode: ScanMode, windowMs: Long?) {
        calls += "startScan"
        this.filters = filters
        scanMode = mode
    }
    override fun stopScan() { calls += "stopScan" }
    override fun startAdvertising(request: AdvertisingRequest) {
        calls += "startAdvertising"
        advertising = request
    }
    override fun stopAdvertising() { calls += "stopAdvertising" }
    override fun readPayload(device: String) { calls += "readPayload $device" }
    override fun cancelConnection(device: String) { calls += "cancelConnection $device" }
    override fun respondToRead(request: ULong, value: ByteArray?) { calls += "respondToRead $request ${value?.size}" }
    override fun wakeAt(atMs: Long) {
        calls += "wakeAt"
        wakeAt = atMs
    }
    override fun holdWakeLock() { calls += "holdWakeLock" }
    override fun releaseWakeLock() { calls += "releaseWakeLock" }
    override fun showStatus(status: CollectionStatus) {
        calls += "showStatus"
        this.status = status
    }
}

class Rig(radio: RecordingRadio = RecordingRadio()) {
    val tracer = BluezoneTracer.open(BluezoneConfig((-15).toByte(), 0.toByte(), listOf(), null), null, ByteArray(32))
    var now = System.currentTimeMillis()
    val t0 = now
    val errors = mutableListOf<Throwable>()
    val driver = BluezoneDriver(tracer, Platform.ANDROID, null, 7uL, now)
    val radio = radio
    val loop = DriverLoop(driver, radio, { now }, { errors += it })

    fun facts(bluetooth: BluetoothState? = BluetoothState.ON) =
        PlatformFacts(bluetooth, permissionGranted = true, screenOn = false, powerSave = false, bluetoothAudioConnected = false)

    fun close() {
        driver.close()
        tracer.close()
    }
}

fun otherPhone(tekByte: Int, atMs: Long): ByteArray = testingAdvertPayload(ByteArray(16) { tekByte.toByte() }, atMs / 1000)

val IPHONE_OVERFLOW = byteArrayOf(2, 1, 6, 20, 0xFF.toByte(), 0x4C, 0x00, 0x01) + ByteArray(16)

fun testAWindowRunsThroughTheExecutorAndIsStoredWhenItsAlarmFires() {
    val rig = Rig()
    rig.loop.start(RestartReason.PROCESS_RESTART, rig.facts())
    check(rig.radio.calls.none { it == "startScan" }) { "collection is off until enabled: ${rig.radio.calls}" }
    rig.loop.send(DriverEvent.Enable)
    val radio = rig.radio
    check(radio.calls.containsAll(listOf("startAdvertising", "startScan", "holdWakeLock", "wakeAt"))) { "${radio.calls}" }
    check(radio.scanMode == ScanMode.LOW_LATENCY && radio.filters!!.exposureService && radio.filters!!.appleManufacturerData) { "scan" }
    check(AndroidValues.advertiseMode(radio.advertising!!.intervalMs) == 1) { "balanced" }
    check(radio.advertising!!.includeServiceData && !radio.advertising!!.connectable) { "${radio.advertising}" }
    check(radio.status!!.state == CollectionState.Collecting) { "${radio.status}" }
    val endAt = radio.wakeAt!!
    check(endAt == rig.t0 + 4_000) { "window end ${endAt - rig.t0}" }

    rig.now += 1_000
    val report = AndroidValues.scanReport("AA:00:00:00:00:01", otherPhone(0xA1, rig.now), -55, Int.MIN_VALUE)!!
    rig.loop.send(DriverEvent.ScanResult(report))
    check(rig.tracer.diagnostics().acceptedSinceOpen == 0uL) { "stored mid-window" }

    radio.calls.clear()
    rig.now = endAt
    rig.loop.send(DriverEvent.Timer)
    check(radio.calls.containsAll(listOf("stopScan", "releaseWakeLock", "wakeAt"))) { "${radio.calls}" }
    check(radio.wakeAt!! - rig.t0 in 210_000..300_000) { "next window ${radio.wakeAt!! - rig.t0}" }
    check(rig.tracer.diagnostics().acceptedSinceOpen == 1uL) { "${rig.tracer.diagnostics()}" }
    check(rig.driver.diagnostics().collection!!.driver.windows == 1uL) { "windows" }
    check(rig.errors.isEmpty()) { "${rig.errors}" }
    rig.close()
}

fun testBluetoothOffStopsTheRadioAndPausesWithItsReason() {
    val rig = Rig()
    rig.loop.start(RestartReason.PROCESS_RESTART, rig.facts())
    rig.loop.send(DriverEvent.Enable)
    rig.radio.calls.clear()
    rig.now += 2_000
    rig.loop.send(DriverEvent.Bluetooth(AndroidValues.bluetoothState(13)!!)) // STATE_TURNING_OFF
    check(rig.radio.calls.containsAll(listOf("stopScan", "stopAdvertising", "releaseWakeLock"))) { "${rig.radio.calls}" }
    check(rig.radio.status!!.state == CollectionState.Paused(PauseReason.BLUETOOTH_OFF)) { "${rig.radio.status}" }
    rig.close()
}

fun testAnIPhoneIsReadOverGattAndItsPayloadStored() {
    val radio = RecordingRadio()
    val rig = Rig(radio)
    rig.loop.start(RestartReason.BOOT, rig.facts())
    rig.loop.send(DriverEvent.Enable)
    rig.now += 500
    val iphone = "5A:00:00:00:00:01"
    rig.loop.send(DriverEvent.ScanResult(AndroidValues.scanReport(iphone, IPHONE_OVERFLOW, -60, Int.MIN_VALUE)!!))
    check(radio.calls.contains("readPayload $iphone")) { "${radio.calls}" }
    rig.now += 400
    val value = otherPhone(0xC3, rig.now).copyOfRange(11, 31)
    rig.loop.send(AndroidValues.payloadRead(iphone, 0, value))
    rig.now = radio.wakeAt!!
    rig.loop.send(DriverEvent.Timer)
    check(rig.tracer.diagnostics().acceptedSinceOpen == 1uL) { "${rig.tracer.diagnostics()}" }
    check(rig.driver.collection().driver.gatt.readsSucceeded == 1uL) { "gatt" }
    rig.close()
}

fun testCommandsThatThrowAreReportedAsTheirFailures() {
    val radio = object : RecordingRadio() {
        override fun startScan(filters: ScanFilters, mode: ScanMode, windowMs: Long?) {
            throw SecurityException("BLUETOOTH_SCAN revoked")
        }
        override fun startAdvertising(request: AdvertisingRequest) {
            throw IllegalStateException("advertiser gone")
        }
    }
    val rig = Rig(radio)
    rig.loop.start(RestartReason.PROCESS_RESTART, rig.facts())
    rig.loop.send(DriverEvent.Enable)
    val collection = rig.driver.collection()
    check(collection.driver.scanFailures == 1uL && collection.driver.advertisingFailures == 1uL) { "$collection" }
    check(collection.status.advertisingFailing) { "$collection" }
    check(rig.errors.size == 2) { "${rig.errors}" }
    check(DriverLoop.failureOf(org.bluezone.core.types.DriverCommand.ReadPayload("d"), RuntimeException()) ==
        DriverEvent.PayloadReadFailed("d", ReadFailure.CONNECTION_FAILED)) { "read failure" }
    rig.close()
}

fun testEventsSentFromInsideACommandWaitForTheCommandsBeforeThem() {
    lateinit var rig: Rig
    val radio = object : RecordingRadio() {
        override fun startScan(filters: ScanFilters, mode: ScanMode, windowMs: Long?) {
            super.startScan(filters, mode, windowMs)
            // The platform refuses at once, from inside the call.
            rig.loop.send(DriverEvent.ScanFailed(AndroidValues.scanFailure(6)))
        }
    }
    rig = Rig(radio)
    rig.loop.start(RestartReason.PROCESS_RESTART, rig.facts())
    rig.loop.send(DriverEvent.Enable)
    val calls = radio.calls
    // Enable's commands all ran (advertising included) before the failure was handled, which
    // let the wake lock go and set the retry.
    val advertise = calls.indexOf("startAdvertising")
    val release = calls.indexOf("releaseWakeLock")
    check(advertise in 0 until release && calls.last() == "wakeAt") { "$calls" }
    check(rig.driver.collection().driver.scanFailures == 1uL) { "counted" }
    rig.close()
}

fun testSendersOnManyThreadsNeverOverlap() {
    val inside = AtomicInteger(0)
    val overlaps = AtomicInteger(0)
    val radio = object : RecordingRadio() {
        override fun showStatus(status: CollectionStatus) = guard { super.showStatus(status) }
        override fun wakeAt(atMs: Long) = guard { super.wakeAt(atMs) }
        override fun startScan(filters: ScanFilters, mode: ScanMode, windowMs: Long?) = guard { super.startScan(filters, mode, windowMs) }
        override fun stopScan() = guard { super.stopScan() }
        fun guard(work: () -> Unit) {
            if (inside.incrementAndGet() > 1) overlaps.incrementAndGet()
            Thread.sleep(1)
            synchronized(this) { work() }
            inside.decrementAndGet()
        }
    }
    val rig = Rig(radio)
    rig.loop.start(RestartReason.PROCESS_RESTART, rig.facts())
    rig.loop.send(DriverEvent.Enable)
    val go = CountDownLatch(1)
    val threads = (0 until 8).map { n ->
        Thread {
            go.await()
            repeat(20) { k ->
                rig.loop.send(DriverEvent.Screen(k % 2 == 0))
                rig.loop.send(DriverEvent.Bluetooth(if ((n + k) % 3 == 0) BluetoothState.OFF else BluetoothState.ON))
            }
        }.also { it.start() }
    }
    go.countDown()
    threads.forEach { it.join() }
    check(overlaps.get() == 0) { "${overlaps.get()} commands overlapped" }
    check(rig.errors.isEmpty()) { "${rig.errors}" }
    rig.close()
}

fun testAndroidValuesTranslateOneToOne() {
    check(AndroidValues.bluetoothState(12) == BluetoothState.ON) { "on" }
    check(AndroidValues.bluetoothState(10) == BluetoothState.OFF) { "off" }
    check(AndroidValues.bluetoothState(11) == null) { "turning on" }
    check(AndroidValues.advertiseMode(100u) == 2 && AndroidValues.advertiseMode(250u) == 1 && AndroidValues.advertiseMode(1_000u) == 0) { "modes" }
    check(AndroidValues.scanMode(ScanMode.LOW_POWER) == 0 && AndroidValues.scanMode(ScanMode.LOW_LATENCY) == 2) { "scan modes" }
    val report = AndroidValues.scanReport("A", byteArrayOf(1, 2), -200_000, 7)!!
    check(report.rssi == Short.MIN_VALUE && report.txPowerDbm == 7.toShort()) { "$report" }
    check(AndroidValues.scanReport("A", byteArrayOf(1), -60, Int.MIN_VALUE)!!.txPowerDbm == null) { "no tx power" }
    check(AndroidValues.scanReport("A", null, -60, 0) == null) { "no record" }
    check(AndroidValues.payloadRead("d", 133, null) == DriverEvent.PayloadReadFailed("d", ReadFailure.CONNECTION_FAILED)) { "gatt error" }
    check(AndroidValues.scanFailure(2) == "SCAN_FAILED_APPLICATION_REGISTRATION_FAILED") { "scan failure" }
    check(AndroidValues.advertiseFailure(99) == "ADVERTISE_FAILED_99") { "advertise failure" }
    val facts = PlatformFacts(null, permissionGranted = false, screenOn = true, powerSave = false, bluetoothAudioConnected = true)
    check(facts.events() == listOf(DriverEvent.Permission(false), DriverEvent.Screen(true), DriverEvent.PowerSave(false), DriverEvent.BluetoothAudio(true))) { "${facts.events()}" }
}


// --- Master key, opening the tracer, downloads -------------------------------------------

/** Stands in for the Android Keystore: AES-GCM under a key held in memory. */
class MemoryKeystore : KeyWrapper {
    private var key: SecretKey? = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()
    override fun wrap(key: ByteArray): ByteArray {
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.ENCRYPT_MODE, checkNotNull(this.key))
        return cipher.iv + cipher.doFinal(key)
    }
    override fun unwrap(wrapped: ByteArray): ByteArray {
        val key = this.key ?: throw java.security.KeyStoreException("no key")
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(128, wrapped, 0, 12))
        return cipher.doFinal(wrapped, 12, wrapped.size - 12)
    }
    override fun destroy() { key = null }
}

fun <T> withDir(body: (File) -> T): T {
    val dir = kotlin.io.path.createTempDirectory("bluezone-shim").toFile()
    try { return body(dir) } finally { dir.deleteRecursively() }
}

fun testTheMasterKeyIsKeptAndReplacedWhenItNoLongerUnwraps() = withDir { dir ->
    val file = File(dir, "no_backup/bluezone-key.wrapped")
    val phone = MemoryKeystore()
    val first = MasterKeys(file, phone).load()
    check(!first.replacedUnreadable && first.bytes.size == 32) { "$first" }
    check(MasterKeys(file, phone).load().bytes.contentEquals(first.bytes)) { "the same key at the next launch" }
    check(!first.toString().contains(first.bytes[0].toString(16))) { "no key bytes in toString" }
    // Restored onto a new phone: the file came along, the Keystore key did not.
    val logs = mutableListOf<String>()
    val newPhone = MemoryKeystore()
    val replaced = MasterKeys(file, newPhone, log = { logs += it }).load()
    check(replaced.replacedUnreadable && !replaced.bytes.contentEquals(first.bytes)) { "$replaced" }
    check(logs.single().contains("AEADBadTagException")) { "$logs" }
    val next = MasterKeys(file, newPhone).load()
    check(!next.replacedUnreadable && next.bytes.contentEquals(replaced.bytes)) { "no reset loop" }
    // The Keystore key deleted (the person cleared credentials): also replaced, never a crash.
    newPhone.destroy()
    check(MasterKeys(file, MemoryKeystore()).load().replacedUnreadable) { "a missing Keystore key" }
}

fun config(signers: List<TrustedSigner> = listOf()) = BluezoneConfig((-15).toByte(), 0.toByte(), signers, null)

fun testTheTracerOpensOffTheCallersThreadAndAStoreRestoredElsewhereStartsAfresh() = withDir { dir ->
    val db = File(dir, "no_backup/bluezone.db")
    val keyFile = File(dir, "no_backup/bluezone-key.wrapped")
    val core = Executors.newSingleThreadExecutor { Thread(it, "bluezone-core") }
    try {
        val phone = MemoryKeystore()
        var thread: String? = null
        val opener = TracerOpener(config(), db, MasterKeys(keyFile, object : KeyWrapper by phone {
            override fun wrap(key: ByteArray): ByteArray { thread = Thread.currentThread().name; return phone.wrap(key) }
        }), core)
        val first = opener.opened.get(30, TimeUnit.SECONDS)
        check(first.reset == null && thread == "bluezone-core") { "${first.reset} on $thread" }
        first.tracer.close()

        val restored = TracerOpener(config(), db, MasterKeys(keyFile, MemoryKeystore()), core).opened.get(30, TimeUnit.SECONDS)
        check(restored.reset == StoreReset.KEY_NO_LONGER_OPENS_STORE) { "${restored.reset}" }
        check(restored.tracer.currentAdvertisement().payload.size == 31) { "usable afresh" }
        restored.tracer.close()

        // A failure that is no reason to delete anything is reported, not thrown at launch.
        val blocked = File(dir, "blocked.db").apply { mkdirs(); File(this, "keep").writeText("x") }
        try {
            TracerOpener(config(), blocked, MasterKeys(keyFile, MemoryKeystore()), core).opened.get(30, TimeUnit.SECONDS)
            throw AssertionError("a directory opened as a store")
        } catch (e: ExecutionException) {
            check(e.cause is BluezoneException.Storage) { "${e.cause}" }
            check(File(blocked, "keep").exists()) { "nothing deleted" }
        }
    } finally {
        core.shutdown()
    }
}

/** A health authority's download server; `gate` (if set) holds each file request. */
class Authority(private val files: Map<String, ByteArray>, private val gate: CountDownLatch? = null) : CancellableHttpClient {
    val fetched = AtomicInteger()
    @Volatile var cancelled = false
    override fun post(path: String, body: ByteArray): HttpResponse = throw BluezoneException.Network(30u, "downloads never post")
    override fun get(path: String): HttpResponse {
        if (cancelled) throw BluezoneException.Network(30u, "Canceled")
        if (path == "/v1/index.txt") return HttpResponse(200u.toUShort(), files.keys.joinToString("") { "$it\n" }.toByteArray())
        if (path == "/v1/risk-config.json") return HttpResponse(404u.toUShort(), ByteArray(0))
        fetched.incrementAndGet()
        gate?.await(30, TimeUnit.SECONDS)
        if (cancelled) throw BluezoneException.Network(30u, "Canceled")
        return HttpResponse(200u.toUShort(), files.getValue(path.removePrefix("/v1/files/")))
    }
    override fun cancelAll() { cancelled = true; gate?.countDown() }
}

fun testTheDownloadJobNotifiesOnceAndAnswersTheScheduler() = runBlocking {
    val f0 = ByteArray(16) { 0xF0.toByte() }
    val now = System.currentTimeMillis() / 1000
    var start = now - 2 * 3600
    if (start % 86400 > 86400 - 3600) start -= 3600
    val signer = TrustedSigner("test", "v1", testingSignerPublicKey())
    val tracer = BluezoneTracer.open(config(listOf(signer)), null, ByteArray(32))
    for (scan in 0 until 7) {
        val time = start + scan * 300
        val advert = Advert.RawAdvertisingData(testingAdvertPayload(f0, time))
        tracer.recordSightings((0 until 3).map { Sighting(advert, (-55).toShort(), time + it, scan.toULong()) })
    }
    val dayStart = ((start / 86400) * 144).toUInt()
    val files = (0 until 70).associate { i ->
        "${now - 7200 + i}-${i.toString().padStart(5, '0')}.zip" to
            testingKeyFile(listOf(if (i == 66) f0 else ByteArray(16) { i.toByte() }), dayStart, now)
    }
    var notified = 0
    check(DownloadJob.run(tracer, Authority(files)) { notified++ } == JobResult.SUCCESS) { "done" }
    check(notified == 1) { "the exposure in the second batch is notified once: $notified" }
    check(DownloadJob.run(tracer, Authority(files)) { notified++ } == JobResult.SUCCESS && notified == 1) { "again" }
    val offline = object : CancellableHttpClient by Authority(files) {
        override fun get(path: String): HttpResponse = throw BluezoneException.Network(30u, "UnknownHostException")
    }
    check(DownloadJob.run(tracer, offline) {} == JobResult.RETRY) { "offline is retried" }
    val unsigned = BluezoneTracer.open(config(), null, ByteArray(32))
    check(DownloadJob.run(unsigned, Authority(files)) {} == JobResult.FAILURE) { "no signer waits for the next run" }
    check(DownloadJob.resultOf(DownloadEnd.Cancelled) == JobResult.RETRY) { "cancelled" }
    tracer.close()
    unsigned.close()
}

fun testACancelledDownloadJobAbortsTheRequestAndStops() = runBlocking {
    val now = System.currentTimeMillis() / 1000
    val signer = TrustedSigner("test", "v1", testingSignerPublicKey())
    val tracer = BluezoneTracer.open(config(listOf(signer)), null, ByteArray(32))
    val files = (0 until 10).associate { i ->
        "${now - 7200 + i}-${i.toString().padStart(5, '0')}.zip" to
            testingKeyFile(listOf(ByteArray(16) { i.toByte() }), ((now / 86400) * 144).toUInt(), now)
    }
    val gate = CountDownLatch(1)
    val server = Authority(files, gate)
    val job = async(Dispatchers.Default) { DownloadJob.run(tracer, server) {} }
    while (server.fetched.get() == 0) Thread.sleep(5)
    job.cancel() // WorkManager stopped the job while the first file was on its way
    try {
        job.await()
        throw AssertionError("not cancelled")
    } catch (e: CancellationException) {
        // expected
    }
    check(server.cancelled) { "the request in flight was aborted" }
    Thread.sleep(200)
    check(server.fetched.get() == 1) { "no file asked for after the cancellation: ${server.fetched.get()}" }
    tracer.close()
}

fun testTheChaffJobAsksTheCoreAndSendsNothingBeforeItIsDue() = runBlocking {
    val server = Authority(mapOf())
    val off = BluezoneTracer.open(config(), null, ByteArray(32))
    check(ChaffJob.run(off, server) == null) { "no upload key: chaff is off" }
    // Any X25519 key; a mean of 127 years: not due for a long while.
    val key = java.util.Base64.getEncoder().encodeToString(ByteArray(32) { 9 })
    val keyed = BluezoneTracer.open(BluezoneConfig((-15).toByte(), 0.toByte(), listOf(), key, 4_000_000_000u), null, ByteArray(32))
    val now = System.currentTimeMillis() / 1000
    val next = ChaffJob.run(keyed, server)
    check(next != null && next > now && next == keyed.nextChaffAt()) { "due later: $next" }
    check(ChaffJob.delaySeconds(next, now)!! > 0 && ChaffJob.delaySeconds(now - 5, now) == 0L) { "delays" }
    check(ChaffJob.delaySeconds(null, now) == null) { "off" }
    check(server.fetched.get() == 0) { "nothing sent" } // Authority throws on any post
    off.close()
    keyed.close()
}

fun testStatusMessages() {
    val rig = Rig()
    try {
        check(StatusMessage.of(rig.driver.status()) == StatusMessage.OFF) { "a new driver is off" }
        rig.loop.start(RestartReason.PROCESS_RESTART, rig.facts(BluetoothState.OFF))
        rig.loop.send(DriverEvent.Enable)
        check(StatusMessage.of(rig.driver.status()) == StatusMessage.BLUETOOTH_OFF) { "${rig.driver.status()}" }
        rig.loop.send(DriverEvent.Bluetooth(BluetoothState.ON))
        check(StatusMessage.of(rig.driver.status()) == StatusMessage.ON) { "${rig.driver.status()}" }
    } finally {
        rig.close()
    }
}

fun main() {
    runTests(listOf(
        ::testAWindowRunsThroughTheExecutorAndIsStoredWhenItsAlarmFires,
        ::testBluetoothOffStopsTheRadioAndPausesWithItsReason,
        ::testAnIPhoneIsReadOverGattAndItsPayloadStored,
        ::testCommandsThatThrowAreReportedAsTheirFailures,
        ::testEventsSentFromInsideACommandWaitForTheCommandsBeforeThem,
        ::testSendersOnManyThreadsNeverOverlap,
        ::testAndroidValuesTranslateOneToOne,
        ::testTheMasterKeyIsKeptAndReplacedWhenItNoLongerUnwraps,
        ::testTheTracerOpensOffTheCallersThreadAndAStoreRestoredElsewhereStartsAfresh,
        ::testTheDownloadJobNotifiesOnceAndAnswersTheScheduler,
        ::testACancelledDownloadJobAbortsTheRequestAndStops,
        ::testTheChaffJobAsksTheCoreAndSendsNothingBeforeItIsDue,
        ::testStatusMessages,
    ))
}

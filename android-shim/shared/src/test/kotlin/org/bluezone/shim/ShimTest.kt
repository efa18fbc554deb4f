package org.bluezone.shim

import org.bluezone.core.AdvertisingRequest
import org.bluezone.core.BluetoothState
import org.bluezone.core.BluezoneConfig
import org.bluezone.core.BluezoneDriver
import org.bluezone.core.BluezoneTracer
import org.bluezone.core.CollectionState
import org.bluezone.core.CollectionStatus
import org.bluezone.core.DriverEvent
import org.bluezone.core.PauseReason
import org.bluezone.core.Platform
import org.bluezone.core.ReadFailure
import org.bluezone.core.RestartReason
import org.bluezone.core.ScanFilters
import org.bluezone.core.ScanMode
import org.bluezone.testing.testingAdvertPayload
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
    check(DriverLoop.failureOf(org.bluezone.core.DriverCommand.ReadPayload("d"), RuntimeException()) ==
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

fun main() {
    val tests = listOf(
        ::testAWindowRunsThroughTheExecutorAndIsStoredWhenItsAlarmFires,
        ::testBluetoothOffStopsTheRadioAndPausesWithItsReason,
        ::testAnIPhoneIsReadOverGattAndItsPayloadStored,
        ::testCommandsThatThrowAreReportedAsTheirFailures,
        ::testEventsSentFromInsideACommandWaitForTheCommandsBeforeThem,
        ::testSendersOnManyThreadsNeverOverlap,
        ::testAndroidValuesTranslateOneToOne,
    )
    var passed = 0
    var failed = 0
    for (test in tests) {
        try {
            test(); passed++; println("ok   ${test.name}")
        } catch (e: Throwable) {
            failed++; println("FAIL ${test.name}: $e"); e.printStackTrace()
        }
    }
    println("$passed passed, $failed failed")
    if (failed > 0) kotlin.system.exitProcess(1)
}

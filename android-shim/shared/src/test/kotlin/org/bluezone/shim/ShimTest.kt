package org.bluezone.shim

import org.bluezone.core.BluezoneConfig
import org.bluezone.core.BluezoneTracer
import kotlin.random.Random

// JVM tests of the plain-Kotlin part of the Android shim, against the real core library.
// Prints `N passed, N failed` last. Run by scripts/test-bindings.

fun check(condition: Boolean, what: () -> String) {
    if (!condition) throw AssertionError(what())
}

fun testScansEveryFiveMinutesAtMost() {
    val scheduler = ScanScheduler(Random(7))
    var end = 0L
    repeat(1_000) {
        val plan = scheduler.next(end, ScanScheduler.DeviceState())
        val wait = plan.startAtMillis - end
        check(wait in 210_000..300_000) { "wait $wait" }
        check(plan.durationMillis == 4_000L) { "duration" }
        end = plan.startAtMillis + plan.durationMillis
    }
    val busy = scheduler.next(0, ScanScheduler.DeviceState(screenOn = true, audioPlaying = true, bluetoothAudioConnected = true))
    check(busy.startAtMillis in 100_800..144_000) { "busy ${busy.startAtMillis}" }
    check(busy.durationMillis == 17_000L) { "audio window" }
    val floor = ScanScheduler(Random(1), basePeriodMillis = 70_000, jitterMillis = 60_000)
    repeat(100) { check(floor.next(0, ScanScheduler.DeviceState(screenOn = true)).startAtMillis >= 60_000) { "floor" } }
}

fun testBatcherGroupsByWindowAndFlushesWhenFull() {
    val batcher = SightingBatcher(maxBatch = 3)
    val w1 = batcher.startWindow()
    check(batcher.add(byteArrayOf(1), -60, 1_000_500) == null) { "not full" }
    check(batcher.add(byteArrayOf(2), -61, 1_001_000) == null) { "not full" }
    val full = batcher.add(byteArrayOf(3), -62, 1_002_000)!!
    check(full.size == 3 && full.all { it.scanWindow == w1 }) { "$full" }
    check(full[0].time == 1_000L) { "seconds" }
    val w2 = batcher.startWindow()
    batcher.add(byteArrayOf(4), -63, 2_000_000)
    val rest = batcher.drain()
    check(rest.size == 1 && rest[0].scanWindow == w2 && w2 == w1 + 1uL) { "$rest" }
    check(batcher.drain().isEmpty()) { "drained" }
}

fun testBridgeAdvertisesAndRecordsThroughTheCore() {
    val tracer = BluezoneTracer.open(BluezoneConfig((-15).toByte(), 0.toByte(), listOf(), null), null, ByteArray(32))
    val bridge = CoreBridge(tracer)
    val ad = bridge.advertisement()
    val nowMillis = ad.rotatedAt * 1000
    val delay = AdvertisingSchedule.delayUntilRotation(ad, nowMillis)
    check(delay in 600_000..1_200_000) { "delay $delay" }
    check(!AdvertisingSchedule.isDue(ad, nowMillis)) { "not due" }
    check(AdvertisingSchedule.isDue(ad, ad.nextRotationAt * 1000)) { "due" }
    val batcher = SightingBatcher()
    batcher.startWindow()
    batcher.add(ad.payload, -58, nowMillis)
    batcher.add(byteArrayOf(2, 1, 6), -58, nowMillis)
    val report = bridge.record(batcher.drain())!!
    check(report.accepted == 1uL && report.malformed == 1uL) { "$report" }
    check(bridge.record(emptyList()) == null) { "empty" }
    tracer.close()
}

fun main() {
    val tests = listOf(
        ::testScansEveryFiveMinutesAtMost,
        ::testBatcherGroupsByWindowAndFlushesWhenFull,
        ::testBridgeAdvertisesAndRecordsThroughTheCore,
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

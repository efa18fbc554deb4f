package org.bluezone.shim

import kotlin.random.Random

/**
 * When to scan, and for how long: GAEN's duty cycle (a scan at least every 5 minutes).
 *
 * The period is 300 s minus a random 0–90 s, shortened while the screen is on (x0.8) or
 * audio plays (x0.6), never below 60 s. A window lasts 4 s, or 17 s while a Bluetooth audio
 * profile is connected (the radio is shared). Pure logic: the Android service asks it and
 * sets an alarm; it is tested on the JVM.
 */
class ScanScheduler(
    private val random: Random,
    private val basePeriodMillis: Long = 300_000,
    private val jitterMillis: Long = 90_000,
    private val minimumPeriodMillis: Long = 60_000,
) {
    /** What the device is doing, as far as scanning cares. */
    data class DeviceState(
        val screenOn: Boolean = false,
        val audioPlaying: Boolean = false,
        val bluetoothAudioConnected: Boolean = false,
    )

    /** One planned scan window. */
    data class ScanPlan(val startAtMillis: Long, val durationMillis: Long)

    /** The next scan after one that ended at [lastScanEndMillis]. */
    fun next(lastScanEndMillis: Long, state: DeviceState): ScanPlan {
        var period = (basePeriodMillis - random.nextLong(0, jitterMillis + 1)).toDouble()
        if (state.screenOn) period *= 0.8
        if (state.audioPlaying) period *= 0.6
        val wait = maxOf(minimumPeriodMillis, period.toLong())
        val duration = if (state.bluetoothAudioConnected) 17_000L else 4_000L
        return ScanPlan(lastScanEndMillis + wait, duration)
    }
}

package org.bluezone.shim

import org.bluezone.core.Advert
import org.bluezone.core.Sighting

/**
 * Collects what one scan window hears and hands it to the core in batches. Raw advert bytes
 * go to Rust untouched: the shell parses nothing.
 *
 * Thread-safe: scan callbacks arrive on a Binder thread, the flush on the service's thread.
 */
class SightingBatcher(private val maxBatch: Int = 2_000) {
    private val lock = Any()
    private val pending = ArrayList<Sighting>()
    private var window = 0uL

    /** Starts a new scan window; sightings until the next call share its id. */
    fun startWindow(): ULong = synchronized(lock) {
        window += 1uL
        window
    }

    /**
     * Adds an advert heard (Android `ScanRecord.getBytes()`, RSSI, wall-clock millis).
     * Returns a full batch to send now, or null.
     */
    fun add(scanRecord: ByteArray, rssi: Int, timeMillis: Long): List<Sighting>? = synchronized(lock) {
        pending += Sighting(
            Advert.RawAdvertisingData(scanRecord),
            rssi.coerceIn(Short.MIN_VALUE.toInt(), Short.MAX_VALUE.toInt()).toShort(),
            timeMillis / 1000,
            window,
        )
        if (pending.size >= maxBatch) drainLocked() else null
    }

    /** Everything not yet sent (at the end of a window). */
    fun drain(): List<Sighting> = synchronized(lock) { drainLocked() }

    private fun drainLocked(): List<Sighting> {
        val out = ArrayList(pending)
        pending.clear()
        return out
    }
}

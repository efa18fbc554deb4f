package org.bluezone.shim

import org.bluezone.core.types.AdvertisingRequest
import org.bluezone.core.types.CollectionStatus
import org.bluezone.core.types.ScanFilters
import org.bluezone.core.types.ScanMode

/**
 * What the Android service does for the driver: one method per [org.bluezone.core.types.DriverCommand],
 * each carried out as asked and nothing decided. Results come back as events through
 * [DriverLoop.send] (scan results, `ScanStarted`/`ScanFailed`, `AdvertisingStarted`/`Failed`,
 * `PayloadRead`/`PayloadReadFailed`, `Timer`).
 *
 * A method that throws (a `SecurityException` after a permission was revoked, a stack that went
 * away) is reported by [DriverLoop] as the command's failure event; implementations need not
 * catch.
 */
interface RadioExecutor {
    /** Stop any scan, then scan with these filters and this mode (`windowMs`: for logs only). */
    fun startScan(filters: ScanFilters, mode: ScanMode, windowMs: Long?)

    /** Stop the scan. */
    fun stopScan()

    /** Stop any advertising, then advertise this (a restart gives a new random address). */
    fun startAdvertising(request: AdvertisingRequest)

    /** Stop advertising. */
    fun stopAdvertising()

    /** Connect to `device`, read the payload characteristic, disconnect, report the result. */
    fun readPayload(device: String)

    /** Give up the connection or read to `device`, reporting nothing. */
    fun cancelConnection(device: String)

    /** Answer GATT read request `request` (`null`: "invalid offset"). Android never serves. */
    fun respondToRead(request: ULong, value: ByteArray?)

    /** Deliver `Timer` at this Unix time (ms), even in Doze; replaces the previous wake-up. */
    fun wakeAt(atMs: Long)

    /** Hold a partial wake lock until [releaseWakeLock]. */
    fun holdWakeLock()

    /** Release the wake lock. */
    fun releaseWakeLock()

    /** Show the status (the service's notification, the app's screen). */
    fun showStatus(status: CollectionStatus)
}

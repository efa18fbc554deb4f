package org.bluezone.shim

import org.bluezone.core.CurrentAdvertisement

/**
 * When to restart advertising. The core decides rotation; restarting the advertiser at that
 * moment makes Android pick a new random address, so the address and the RPI change together.
 */
object AdvertisingSchedule {
    /** Milliseconds from [nowMillis] until the advertiser must be restarted with a new payload. */
    fun delayUntilRotation(current: CurrentAdvertisement, nowMillis: Long): Long =
        maxOf(0L, current.nextRotationAt * 1000 - nowMillis)

    /** Whether the advertisement on air is due for replacement. */
    fun isDue(current: CurrentAdvertisement, nowMillis: Long): Boolean =
        delayUntilRotation(current, nowMillis) == 0L
}

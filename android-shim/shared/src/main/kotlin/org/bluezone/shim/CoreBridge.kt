package org.bluezone.shim

import org.bluezone.core.BluezoneTracer
import org.bluezone.core.CurrentAdvertisement
import org.bluezone.core.IngestReport
import org.bluezone.core.Sighting

/**
 * The only place the shell talks to the core during data collection: what to advertise,
 * and where scan results go. Keeps the Android classes free of any protocol knowledge.
 */
class CoreBridge(private val tracer: BluezoneTracer) {
    /** The advertisement to put on air now. */
    fun advertisement(): CurrentAdvertisement = tracer.currentAdvertisement()

    /** Hands a batch to the core; an empty batch costs nothing. */
    fun record(batch: List<Sighting>): IngestReport? =
        if (batch.isEmpty()) null else tracer.recordSightings(batch)
}

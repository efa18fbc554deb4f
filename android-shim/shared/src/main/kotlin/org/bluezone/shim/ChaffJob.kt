package org.bluezone.shim

import kotlinx.coroutines.CancellationException
import org.bluezone.core.BluezoneException
import org.bluezone.core.BluezoneTracer
import org.bluezone.core.DownloadCancellation

/**
 * The chaff job: one call to the core (`runDueChaff`), which sends a fake upload sequence if
 * one is due (the schedule and the sequence are Rust's) and says when the next is due.
 * Cancelling the coroutine ends the sequence at its pause and aborts the request in flight.
 */
object ChaffJob {
    /** Runs it; returns when to run next (Unix seconds), or `null` when chaff is off. */
    suspend fun run(tracer: BluezoneTracer, http: CancellableHttpClient): Long? {
        val cancellation = DownloadCancellation()
        return try {
            tracer.runDueChaff(http, cancellation).nextAt
        } catch (e: CancellationException) {
            cancellation.cancel()
            http.cancelAll()
            throw e
        } catch (e: BluezoneException) {
            // A fake sequence that failed is not retried (the core drew the next one).
            tracer.nextChaffAt()
        }
    }

    /** Seconds from [nowSeconds] until [nextAt] (none: chaff is off), never negative. */
    fun delaySeconds(nextAt: Long?, nowSeconds: Long): Long? = nextAt?.let { maxOf(0L, it - nowSeconds) }
}

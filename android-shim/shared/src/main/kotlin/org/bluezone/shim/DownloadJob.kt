package org.bluezone.shim

import kotlinx.coroutines.CancellationException
import org.bluezone.core.BluezoneTracer
import org.bluezone.core.DownloadCancellation
import org.bluezone.core.DownloadEnd
import org.bluezone.core.DownloadReport
import org.bluezone.core.HttpClient

/** What a background job reports to its scheduler (WorkManager's `Result`). */
enum class JobResult { SUCCESS, RETRY, FAILURE }

/** An [HttpClient] whose requests in flight can be aborted (OkHttp's `Call.cancel`). */
interface CancellableHttpClient : HttpClient {
    /** Aborts every request in flight and refuses new ones. */
    fun cancelAll()
}

/**
 * The download job: one call to the core (`downloadAll`: every batch until nothing is new),
 * and its answer carried out. Cancelling the coroutine (WorkManager stopped the job) sets
 * the core's cancellation flag and aborts the request in flight; what was processed is kept.
 */
object DownloadJob {
    /** Runs the download; [notify] is called when the person must be told of an exposure. */
    suspend fun run(tracer: BluezoneTracer, http: CancellableHttpClient, notify: () -> Unit): JobResult {
        val cancellation = DownloadCancellation()
        val report: DownloadReport = try {
            tracer.downloadAll(http, cancellation)
        } catch (e: CancellationException) {
            cancellation.cancel()
            http.cancelAll()
            throw e
        }
        // Whatever the end: a batch before a failure may have found the exposure.
        if (report.status.newlyNotified) notify()
        return resultOf(report.end)
    }

    /** The scheduler's answer for how a run ended (the decision was made in Rust). */
    fun resultOf(end: DownloadEnd): JobResult = when (end) {
        DownloadEnd.Done -> JobResult.SUCCESS
        DownloadEnd.Cancelled, is DownloadEnd.RetrySoon -> JobResult.RETRY
        // Periodic work that fails still runs next period; it is just not retried now.
        is DownloadEnd.WaitForNextRun -> JobResult.FAILURE
    }
}

package org.bluezone.android

import android.content.Context
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.NetworkType
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import org.bluezone.shim.DownloadJob
import org.bluezone.shim.JobResult
import java.util.concurrent.TimeUnit

/**
 * Periodic download (WorkManager, only with a network): one call to the core, which
 * downloads every new key file, matches in Rust and says what to tell WorkManager. Stopping
 * the work (constraints lost, the system's quota) cancels this coroutine; the core then stops
 * between files and keeps what it processed. Nothing here uploads anything.
 */
class DownloadWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val opened = Bluezone.openedForJob("download") ?: return Result.failure()
        val http = OkHttpClientAdapter(Bluezone.server())
        return when (DownloadJob.run(opened.tracer, http) { ExposureNotification.post(applicationContext) }) {
            JobResult.SUCCESS -> Result.success()
            JobResult.RETRY -> Result.retry()
            JobResult.FAILURE -> Result.failure()
        }
    }

    companion object {
        private const val NAME = "bluezone-download"

        /** Downloads every 4 hours while a network is up (Android may stretch the period). */
        fun schedule(context: Context) {
            val request = PeriodicWorkRequestBuilder<DownloadWorker>(4, TimeUnit.HOURS)
                .setConstraints(Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build())
                .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 15, TimeUnit.MINUTES)
                .build()
            WorkManager.getInstance(context).enqueueUniquePeriodicWork(NAME, ExistingPeriodicWorkPolicy.UPDATE, request)
        }
    }
}

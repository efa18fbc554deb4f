package org.bluezone.android

import android.content.Context
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingWorkPolicy
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import org.bluezone.shim.ChaffJob
import java.util.concurrent.TimeUnit

/**
 * Fake upload sequences ("chaff"), so that a real upload cannot be told apart on the
 * network: a one-time job that wakes when the core says the next sequence is due, makes one
 * call (`runDueChaff`: the schedule, the requests and their spacing are Rust's), and
 * schedules itself for the next. Nothing here touches keys or the pending upload.
 */
class ChaffWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val opened = Bluezone.openedForJob("chaff") ?: return Result.failure()
        val next = ChaffJob.run(opened.tracer, OkHttpClientAdapter(Bluezone.server()))
        // Appended after this run (REPLACE would cancel the run that is asking).
        ChaffJob.delaySeconds(next, System.currentTimeMillis() / 1000)
            ?.let { enqueue(applicationContext, it, ExistingWorkPolicy.APPEND_OR_REPLACE) }
        return Result.success()
    }

    companion object {
        private const val NAME = "bluezone-chaff"

        /** At launch: runs soon unless a run is already waiting (it then keeps its time). */
        fun schedule(context: Context) = enqueue(context, 0, ExistingWorkPolicy.KEEP)

        private fun enqueue(context: Context, delaySeconds: Long, policy: ExistingWorkPolicy) {
            val request = OneTimeWorkRequestBuilder<ChaffWorker>()
                .setInitialDelay(delaySeconds, TimeUnit.SECONDS)
                .setConstraints(Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build())
                .build()
            WorkManager.getInstance(context).enqueueUniqueWork(NAME, policy, request)
        }
    }
}

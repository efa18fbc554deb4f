package org.bluezone.android

import android.app.NotificationChannel
import android.app.NotificationManager
import android.content.Context
import androidx.core.app.NotificationCompat
import androidx.work.CoroutineWorker
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.WorkerParameters
import java.util.concurrent.TimeUnit

/**
 * Periodic download (WorkManager): new key files are fetched once, matched in Rust, and if
 * the core says so, the exposure notification is posted. Nothing here uploads anything.
 */
class DownloadWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val base = inputData.getString("server") ?: return Result.failure()
        return try {
            val tracer = Bluezone.tracer()
            val status = tracer.downloadKeyFiles(OkHttpClientAdapter(base))
            tracer.runMaintenance()
            if (status.newlyNotified) notifyExposure(applicationContext)
            Result.success()
        } catch (e: Exception) {
            Result.retry()
        }
    }

    companion object {
        /** Schedules downloads every few hours (Android may stretch the period). */
        fun schedule(context: Context, serverBaseUrl: String) {
            val request = PeriodicWorkRequestBuilder<DownloadWorker>(4, TimeUnit.HOURS)
                .setInputData(androidx.work.workDataOf("server" to serverBaseUrl))
                .build()
            WorkManager.getInstance(context)
                .enqueueUniquePeriodicWork("bluezone-download", ExistingPeriodicWorkPolicy.KEEP, request)
        }

        /** The exposure notification: it says what to do, not who or where. */
        fun notifyExposure(context: Context) {
            val manager = context.getSystemService(NotificationManager::class.java)
            manager.createNotificationChannel(
                NotificationChannel("bluezone-exposure", "Possible exposure", NotificationManager.IMPORTANCE_HIGH),
            )
            manager.notify(
                2,
                NotificationCompat.Builder(context, "bluezone-exposure")
                    .setSmallIcon(android.R.drawable.stat_notify_error)
                    .setContentTitle("You may have been exposed")
                    .setContentText("Open the app to see when, and what to do next.")
                    .setAutoCancel(true)
                    .build(),
            )
        }
    }
}

package org.bluezone.android

import android.Manifest
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.PendingIntent
import android.content.Context
import android.content.pm.PackageManager
import android.os.Build
import androidx.core.app.NotificationCompat
import androidx.core.app.NotificationManagerCompat
import androidx.core.content.ContextCompat

/**
 * The exposure notification: it says what to do, not who or where, and opens the app. Posted
 * only when the person allows notifications (`POST_NOTIFICATIONS`, Android 13+); otherwise
 * the app shows the exposure when it is next opened (the state is in the store either way).
 */
object ExposureNotification {
    private const val CHANNEL = "bluezone-exposure"
    private const val ID = 2

    /** Posts it; returns false when notifications are not allowed. */
    fun post(context: Context): Boolean {
        val allowed = (Build.VERSION.SDK_INT < Build.VERSION_CODES.TIRAMISU ||
            ContextCompat.checkSelfPermission(context, Manifest.permission.POST_NOTIFICATIONS) == PackageManager.PERMISSION_GRANTED) &&
            NotificationManagerCompat.from(context).areNotificationsEnabled()
        if (!allowed) {
            Bluezone.warn("exposure found; notifications are not allowed, the app shows it when opened")
            return false
        }
        val manager = context.getSystemService(NotificationManager::class.java)
        manager.createNotificationChannel(
            NotificationChannel(CHANNEL, context.getString(R.string.bluezone_exposure_channel), NotificationManager.IMPORTANCE_HIGH),
        )
        val launch = context.packageManager.getLaunchIntentForPackage(context.packageName)
        val open = launch?.let {
            PendingIntent.getActivity(context, 0, it, PendingIntent.FLAG_IMMUTABLE or PendingIntent.FLAG_UPDATE_CURRENT)
        }
        manager.notify(
            ID,
            NotificationCompat.Builder(context, CHANNEL)
                .setSmallIcon(android.R.drawable.stat_notify_error)
                .setContentTitle(context.getString(R.string.bluezone_exposure_title))
                .setContentText(context.getString(R.string.bluezone_exposure_text))
                .setContentIntent(open)
                .setAutoCancel(true)
                .build(),
        )
        return true
    }
}

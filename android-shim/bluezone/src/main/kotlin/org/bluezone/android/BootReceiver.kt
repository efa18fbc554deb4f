package org.bluezone.android

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.os.PowerManager

/**
 * The phone was switched on, or the app was updated: the service starts and its driver gets
 * `Restarted` with that reason (it resumes collecting if the person had it on, or stops again).
 * Both broadcasts are protected: only the system sends them.
 */
class BootReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        val action = when (intent.action) {
            Intent.ACTION_BOOT_COMPLETED -> ExposureService.ACTION_BOOT
            Intent.ACTION_MY_PACKAGE_REPLACED -> ExposureService.ACTION_UPDATE
            else -> return
        }
        ExposureService.deliver(context, action)
    }
}

/**
 * The driver's wake-up (`WakeAt`) fired: `Timer` to the service, started if it is not running.
 * The alarm keeps the CPU awake while this receiver runs, so it stays pending (`goAsync`) until
 * the service has handled the event (the driver then holds its own wake lock if it needs one).
 */
class AlarmReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        if (intent.action != ExposureService.ACTION_TIMER) return
        val pending = goAsync()
        // The alarm's own wake lock ends with this receiver; when the service must first be
        // started, keep the CPU awake until it has handled the Timer (or at most 10 s).
        val awake = context.getSystemService(PowerManager::class.java)
            .newWakeLock(PowerManager.PARTIAL_WAKE_LOCK, "bluezone:alarm")
            .apply { acquire(10_000) }
        ExposureService.deliver(context, ExposureService.ACTION_TIMER) { pending.finish() }
        // A running service has the Timer queued: release after it. A starting one: the 10 s
        // timeout releases it, by when the service holds its own lock for its window.
        ExposureService.afterNextEvent { if (awake.isHeld) awake.release() }
    }
}

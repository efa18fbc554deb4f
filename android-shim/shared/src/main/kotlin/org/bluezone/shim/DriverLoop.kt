package org.bluezone.shim

import org.bluezone.core.BluezoneDriver
import org.bluezone.core.types.DriverCommand
import org.bluezone.core.DriverEvent
import org.bluezone.core.types.ReadFailure
import org.bluezone.core.types.RestartReason

/**
 * Runs the driver: every event goes to [BluezoneDriver.handle] with the wall-clock time, and
 * every command that comes back is carried out by the [RadioExecutor], in order. Nothing is
 * decided here and nothing is kept but the events not yet handled.
 *
 * Thread-safe. Events are handled one at a time in the order they arrive; an event sent while
 * another thread (or a callback inside a command) is carrying out commands is queued and
 * handled by that thread right after, so commands are never interleaved.
 */
class DriverLoop(
    private val driver: BluezoneDriver,
    private val radio: RadioExecutor,
    private val clock: () -> Long = System::currentTimeMillis,
    /** Errors for the app's log: the driver's own, and commands the platform refused. */
    private val onError: (Throwable) -> Unit = {},
) {
    private val lock = Any()
    private val queue = ArrayDeque<DriverEvent>()
    private var draining = false

    /**
     * The first events of a driver made in this process: `Restarted` (the driver resumes from
     * its saved state), then the platform's current [facts].
     */
    fun start(reason: RestartReason, facts: PlatformFacts) {
        send(DriverEvent.Restarted(reason))
        facts.events().forEach(::send)
    }

    /** Hands [event] to the driver and carries out what it asks. */
    fun send(event: DriverEvent) {
        synchronized(lock) {
            queue.addLast(event)
            if (draining) return
            draining = true
        }
        try {
            while (true) {
                // Taking the last event and leaving the loop are one step, so no event is left
                // behind by a sender that saw the loop still running.
                val next = synchronized(lock) {
                    queue.removeFirstOrNull().also { if (it == null) draining = false }
                } ?: return
                val commands = try {
                    driver.handle(clock(), next)
                } catch (e: Exception) {
                    onError(e)
                    continue
                }
                commands.forEach(::execute)
            }
        } catch (t: Throwable) {
            synchronized(lock) { draining = false }
            throw t
        }
    }

    private fun execute(command: DriverCommand) {
        try {
            when (command) {
                is DriverCommand.StartScan -> radio.startScan(command.filters, command.mode, command.windowMs)
                is DriverCommand.StopScan -> radio.stopScan()
                is DriverCommand.StartAdvertising -> radio.startAdvertising(command.request)
                is DriverCommand.StopAdvertising -> radio.stopAdvertising()
                is DriverCommand.ReadPayload -> radio.readPayload(command.device)
                is DriverCommand.CancelConnection -> radio.cancelConnection(command.device)
                is DriverCommand.RespondToRead -> radio.respondToRead(command.request, command.value)
                is DriverCommand.WakeAt -> radio.wakeAt(command.atMs)
                is DriverCommand.HoldWakeLock -> radio.holdWakeLock()
                is DriverCommand.ReleaseWakeLock -> radio.releaseWakeLock()
                is DriverCommand.ShowStatus -> radio.showStatus(command.status)
            }
        } catch (e: Exception) {
            onError(e)
            failureOf(command, e)?.let { synchronized(lock) { queue.addLast(it) } }
        }
    }

    companion object {
        /** The event that reports [command] refused by the platform (it threw [e]), if any. */
        fun failureOf(command: DriverCommand, e: Exception): DriverEvent? {
            val reason = e.javaClass.simpleName
            return when (command) {
                is DriverCommand.StartScan -> DriverEvent.ScanFailed(reason)
                is DriverCommand.StartAdvertising -> DriverEvent.AdvertisingFailed(reason)
                is DriverCommand.ReadPayload -> DriverEvent.PayloadReadFailed(command.device, ReadFailure.CONNECTION_FAILED)
                else -> null
            }
        }
    }
}

package org.bluezone.shim

import org.bluezone.core.types.CollectionState
import org.bluezone.core.types.CollectionStatus
import org.bluezone.core.types.PauseReason

/** The sentence the status notification and the app's screen show, one per driver status. */
enum class StatusMessage {
    OFF, ON, ON_NOT_ADVERTISING, BLUETOOTH_OFF, PERMISSION_MISSING, UNSUPPORTED, SCANNER_FAILING;

    companion object {
        /** The message for [status]. */
        fun of(status: CollectionStatus): StatusMessage = when (val state = status.state) {
            CollectionState.Off -> OFF
            CollectionState.Collecting -> if (status.advertisingFailing) ON_NOT_ADVERTISING else ON
            is CollectionState.Paused -> when (state.reason) {
                PauseReason.BLUETOOTH_OFF -> BLUETOOTH_OFF
                PauseReason.BLUETOOTH_UNAUTHORIZED, PauseReason.PERMISSION_REVOKED -> PERMISSION_MISSING
                PauseReason.BLUETOOTH_UNSUPPORTED -> UNSUPPORTED
                PauseReason.SCANNER_FAILING -> SCANNER_FAILING
            }
        }
    }
}

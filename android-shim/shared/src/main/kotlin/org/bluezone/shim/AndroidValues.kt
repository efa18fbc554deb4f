package org.bluezone.shim

import org.bluezone.core.Advert
import org.bluezone.core.types.BluetoothState
import org.bluezone.core.DriverEvent
import org.bluezone.core.types.ReadFailure
import org.bluezone.core.types.ScanMode
import org.bluezone.core.ScanReport

/**
 * What the platform reports when a driver starts, read from the system at that moment (the
 * driver's saved copy may be stale after a restart).
 */
data class PlatformFacts(
    /** `null`: not known yet (the adapter is turning on); reported later by the broadcast. */
    val bluetooth: BluetoothState?,
    val permissionGranted: Boolean,
    val screenOn: Boolean,
    val powerSave: Boolean,
    val bluetoothAudioConnected: Boolean,
) {
    /** The facts as driver events. */
    fun events(): List<DriverEvent> = listOfNotNull(
        bluetooth?.let { DriverEvent.Bluetooth(it) },
        DriverEvent.Permission(permissionGranted),
        DriverEvent.Screen(screenOn),
        DriverEvent.PowerSave(powerSave),
        DriverEvent.BluetoothAudio(bluetoothAudioConnected),
    )
}

/**
 * Android's values in the driver's terms, one to one. The constants are Android's own
 * (`BluetoothAdapter`, `ScanCallback`, `AdvertiseCallback`, `AdvertiseSettings`,
 * `ScanSettings`, `BluetoothGatt`), repeated here so this stays plain Kotlin, tested on the JVM.
 */
object AndroidValues {
    /** The exposure-notification service (0xFD6F) as a 128-bit UUID. */
    const val EXPOSURE_SERVICE_UUID = "0000fd6f-0000-1000-8000-00805f9b34fb"

    /** The GATT characteristic an iPhone serves its current 20-byte payload from. */
    const val PAYLOAD_CHARACTERISTIC_UUID = "8b6f0001-0000-4b6f-9f6d-626c7565006f"

    /** Apple's company identifier (manufacturer data). */
    const val APPLE_COMPANY_ID = 0x004C

    /** Apple's overflow area: manufacturer data starting with type 0x01 (any bitmap after it). */
    val APPLE_OVERFLOW_DATA = byteArrayOf(0x01)
    val APPLE_OVERFLOW_MASK = byteArrayOf(0xFF.toByte())

    private const val STATE_OFF = 10
    private const val STATE_TURNING_ON = 11
    private const val STATE_ON = 12
    private const val STATE_TURNING_OFF = 13

    /**
     * `BluetoothAdapter.EXTRA_STATE` as the driver's state: `null` while turning on (the radio
     * cannot be used yet; `STATE_ON` follows). Turning off already counts as off.
     */
    fun bluetoothState(adapterState: Int): BluetoothState? = when (adapterState) {
        STATE_ON -> BluetoothState.ON
        STATE_OFF, STATE_TURNING_OFF -> BluetoothState.OFF
        STATE_TURNING_ON -> null
        else -> null
    }

    /** `ScanSettings.SCAN_MODE_*` for the driver's mode. */
    fun scanMode(mode: ScanMode): Int = when (mode) {
        ScanMode.LOW_LATENCY -> 2 // SCAN_MODE_LOW_LATENCY
        ScanMode.LOW_POWER -> 0 // SCAN_MODE_LOW_POWER
    }

    /**
     * `AdvertiseSettings.ADVERTISE_MODE_*` for an interval: the slowest mode at least as fast
     * as asked (LOW_LATENCY about 100 ms, BALANCED about 250 ms, LOW_POWER about 1 s).
     */
    fun advertiseMode(intervalMs: UInt): Int = when {
        intervalMs >= 1_000u -> 0 // ADVERTISE_MODE_LOW_POWER
        intervalMs >= 250u -> 1 // ADVERTISE_MODE_BALANCED
        else -> 2 // ADVERTISE_MODE_LOW_LATENCY
    }

    /** A scan result as the driver takes it: the raw record, untouched; `null` without one. */
    fun scanReport(address: String, scanRecord: ByteArray?, rssi: Int, txPowerLevel: Int): ScanReport? {
        if (scanRecord == null) return null
        return ScanReport(
            device = address,
            advert = Advert.RawAdvertisingData(scanRecord),
            serviceUuids = listOf(),
            appleOverflow = false, // in the raw record, where the core finds it
            rssi = clampToShort(rssi),
            // ScanRecord.getTxPowerLevel() gives Integer.MIN_VALUE when the advert has none.
            txPowerDbm = if (txPowerLevel == Int.MIN_VALUE) null else clampToShort(txPowerLevel),
        )
    }

    /** `ScanCallback.onScanFailed`'s code, named. */
    fun scanFailure(errorCode: Int): String = when (errorCode) {
        1 -> "SCAN_FAILED_ALREADY_STARTED"
        2 -> "SCAN_FAILED_APPLICATION_REGISTRATION_FAILED"
        3 -> "SCAN_FAILED_INTERNAL_ERROR"
        4 -> "SCAN_FAILED_FEATURE_UNSUPPORTED"
        5 -> "SCAN_FAILED_OUT_OF_HARDWARE_RESOURCES"
        6 -> "SCAN_FAILED_SCANNING_TOO_FREQUENTLY"
        else -> "SCAN_FAILED_$errorCode"
    }

    /** `AdvertiseCallback.onStartFailure`'s code, named. */
    fun advertiseFailure(errorCode: Int): String = when (errorCode) {
        1 -> "ADVERTISE_FAILED_DATA_TOO_LARGE"
        2 -> "ADVERTISE_FAILED_TOO_MANY_ADVERTISERS"
        3 -> "ADVERTISE_FAILED_ALREADY_STARTED"
        4 -> "ADVERTISE_FAILED_INTERNAL_ERROR"
        5 -> "ADVERTISE_FAILED_FEATURE_UNSUPPORTED"
        else -> "ADVERTISE_FAILED_$errorCode"
    }

    /** A characteristic read (`BluetoothGatt.GATT_SUCCESS` is 0) as the driver's event. */
    fun payloadRead(device: String, status: Int, value: ByteArray?): DriverEvent =
        if (status == 0 && value != null) {
            DriverEvent.PayloadRead(device, value)
        } else {
            DriverEvent.PayloadReadFailed(device, ReadFailure.CONNECTION_FAILED)
        }

    private fun clampToShort(value: Int): Short =
        value.coerceIn(Short.MIN_VALUE.toInt(), Short.MAX_VALUE.toInt()).toShort()
}

package org.bluezone.android

import android.annotation.SuppressLint
import android.app.Notification
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.Service
import android.bluetooth.BluetoothManager
import android.bluetooth.le.AdvertiseCallback
import android.bluetooth.le.AdvertiseData
import android.bluetooth.le.AdvertiseSettings
import android.bluetooth.le.ScanCallback
import android.bluetooth.le.ScanFilter
import android.bluetooth.le.ScanResult
import android.bluetooth.le.ScanSettings
import android.content.Intent
import android.os.Handler
import android.os.IBinder
import android.os.Looper
import android.os.ParcelUuid
import org.bluezone.shim.AdvertisingSchedule
import org.bluezone.shim.CoreBridge
import org.bluezone.shim.ScanScheduler
import org.bluezone.shim.SightingBatcher
import kotlin.random.Random

/**
 * The foreground service: advertises the core's payload (restarting at each rotation so the
 * address changes with the RPI) and scans on GAEN's duty cycle, filtered on 0xFD6F, handing
 * raw scan records to the core. Every decision is in `shared` or in Rust.
 */
@SuppressLint("MissingPermission") // The app requests the runtime permissions before starting us.
class ExposureService : Service() {
    private val handler = Handler(Looper.getMainLooper())
    private val scheduler = ScanScheduler(Random.Default)
    private val batcher = SightingBatcher()
    private lateinit var bridge: CoreBridge
    private val bluetooth get() = getSystemService(BluetoothManager::class.java).adapter
    private val serviceUuid = ParcelUuid.fromString("0000fd6f-0000-1000-8000-00805f9b34fb")

    override fun onBind(intent: Intent?): IBinder? = null

    override fun onCreate() {
        super.onCreate()
        bridge = CoreBridge(Bluezone.tracer())
        startForeground(1, notification())
        advertise()
        handler.post(::scanWindow)
    }

    override fun onDestroy() {
        handler.removeCallbacksAndMessages(null)
        bluetooth?.bluetoothLeAdvertiser?.stopAdvertising(advertiseCallback)
        bluetooth?.bluetoothLeScanner?.stopScan(scanCallback)
        super.onDestroy()
    }

    private val advertiseCallback = object : AdvertiseCallback() {}

    /** (Re)starts advertising the current payload; a restart gets a new random address. */
    private fun advertise() {
        val advertiser = bluetooth?.bluetoothLeAdvertiser ?: return
        advertiser.stopAdvertising(advertiseCallback)
        val current = bridge.advertisement()
        val settings = AdvertiseSettings.Builder()
            .setAdvertiseMode(AdvertiseSettings.ADVERTISE_MODE_BALANCED) // about 250 ms
            .setTxPowerLevel(AdvertiseSettings.ADVERTISE_TX_POWER_LOW)
            .setConnectable(false)
            .build()
        val data = AdvertiseData.Builder()
            .addServiceUuid(serviceUuid)
            .addServiceData(serviceUuid, current.serviceData)
            .setIncludeDeviceName(false)
            .setIncludeTxPowerLevel(false)
            .build()
        advertiser.startAdvertising(settings, data, advertiseCallback)
        handler.postDelayed(::advertise, AdvertisingSchedule.delayUntilRotation(current, System.currentTimeMillis()))
    }

    private val scanCallback = object : ScanCallback() {
        override fun onScanResult(callbackType: Int, result: ScanResult) {
            val bytes = result.scanRecord?.bytes ?: return
            val wallClockMillis = System.currentTimeMillis() -
                (android.os.SystemClock.elapsedRealtimeNanos() - result.timestampNanos) / 1_000_000
            batcher.add(bytes, result.rssi, wallClockMillis)?.let(bridge::record)
        }
    }

    /** One scan window, then the next is scheduled by the duty cycle. */
    private fun scanWindow() {
        val scanner = bluetooth?.bluetoothLeScanner
        val plan = scheduler.next(System.currentTimeMillis(), ScanScheduler.DeviceState())
        if (scanner != null) {
            batcher.startWindow()
            val filter = ScanFilter.Builder().setServiceData(serviceUuid, ByteArray(0), ByteArray(0)).build()
            val settings = ScanSettings.Builder().setScanMode(ScanSettings.SCAN_MODE_LOW_LATENCY).build()
            scanner.startScan(listOf(filter), settings, scanCallback)
            handler.postDelayed({
                scanner.stopScan(scanCallback)
                bridge.record(batcher.drain())
            }, plan.durationMillis)
        }
        handler.postDelayed(::scanWindow, maxOf(plan.startAtMillis - System.currentTimeMillis(), 60_000))
    }

    private fun notification(): Notification {
        val channel = NotificationChannel("bluezone-service", "Exposure notifications", NotificationManager.IMPORTANCE_LOW)
        getSystemService(NotificationManager::class.java).createNotificationChannel(channel)
        return Notification.Builder(this, channel.id)
            .setContentTitle("Exposure notifications are on")
            .setSmallIcon(android.R.drawable.stat_sys_data_bluetooth)
            .setOngoing(true)
            .build()
    }
}

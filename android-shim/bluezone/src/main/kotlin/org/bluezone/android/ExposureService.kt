package org.bluezone.android

import android.Manifest
import android.annotation.SuppressLint
import android.app.AlarmManager
import android.app.Notification
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.PendingIntent
import android.app.Service
import android.bluetooth.BluetoothA2dp
import android.bluetooth.BluetoothAdapter
import android.bluetooth.BluetoothDevice
import android.bluetooth.BluetoothGatt
import android.bluetooth.BluetoothGattCallback
import android.bluetooth.BluetoothGattCharacteristic
import android.bluetooth.BluetoothHeadset
import android.bluetooth.BluetoothManager
import android.bluetooth.BluetoothProfile
import android.bluetooth.le.AdvertiseCallback
import android.bluetooth.le.AdvertiseData
import android.bluetooth.le.AdvertiseSettings
import android.bluetooth.le.ScanCallback
import android.bluetooth.le.ScanFilter
import android.bluetooth.le.ScanResult
import android.bluetooth.le.ScanSettings
import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.content.pm.PackageManager
import android.content.pm.ServiceInfo
import android.os.Build
import android.os.Handler
import android.os.HandlerThread
import android.os.IBinder
import android.os.ParcelUuid
import android.os.PowerManager
import android.util.Log
import androidx.core.app.ServiceCompat
import androidx.core.content.ContextCompat
import androidx.lifecycle.DefaultLifecycleObserver
import androidx.lifecycle.LifecycleOwner
import androidx.lifecycle.ProcessLifecycleOwner
import org.bluezone.core.types.AdvertisingRequest
import org.bluezone.core.types.AppState
import org.bluezone.core.types.BluetoothState
import org.bluezone.core.BluezoneDriver
import org.bluezone.core.types.CollectionState
import org.bluezone.core.types.CollectionStatus
import org.bluezone.core.DriverEvent
import org.bluezone.core.types.Platform
import org.bluezone.core.types.ReadFailure
import org.bluezone.core.types.RestartReason
import org.bluezone.core.types.ScanFilters
import org.bluezone.core.types.ScanMode
import org.bluezone.shim.AndroidValues
import org.bluezone.shim.DriverLoop
import org.bluezone.shim.PlatformFacts
import org.bluezone.shim.RadioExecutor
import org.bluezone.shim.StatusMessage
import org.bluezone.core.types.NearbyCount
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlin.coroutines.resume
import java.security.SecureRandom
import java.util.UUID
import java.util.concurrent.ConcurrentHashMap

/**
 * The foreground service: an executor of the core's phone driver. It reports what happens
 * (Bluetooth, screen, battery saver, audio, the app's lifecycle, scan results, advertising and
 * GATT outcomes, alarms) as [DriverEvent]s and carries out the commands that come back. When to
 * scan, what to advertise until when, which iPhones to read, when to store, what to show: all
 * decided in Rust.
 *
 * Every event is handled on one thread ([worker]); platform callbacks only post to it.
 */
@SuppressLint("MissingPermission") // The app asks for the runtime permissions; a refusal throws and is reported.
class ExposureService : Service(), RadioExecutor {
    private lateinit var worker: HandlerThread
    private lateinit var handler: Handler
    private lateinit var driver: BluezoneDriver
    private lateinit var loop: DriverLoop
    private lateinit var wakeLock: PowerManager.WakeLock
    private var started = false
    @Volatile private var lastStartId = 0

    /** Reads in flight, by device address (the driver bounds how many). */
    private val reads = ConcurrentHashMap<String, BluetoothGatt>()

    /** Android has no "scan started" callback: the first result after a start confirms it. */
    @Volatile private var scanUnconfirmed = false

    private val adapter: BluetoothAdapter? get() = getSystemService(BluetoothManager::class.java)?.adapter
    private val power: PowerManager get() = getSystemService(PowerManager::class.java)

    override fun onBind(intent: Intent?): IBinder? = null

    override fun onCreate() {
        super.onCreate()
        worker = HandlerThread("bluezone-driver").also { it.start() }
        handler = Handler(worker.looper)
        wakeLock = power.newWakeLock(PowerManager.PARTIAL_WAKE_LOCK, "bluezone:radio").apply {
            setReferenceCounted(false)
        }
        // The driver is made on its own thread: opening it reads the store (never on main).
        handler.post {
            try {
                driver = BluezoneDriver(
                    Bluezone.tracerBlocking(), Platform.ANDROID, Bluezone.driverSettings,
                    SecureRandom().nextLong().toULong(), System.currentTimeMillis(),
                )
                loop = DriverLoop(driver, this, onError = { Log.w(TAG, "driver: $it") })
            } catch (e: Exception) {
                // The store did not open (disk full, a newer app's store): the app reports it;
                // the service does not crash-loop.
                Log.w(TAG, "the driver could not start: ${e.javaClass.simpleName}")
                mainHandler.post { stopSelf() }
            }
        }
    }

    private val mainHandler = Handler(android.os.Looper.getMainLooper())

    /** Whether the driver was made (false only when opening the store failed). */
    private val ready: Boolean get() = ::loop.isInitialized

    override fun onStartCommand(intent: Intent?, flags: Int, startId: Int): Int {
        // Every start by startForegroundService must be answered with startForeground.
        lastStartId = startId
        try {
            goForeground(getString(R.string.bluezone_status_starting))
        } catch (e: IllegalStateException) {
            // Android 12+ refused (a restart from the background): the next alarm brings it back.
            Log.w(TAG, "not allowed in the foreground now: $e")
            stopSelf()
            return START_NOT_STICKY
        } catch (e: SecurityException) {
            // Android 14+: a connected-device service needs a Bluetooth permission, revoked
            // since `deliver` checked. Nothing can run without it.
            Log.w(TAG, "no Bluetooth permission for the foreground service: $e")
            stopSelf()
            return START_NOT_STICKY
        }
        val action = intent?.action
        if (!started) {
            started = true
            // A driver made in this process resumes from its saved state, then learns the facts,
            // then hears what happens from here on.
            val reason = when (action) {
                ACTION_BOOT -> RestartReason.BOOT
                ACTION_UPDATE -> RestartReason.APP_UPDATE
                else -> RestartReason.PROCESS_RESTART
            }
            val facts = facts()
            handler.post { if (ready) loop.start(reason, facts) }
            val filter = IntentFilter().apply {
                addAction(BluetoothAdapter.ACTION_STATE_CHANGED)
                addAction(Intent.ACTION_SCREEN_ON)
                addAction(Intent.ACTION_SCREEN_OFF)
                addAction(PowerManager.ACTION_POWER_SAVE_MODE_CHANGED)
                addAction(BluetoothA2dp.ACTION_CONNECTION_STATE_CHANGED)
                addAction(BluetoothHeadset.ACTION_CONNECTION_STATE_CHANGED)
            }
            // All six are protected broadcasts (only the system can send them), but the audio
            // ones come from the Bluetooth app's uid, which a not-exported receiver refuses.
            ContextCompat.registerReceiver(this, systemEvents, filter, ContextCompat.RECEIVER_EXPORTED)
            ProcessLifecycleOwner.get().lifecycle.addObserver(appLifecycle)
            running = this
        }
        take(action)
        return START_STICKY
    }

    override fun onDestroy() {
        running = null
        val wasStarted = started
        if (wasStarted) {
            ProcessLifecycleOwner.get().lifecycle.removeObserver(appLifecycle)
            unregisterReceiver(systemEvents)
        }
        handler.post {
            if (!ready) return@post
            // A driver never started is not woken up just to be told it ends.
            if (wasStarted) loop.send(DriverEvent.App(AppState.TERMINATING))
            // What this service ran ends with it; a new service makes a new driver, which is
            // told `Restarted`. The alarm stays while collection is on, to bring it back.
            runCatching { adapter?.bluetoothLeScanner?.stopScan(scanCallback) }
            runCatching { adapter?.bluetoothLeAdvertiser?.stopAdvertising(advertiseCallback) }
            reads.values.forEach { runCatching { it.disconnect(); it.close() } }
            reads.clear()
            if (runCatching { driver.status().state }.getOrNull() == CollectionState.Off) {
                getSystemService(AlarmManager::class.java).cancel(alarmIntent(this))
            }
            if (wakeLock.isHeld) wakeLock.release()
            driver.close()
            // A status the last event showed must not outlive the service.
            getSystemService(NotificationManager::class.java).cancel(NOTIFICATION_ID)
        }
        worker.quitSafely()
        super.onDestroy()
    }

    private fun post(event: DriverEvent) {
        handler.post { if (ready) loop.send(event) }
    }

    /** Posts the events an intent's action stands for. */
    private fun take(action: String?) {
        when (action) {
            ACTION_ENABLE -> post(DriverEvent.Enable)
            ACTION_DISABLE -> post(DriverEvent.Disable)
            ACTION_TIMER -> post(DriverEvent.Timer)
            ACTION_FACTS -> facts().events().forEach(::post)
        }
    }

    // --- Facts and platform events -----------------------------------------------------------

    private fun facts(): PlatformFacts {
        val le = packageManager.hasSystemFeature(PackageManager.FEATURE_BLUETOOTH_LE)
        val bluetooth = adapter.let {
            if (it == null || !le) BluetoothState.UNSUPPORTED else AndroidValues.bluetoothState(it.state)
        }
        return PlatformFacts(
            bluetooth = bluetooth,
            permissionGranted = permissionGranted(),
            screenOn = power.isInteractive,
            powerSave = power.isPowerSaveMode,
            bluetoothAudioConnected = audioConnected(),
        )
    }

    private fun permissionGranted(): Boolean = neededPermissions().all { granted(this, it) }

    private fun audioConnected(): Boolean = runCatching {
        val a = adapter ?: return false
        a.getProfileConnectionState(BluetoothProfile.A2DP) == BluetoothProfile.STATE_CONNECTED ||
            a.getProfileConnectionState(BluetoothProfile.HEADSET) == BluetoothProfile.STATE_CONNECTED
    }.getOrDefault(false)

    private val systemEvents = object : BroadcastReceiver() {
        override fun onReceive(context: Context, intent: Intent) {
            val event = when (intent.action) {
                BluetoothAdapter.ACTION_STATE_CHANGED ->
                    AndroidValues.bluetoothState(intent.getIntExtra(BluetoothAdapter.EXTRA_STATE, -1))
                        ?.let { DriverEvent.Bluetooth(it) }
                Intent.ACTION_SCREEN_ON -> DriverEvent.Screen(true)
                Intent.ACTION_SCREEN_OFF -> DriverEvent.Screen(false)
                PowerManager.ACTION_POWER_SAVE_MODE_CHANGED -> DriverEvent.PowerSave(power.isPowerSaveMode)
                BluetoothA2dp.ACTION_CONNECTION_STATE_CHANGED,
                BluetoothHeadset.ACTION_CONNECTION_STATE_CHANGED -> DriverEvent.BluetoothAudio(audioConnected())
                else -> null
            }
            event?.let(::post)
        }
    }

    private val appLifecycle = object : DefaultLifecycleObserver {
        override fun onStart(owner: LifecycleOwner) = post(DriverEvent.App(AppState.FOREGROUND))
        override fun onStop(owner: LifecycleOwner) = post(DriverEvent.App(AppState.BACKGROUND))
    }

    // --- Commands ----------------------------------------------------------------------------

    override fun startScan(filters: ScanFilters, mode: ScanMode, windowMs: Long?) {
        val scanner = checkNotNull(adapter?.bluetoothLeScanner) { "no scanner (Bluetooth off?)" }
        scanner.stopScan(scanCallback)
        val list = buildList {
            if (filters.exposureService) {
                add(ScanFilter.Builder().setServiceData(EXPOSURE_SERVICE, ByteArray(0), ByteArray(0)).build())
                add(ScanFilter.Builder().setServiceUuid(EXPOSURE_SERVICE).build())
            }
            if (filters.appleManufacturerData) {
                add(
                    ScanFilter.Builder()
                        .setManufacturerData(AndroidValues.APPLE_COMPANY_ID, AndroidValues.APPLE_OVERFLOW_DATA, AndroidValues.APPLE_OVERFLOW_MASK)
                        .build(),
                )
            }
        }
        val settings = ScanSettings.Builder()
            .setScanMode(AndroidValues.scanMode(mode))
            .setCallbackType(ScanSettings.CALLBACK_TYPE_ALL_MATCHES)
            .setReportDelay(0)
            .build()
        scanUnconfirmed = true
        scanner.startScan(list, settings, scanCallback)
    }

    override fun stopScan() {
        scanUnconfirmed = false
        adapter?.bluetoothLeScanner?.stopScan(scanCallback)
    }

    private val scanCallback = object : ScanCallback() {
        override fun onScanResult(callbackType: Int, result: ScanResult) {
            val record = result.scanRecord
            val report = AndroidValues.scanReport(
                result.device.address, record?.bytes, result.rssi, record?.txPowerLevel ?: Int.MIN_VALUE,
            ) ?: return
            if (scanUnconfirmed) {
                scanUnconfirmed = false
                post(DriverEvent.ScanStarted)
            }
            post(DriverEvent.ScanResult(report))
        }

        override fun onBatchScanResults(results: MutableList<ScanResult>) {
            results.forEach { onScanResult(ScanSettings.CALLBACK_TYPE_ALL_MATCHES, it) }
        }

        override fun onScanFailed(errorCode: Int) {
            scanUnconfirmed = false
            post(DriverEvent.ScanFailed(AndroidValues.scanFailure(errorCode)))
        }
    }

    override fun startAdvertising(request: AdvertisingRequest) {
        val advertiser = checkNotNull(adapter?.bluetoothLeAdvertiser) { "no advertiser (Bluetooth off, or no LE advertising)" }
        advertiser.stopAdvertising(advertiseCallback)
        val settings = AdvertiseSettings.Builder()
            .setAdvertiseMode(AndroidValues.advertiseMode(request.intervalMs))
            // The driver does not choose a power level; the calibration tables assume low.
            .setTxPowerLevel(AdvertiseSettings.ADVERTISE_TX_POWER_LOW)
            .setConnectable(request.connectable)
            .setTimeout(0)
            .build()
        val data = AdvertiseData.Builder()
            .addServiceUuid(EXPOSURE_SERVICE)
            .apply { if (request.includeServiceData) addServiceData(EXPOSURE_SERVICE, request.serviceData) }
            .setIncludeDeviceName(false)
            .setIncludeTxPowerLevel(false)
            .build()
        advertiser.startAdvertising(settings, data, advertiseCallback)
    }

    override fun stopAdvertising() {
        adapter?.bluetoothLeAdvertiser?.stopAdvertising(advertiseCallback)
    }

    private val advertiseCallback = object : AdvertiseCallback() {
        override fun onStartSuccess(settingsInEffect: AdvertiseSettings) = post(DriverEvent.AdvertisingStarted)
        override fun onStartFailure(errorCode: Int) =
            post(DriverEvent.AdvertisingFailed(AndroidValues.advertiseFailure(errorCode)))
    }

    override fun readPayload(device: String) {
        val remote = checkNotNull(adapter?.getRemoteDevice(device)) { "no adapter" }
        val gatt = checkNotNull(remote.connectGatt(this, false, gattCallback, BluetoothDevice.TRANSPORT_LE)) { "connectGatt refused" }
        reads.put(device, gatt)?.close()
    }

    override fun cancelConnection(device: String) {
        reads.remove(device)?.let { it.disconnect(); it.close() }
    }

    /** Ends a read: reported once (a cancelled read is not reported), the connection closed. */
    private fun finish(gatt: BluetoothGatt, event: DriverEvent) {
        val device = gatt.device.address
        if (reads.remove(device, gatt)) {
            gatt.disconnect()
            post(event)
        }
        gatt.close()
    }

    private val gattCallback = object : BluetoothGattCallback() {
        override fun onConnectionStateChange(gatt: BluetoothGatt, status: Int, newState: Int) {
            val address = gatt.device.address
            if (status == BluetoothGatt.GATT_SUCCESS && newState == BluetoothProfile.STATE_CONNECTED) {
                if (!gatt.discoverServices()) finish(gatt, DriverEvent.PayloadReadFailed(address, ReadFailure.CONNECTION_FAILED))
            } else {
                finish(gatt, DriverEvent.PayloadReadFailed(address, ReadFailure.CONNECTION_FAILED))
            }
        }

        override fun onServicesDiscovered(gatt: BluetoothGatt, status: Int) {
            val address = gatt.device.address
            val characteristic = gatt.getService(EXPOSURE_SERVICE.uuid)?.getCharacteristic(PAYLOAD_CHARACTERISTIC)
            when {
                status != BluetoothGatt.GATT_SUCCESS -> finish(gatt, DriverEvent.PayloadReadFailed(address, ReadFailure.CONNECTION_FAILED))
                characteristic == null -> finish(gatt, DriverEvent.PayloadReadFailed(address, ReadFailure.NOT_FOUND))
                !gatt.readCharacteristic(characteristic) -> finish(gatt, DriverEvent.PayloadReadFailed(address, ReadFailure.CONNECTION_FAILED))
            }
        }

        // Android 13+ calls this one (and, for compatibility, the one below: `finish` reports once).
        override fun onCharacteristicRead(gatt: BluetoothGatt, characteristic: BluetoothGattCharacteristic, value: ByteArray, status: Int) {
            finish(gatt, AndroidValues.payloadRead(gatt.device.address, status, value))
        }

        @Deprecated("Android 12 and lower")
        @Suppress("DEPRECATION")
        override fun onCharacteristicRead(gatt: BluetoothGatt, characteristic: BluetoothGattCharacteristic, status: Int) {
            finish(gatt, AndroidValues.payloadRead(gatt.device.address, status, characteristic.value))
        }
    }

    /** Android never serves the payload over GATT (its adverts carry it), so never asked. */
    override fun respondToRead(request: ULong, value: ByteArray?) = Unit

    override fun wakeAt(atMs: Long) {
        val alarms = getSystemService(AlarmManager::class.java)
        val intent = alarmIntent(this)
        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.S || alarms.canScheduleExactAlarms()) {
            alarms.setExactAndAllowWhileIdle(AlarmManager.RTC_WAKEUP, atMs, intent)
        } else {
            // The person withheld exact alarms: Android delivers this one late, and the driver
            // copes with late timers (it checks the time).
            alarms.setAndAllowWhileIdle(AlarmManager.RTC_WAKEUP, atMs, intent)
        }
    }

    override fun holdWakeLock() {
        // A cap in case a release is ever lost; the driver releases long before.
        wakeLock.acquire(WAKE_LOCK_CAP_MS)
    }

    override fun releaseWakeLock() {
        if (wakeLock.isHeld) wakeLock.release()
    }

    override fun showStatus(status: CollectionStatus) {
        getSystemService(NotificationManager::class.java).notify(NOTIFICATION_ID, notification(getString(text(StatusMessage.of(status)))))
        Bluezone.statusListener?.invoke(status)
        if (status.state == CollectionState.Off) {
            // Off: the service goes (checked after the events already queued, e.g. an Enable).
            handler.post {
                if (runCatching { driver.status().state }.getOrNull() != CollectionState.Off) return@post
                // From here, `deliver` starts the service anew instead of handing it the action,
                // and a start that arrives before the stop keeps it running (stopSelfResult).
                running = null
                val id = lastStartId
                mainHandler.post { stopSelfResult(id) }
            }
        }
    }

    private fun text(message: StatusMessage): Int = when (message) {
        StatusMessage.OFF -> R.string.bluezone_status_off
        StatusMessage.ON -> R.string.bluezone_status_on
        StatusMessage.ON_NOT_ADVERTISING -> R.string.bluezone_status_not_advertising
        StatusMessage.BLUETOOTH_OFF -> R.string.bluezone_status_bluetooth_off
        StatusMessage.PERMISSION_MISSING -> R.string.bluezone_status_permission
        StatusMessage.UNSUPPORTED -> R.string.bluezone_status_unsupported
        StatusMessage.SCANNER_FAILING -> R.string.bluezone_status_scanner_failing
    }

    private fun goForeground(text: String) {
        ServiceCompat.startForeground(
            this, NOTIFICATION_ID, notification(text), ServiceInfo.FOREGROUND_SERVICE_TYPE_CONNECTED_DEVICE,
        )
    }

    private fun notification(text: String): Notification {
        val channel = NotificationChannel(CHANNEL, getString(R.string.bluezone_channel), NotificationManager.IMPORTANCE_LOW)
        getSystemService(NotificationManager::class.java).createNotificationChannel(channel)
        return Notification.Builder(this, CHANNEL)
            .setContentTitle(text)
            .setSmallIcon(android.R.drawable.stat_sys_data_bluetooth)
            .setOngoing(true)
            .build()
    }

    companion object {
        private const val TAG = "Bluezone"
        private const val NOTIFICATION_ID = 1
        private const val CHANNEL = "bluezone-service"
        private const val WAKE_LOCK_CAP_MS = 10 * 60 * 1000L
        private val EXPOSURE_SERVICE: ParcelUuid = ParcelUuid.fromString(AndroidValues.EXPOSURE_SERVICE_UUID)
        private val PAYLOAD_CHARACTERISTIC: UUID = UUID.fromString(AndroidValues.PAYLOAD_CHARACTERISTIC_UUID)

        const val ACTION_ENABLE = "org.bluezone.action.ENABLE"
        const val ACTION_DISABLE = "org.bluezone.action.DISABLE"
        const val ACTION_TIMER = "org.bluezone.action.TIMER"
        const val ACTION_BOOT = "org.bluezone.action.BOOT"
        const val ACTION_UPDATE = "org.bluezone.action.UPDATE"
        /** Re-read the facts (after the app obtained a permission). */
        const val ACTION_FACTS = "org.bluezone.action.FACTS"

        /** The service of this process, while it runs. */
        @Volatile private var running: ExposureService? = null

        /** The runtime permissions collection needs on this Android version. */
        fun neededPermissions(): List<String> = when {
            Build.VERSION.SDK_INT >= Build.VERSION_CODES.S ->
                listOf(Manifest.permission.BLUETOOTH_SCAN, Manifest.permission.BLUETOOTH_ADVERTISE, Manifest.permission.BLUETOOTH_CONNECT)
            // Android 10 and 11 deliver BLE scan results to a background service only with
            // background location (asked for separately, after fine location).
            Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q ->
                listOf(Manifest.permission.ACCESS_FINE_LOCATION, Manifest.permission.ACCESS_BACKGROUND_LOCATION)
            else -> listOf(Manifest.permission.ACCESS_FINE_LOCATION)
        }

        private fun granted(context: Context, permission: String) =
            ContextCompat.checkSelfPermission(context, permission) == PackageManager.PERMISSION_GRANTED

        /**
         * Hands `action` to the running service, or starts it with it (allowed at boot, after an
         * update, from an exact alarm and from the app in the foreground). [handled] runs once the
         * running service has handled it (at once when the service must start).
         */
        fun deliver(context: Context, action: String, handled: () -> Unit = {}) {
            val service = running
            if (service != null) {
                service.take(action)
                if (!service.handler.post { handled() }) handled()
                return
            }
            // New facts matter only to a running service; and on Android 14+ a connected-device
            // service cannot start without a Bluetooth permission (startForeground would throw).
            val bluetoothAllowed = Build.VERSION.SDK_INT < 34 ||
                listOf(Manifest.permission.BLUETOOTH_SCAN, Manifest.permission.BLUETOOTH_ADVERTISE, Manifest.permission.BLUETOOTH_CONNECT)
                    .any { granted(context, it) }
            if (action == ACTION_FACTS || !bluetoothAllowed) {
                handled()
                return
            }
            try {
                ContextCompat.startForegroundService(context, Intent(context, ExposureService::class.java).setAction(action))
            } catch (e: IllegalStateException) {
                // Android 12+ refused a start from the background; the next alarm or the app
                // starts it.
                Log.w(TAG, "could not start the service: $e")
            } finally {
                handled()
            }
        }

        /**
         * Runs [block] on the driver's thread after the events already posted; false (and
         * [block] never runs) when no service runs.
         */
        fun afterNextEvent(block: () -> Unit): Boolean = running?.handler?.post(block) ?: false

        /** The driver's "nearby now" count, asked on its thread; `null` when not running. */
        suspend fun nearby(): NearbyCount? {
            val service = running ?: return null
            return suspendCancellableCoroutine { done ->
                val posted = service.handler.post {
                    done.resume(if (service.ready) runCatching { service.driver.nearby() }.getOrNull() else null)
                }
                if (!posted) done.resume(null)
            }
        }

        /** The one alarm (replaced by each `WakeAt`): a broadcast to [AlarmReceiver]. */
        fun alarmIntent(context: Context): PendingIntent = PendingIntent.getBroadcast(
            context, 0, Intent(context, AlarmReceiver::class.java).setAction(ACTION_TIMER),
            PendingIntent.FLAG_UPDATE_CURRENT or PendingIntent.FLAG_IMMUTABLE,
        )
    }
}

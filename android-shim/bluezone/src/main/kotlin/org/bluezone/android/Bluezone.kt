package org.bluezone.android

import android.content.Context
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.future.await
import kotlinx.coroutines.withContext
import org.bluezone.core.BluezoneConfig
import org.bluezone.core.BluezoneTracer
import org.bluezone.core.types.CollectionStatus
import org.bluezone.core.Diagnostics
import org.bluezone.core.DriverSettings
import org.bluezone.core.ExposureStatus
import org.bluezone.core.types.NearbyCount
import org.bluezone.core.OpenedTracer
import org.bluezone.core.StoreReset
import org.bluezone.core.VerifiedCode
import org.bluezone.shim.MasterKeys
import org.bluezone.shim.TracerOpener
import java.io.File
import java.util.concurrent.Executors

/**
 * The app's entry point: one tracer per process, opened off the main thread with the
 * Keystore-held key, and every call into the core made off the main thread (the `suspend`
 * functions here switch to the core's own thread or the core runs them on its own).
 *
 * Call [init] from `Application.onCreate`; everything else may be called from the main thread.
 */
object Bluezone {
    /** The one thread that opens the tracer and makes the core's blocking calls. */
    private val core = Executors.newSingleThreadExecutor { Thread(it, "bluezone-core").apply { isDaemon = true } }
    private val coreDispatcher = core.asCoroutineDispatcher()

    @Volatile private var opener: TracerOpener? = null
    @Volatile private var serverUrl: String? = null
    @Volatile private var keys: MasterKeys? = null

    /** Overrides of the driver's Android defaults (set before the service starts). */
    @Volatile var driverSettings: DriverSettings? = null

    /** Called (on the service's driver thread) with every status the driver shows. */
    @Volatile var statusListener: ((CollectionStatus) -> Unit)? = null

    /**
     * Call once from `Application.onCreate`: starts opening the tracer on the core's thread
     * (it returns at once) and schedules the periodic download from [serverBaseUrl]
     * (`https://…`, no trailing slash) and the fake upload sequences ([ChaffWorker]).
     */
    @Synchronized
    fun init(context: Context, config: BluezoneConfig, serverBaseUrl: String) {
        if (opener != null) return
        val app = context.applicationContext
        serverUrl = serverBaseUrl
        // No-backup storage: neither the store nor the wrapped key may reach another phone,
        // where the Keystore key that unwraps them does not exist.
        val keys = MasterKeys(File(app.noBackupFilesDir, "bluezone-key.wrapped"), KeystoreKeyWrapper(), log = ::warn)
        this.keys = keys
        opener = TracerOpener(config, File(app.noBackupFilesDir, "bluezone.db"), keys, core)
        DownloadWorker.schedule(app)
        ChaffWorker.schedule(app)
    }

    /** The open tracer (suspends while it opens). Throws what opening threw. */
    suspend fun opened(): OpenedTracer = checkNotNull(opener) { "Bluezone.init was not called" }.opened.await()

    /** The tracer, blocking: for the service's and the worker's own threads only. */
    internal fun tracerBlocking(): BluezoneTracer =
        checkNotNull(opener) { "Bluezone.init was not called" }.opened.get().tracer

    /** The authority's server, as given to [init]. */
    internal fun server(): String = checkNotNull(serverUrl) { "Bluezone.init was not called" }

    /**
     * Why the store was started afresh at this launch (`null`: it was not). Show it once:
     * "Your exposure history could not be restored on this phone; it starts today. Turn
     * exposure notifications on again."
     */
    suspend fun storeReset(): StoreReset? = opened().reset

    /** The person turned exposure notifications on (after granting the permissions). */
    fun enable(context: Context) = ExposureService.deliver(context, ExposureService.ACTION_ENABLE)

    /** The person turned them off: the radio stops, and the service with it. */
    fun disable(context: Context) = ExposureService.deliver(context, ExposureService.ACTION_DISABLE)

    /** A permission changed while the service runs: it reads the facts again. */
    fun permissionsChanged(context: Context) = ExposureService.deliver(context, ExposureService.ACTION_FACTS)

    /** The current exposure decision. */
    suspend fun exposureStatus(): ExposureStatus {
        val tracer = opened().tracer
        return withContext(coreDispatcher) { tracer.exposureStatus() }
    }

    /** Collection diagnostics (nothing in it leaves the phone). */
    suspend fun diagnostics(): Diagnostics {
        val tracer = opened().tracer
        return withContext(coreDispatcher) { tracer.diagnostics() }
    }

    /** Devices heard in the last scan window by distance class (`null`: the service is not running). */
    suspend fun nearbyNow(): NearbyCount? = ExposureService.nearby()

    /** "I tested positive", step 1: the official's code for a token (the core seals it). */
    suspend fun verifyCode(code: String): VerifiedCode =
        opened().tracer.verifyCode(OkHttpClientAdapter(server()), code)

    /**
     * Step 2, after the person agreed on the consent screen at [consentAtSeconds] (Unix
     * seconds; the core refuses consent older than 10 minutes): uploads this phone's keys.
     * Returns how many keys the server accepted.
     */
    suspend fun uploadKeys(verified: VerifiedCode, consentAtSeconds: Long): UInt =
        opened().tracer.uploadKeys(OkHttpClientAdapter(server()), verified, consentAtSeconds)

    /** Deletes everything: the core's data, then the master key. */
    suspend fun deleteAllData(context: Context) {
        disable(context)
        val tracer = opened().tracer
        withContext(coreDispatcher) {
            tracer.deleteAllData()
        }
        withContext(Dispatchers.IO) {
            // The files go too (the open store writes to unlinked files until the process
            // ends), so the next launch starts with neither a store nor a key: a clean start,
            // not a "could not be restored".
            val db = File(context.applicationContext.noBackupFilesDir, "bluezone.db")
            listOf("", "-wal", "-shm", "-journal").forEach { File(db.path + it).delete() }
            keys?.destroy()
        }
    }

    /** The open tracer for a background [job], or `null` (logged) when the store did not open. */
    internal suspend fun openedForJob(job: String): OpenedTracer? = try {
        opened()
    } catch (e: CancellationException) {
        throw e
    } catch (e: Exception) {
        warn("$job skipped: the store did not open (${e.javaClass.simpleName})")
        null
    }

    internal fun warn(message: String) {
        android.util.Log.w("Bluezone", message)
    }
}

package org.bluezone.android

import android.content.Context
import org.bluezone.core.BluezoneConfig
import org.bluezone.core.BluezoneTracer
import org.bluezone.core.CollectionStatus
import org.bluezone.core.DriverSettings
import java.io.File

/** One tracer per process, opened with the app's configuration and the Keystore-held key. */
object Bluezone {
    @Volatile private var tracer: BluezoneTracer? = null

    /** Overrides of the driver's Android defaults (set before the service starts). */
    @Volatile var driverSettings: DriverSettings? = null

    /** Called (on the service's driver thread) with every status the driver shows. */
    @Volatile var statusListener: ((CollectionStatus) -> Unit)? = null

    /** Call once from `Application.onCreate` with the authority's configuration. */
    @Synchronized
    fun init(context: Context, config: BluezoneConfig): BluezoneTracer =
        tracer ?: BluezoneTracer.open(
            config,
            File(context.noBackupFilesDir, "bluezone.db").absolutePath,
            MasterKeyStore(context).masterKey(),
        ).also { tracer = it }

    /** The tracer; [init] must have run. */
    fun tracer(): BluezoneTracer = checkNotNull(tracer) { "Bluezone.init was not called" }

    /** The person turned exposure notifications on (after granting the permissions). */
    fun enable(context: Context) = ExposureService.deliver(context, ExposureService.ACTION_ENABLE)

    /** The person turned them off: the radio stops, and the service with it. */
    fun disable(context: Context) = ExposureService.deliver(context, ExposureService.ACTION_DISABLE)

    /** A permission changed while the service runs: it reads the facts again. */
    fun permissionsChanged(context: Context) = ExposureService.deliver(context, ExposureService.ACTION_FACTS)
}

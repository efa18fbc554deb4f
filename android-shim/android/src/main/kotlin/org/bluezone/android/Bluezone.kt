package org.bluezone.android

import android.content.Context
import org.bluezone.core.BluezoneConfig
import org.bluezone.core.BluezoneTracer
import java.io.File

/** One tracer per process, opened with the app's configuration and the Keystore-held key. */
object Bluezone {
    @Volatile private var tracer: BluezoneTracer? = null

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
}

package org.bluezone.shim

import org.bluezone.core.BluezoneConfig
import org.bluezone.core.OpenedTracer
import org.bluezone.core.openTracer
import java.io.File
import java.util.concurrent.CompletableFuture
import java.util.concurrent.Executor

/**
 * Opens the tracer once per process, on [executor] (never the main thread: it reads and may
 * migrate the store), with the key from [keys]. A store the key no longer opens (restored
 * onto a new phone, key invalidated) is replaced and reported in [OpenedTracer.reset]; the
 * app shows that to the person once. A failure that cannot be handled that way (disk full, a
 * store from a newer app version) completes [opened] exceptionally; callers report it instead
 * of crashing.
 */
class TracerOpener(
    config: BluezoneConfig,
    database: File,
    keys: MasterKeys,
    executor: Executor,
) {
    /** The tracer, once open. */
    val opened: CompletableFuture<OpenedTracer> = CompletableFuture.supplyAsync({
        val key = keys.load()
        database.parentFile?.mkdirs()
        openTracer(config, database.path, key.bytes).also { key.bytes.fill(0) }
    }, executor)
}

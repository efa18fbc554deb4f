package org.bluezone.shim

import java.io.File
import java.security.GeneralSecurityException
import java.security.SecureRandom

/**
 * Wraps and unwraps the core's master key with a key the platform keeps (Android Keystore).
 * The Android implementation is the only part that calls platform APIs.
 */
interface KeyWrapper {
    /** The wrapped form of [key] (it may hold an IV; opaque to the caller). */
    fun wrap(key: ByteArray): ByteArray

    /**
     * The key inside [wrapped].
     * @throws GeneralSecurityException when the wrapping key is gone or invalidated, or
     *   [wrapped] was not made by it (restored from another phone): never recoverable.
     */
    fun unwrap(wrapped: ByteArray): ByteArray

    /** Forgets the wrapping key for good. */
    fun destroy()
}

/** The master key, and whether it had to be made anew although an old one existed. */
class MasterKey(val bytes: ByteArray, val replacedUnreadable: Boolean) {
    /** Never the key. */
    override fun toString() = "MasterKey(replacedUnreadable=$replacedUnreadable)"
}

/**
 * The core's 32-byte master key, kept wrapped in [file] (put it in `noBackupFilesDir`: a
 * restored copy could never be unwrapped on another phone). A wrapped key that no longer
 * unwraps is replaced by a new key, never retried at every launch: the store it opened
 * is unreadable for good, and `openTracer` starts a new one and says so
 * (`OpenedTracer.reset`).
 */
class MasterKeys(
    private val file: File,
    private val wrapper: KeyWrapper,
    private val random: SecureRandom = SecureRandom(),
    private val log: (String) -> Unit = {},
) {
    /** The master key, made on first use. */
    @Synchronized
    fun load(): MasterKey {
        if (file.exists()) {
            val wrapped = file.readBytes()
            try {
                val key = wrapper.unwrap(wrapped)
                if (key.size == KEY_BYTES) return MasterKey(key, replacedUnreadable = false)
                log("the stored master key has ${key.size} bytes; making a new one")
            } catch (e: GeneralSecurityException) {
                log("the stored master key no longer unwraps (${e.javaClass.simpleName}); making a new one")
            }
            return MasterKey(create(), replacedUnreadable = true)
        }
        return MasterKey(create(), replacedUnreadable = false)
    }

    /** Forgets the key for good (after the core deleted its data). */
    @Synchronized
    fun destroy() {
        file.delete()
        wrapper.destroy()
    }

    /** A new key, written wrapped before it is used (temporary file, then rename). */
    private fun create(): ByteArray {
        val key = ByteArray(KEY_BYTES).also(random::nextBytes)
        val wrapped = wrapper.wrap(key)
        file.parentFile?.mkdirs()
        val temp = File(file.parentFile, file.name + ".new")
        temp.outputStream().use { out ->
            out.write(wrapped)
            out.fd.sync()
        }
        check(temp.renameTo(file)) { "could not write ${file.name}" }
        return key
    }

    companion object {
        const val KEY_BYTES = 32
    }
}

package org.bluezone.android

import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import org.bluezone.shim.KeyWrapper
import java.security.KeyStore
import java.security.KeyStoreException
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * Wraps the core's master key with an AES-GCM key that never leaves the Android Keystore
 * (hardware-backed where the device has it). What to do when unwrapping fails is decided in
 * [org.bluezone.shim.MasterKeys] (plain Kotlin, JVM-tested); this only calls the Keystore.
 * Deleting the Keystore key makes the store unreadable for good: "delete everything" at the
 * platform level.
 */
class KeystoreKeyWrapper(private val alias: String = "bluezone-master-wrap") : KeyWrapper {
    override fun wrap(key: ByteArray): ByteArray {
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.ENCRYPT_MODE, existingKey() ?: newKey())
        return cipher.iv + cipher.doFinal(key)
    }

    override fun unwrap(wrapped: ByteArray): ByteArray {
        // No key (restored onto another phone, or removed): never recoverable.
        val key = existingKey() ?: throw KeyStoreException("the wrapping key is gone")
        // An IV and a tag at least; a truncated file is as unreadable as a forged one.
        if (wrapped.size < 12 + 16) throw AEADBadTagException("the wrapped key is truncated")
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(128, wrapped, 0, 12))
        return cipher.doFinal(wrapped, 12, wrapped.size - 12)
    }

    override fun destroy() {
        keyStore().deleteEntry(alias)
    }

    private fun keyStore() = KeyStore.getInstance("AndroidKeyStore").apply { load(null) }

    private fun existingKey(): SecretKey? = keyStore().getKey(alias, null) as? SecretKey

    private fun newKey(): SecretKey {
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, "AndroidKeyStore")
        generator.init(
            KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build(),
        )
        return generator.generateKey()
    }
}

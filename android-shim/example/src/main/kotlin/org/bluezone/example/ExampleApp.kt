package org.bluezone.example

import android.app.Application
import org.bluezone.android.Bluezone
import org.bluezone.core.BluezoneConfig
import org.bluezone.core.TrustedSigner

/** Opens the core at every process start (also after a reboot or an update). */
class ExampleApp : Application() {
    override fun onCreate() {
        super.onCreate()
        Bluezone.init(
            this,
            BluezoneConfig(
                txPowerDbm = (-15).toByte(), // from the calibration table for Build.MODEL in a real app
                rssiCorrectionDb = 0.toByte(),
                trustedSigners = listOf(TrustedSigner("452", "v1", BuildConfig.SIGNER_KEY)),
                uploadPublicKey = BuildConfig.UPLOAD_KEY.ifEmpty { null },
            ),
            BuildConfig.SERVER,
        )
    }
}

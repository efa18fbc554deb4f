package org.bluezone.example

import android.Manifest
import android.content.pm.PackageManager
import android.os.Build
import android.os.Bundle
import android.text.InputType
import android.view.View
import android.widget.Button
import android.widget.CheckBox
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import androidx.activity.ComponentActivity
import androidx.activity.result.contract.ActivityResultContracts
import androidx.core.content.ContextCompat
import androidx.lifecycle.Lifecycle
import androidx.lifecycle.lifecycleScope
import androidx.lifecycle.repeatOnLifecycle
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import org.bluezone.android.Bluezone
import kotlinx.coroutines.CancellationException
import org.bluezone.android.ExposureService
import org.bluezone.core.VerifiedCode
import org.bluezone.shim.StatusMessage
import java.time.Instant
import java.time.ZoneOffset

/**
 * The one screen: status, nearby now, exposure state, and "I tested positive". Every core
 * call goes through [Bluezone]'s suspend functions, so nothing blocks the main thread.
 */
class MainActivity : ComponentActivity() {
    private lateinit var status: TextView
    private lateinit var nearby: TextView
    private lateinit var exposure: TextView
    private lateinit var notice: TextView
    private lateinit var code: EditText
    private lateinit var agree: CheckBox
    private lateinit var share: Button
    private var verified: VerifiedCode? = null

    private val permissions = ActivityResultContracts.RequestMultiplePermissions()
    private val ask = registerForActivityResult(permissions) { result ->
        // Notifications are optional: without them the app shows an exposure when opened.
        val refused = result.filterKeys { it != Manifest.permission.POST_NOTIFICATIONS }.containsValue(false)
        if (refused) notice.setText(R.string.permissions_needed) else turnOn(askNotifications = false)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(layout())
        lifecycleScope.launch {
            try {
                if (Bluezone.storeReset() != null) notice.setText(R.string.reset)
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                notice.text = getString(R.string.store_failed, e.javaClass.simpleName)
            }
        }
        lifecycleScope.launch {
            repeatOnLifecycle(Lifecycle.State.STARTED) {
                while (true) {
                    refresh()
                    delay(10_000)
                }
            }
        }
    }

    override fun onStart() {
        super.onStart()
        Bluezone.statusListener = { s -> runOnUiThread { status.text = statusText(StatusMessage.of(s)) } }
    }

    override fun onStop() {
        Bluezone.statusListener = null // the listener must not hold a stopped activity
        super.onStop()
    }

    private suspend fun refresh() {
        val count = Bluezone.nearbyNow()
        nearby.text = count?.let { getString(R.string.nearby, it.near.toInt(), it.mid.toInt(), it.far.toInt()) }
            ?: getString(R.string.nearby_unknown)
        val state = runCatching { Bluezone.exposureStatus() }.getOrNull() ?: return
        exposure.text = state.exposureDayStart?.takeIf { state.notify }?.let { day ->
            getString(R.string.exposed, Instant.ofEpochSecond(day).atZone(ZoneOffset.UTC).toLocalDate().toString())
        } ?: getString(R.string.not_exposed)
    }

    private fun has(permission: String) =
        ContextCompat.checkSelfPermission(this, permission) == PackageManager.PERMISSION_GRANTED

    /** Asks for what is missing (background location on Android 10 and 11 on its own), then turns on. */
    private fun turnOn(askNotifications: Boolean = true) {
        val needed = ExposureService.neededPermissions().filterNot(::has)
        val foreground = needed.filter { it != Manifest.permission.ACCESS_BACKGROUND_LOCATION }
        val notifications = listOf(Manifest.permission.POST_NOTIFICATIONS)
            .filter { askNotifications && Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU && !has(it) }
        when {
            foreground.isNotEmpty() -> ask.launch((foreground + notifications).toTypedArray())
            needed.isNotEmpty() -> ask.launch(needed.toTypedArray())
            else -> {
                Bluezone.permissionsChanged(this)
                Bluezone.enable(this)
            }
        }
    }

    private fun verify() = lifecycleScope.launch {
        try {
            verified = Bluezone.verifyCode(code.text.toString())
            agree.visibility = View.VISIBLE
            share.visibility = View.VISIBLE
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            notice.text = getString(R.string.failed, e.message)
        }
    }

    private fun upload() = lifecycleScope.launch {
        val token = verified ?: return@launch
        if (!agree.isChecked) return@launch
        try {
            val keys = Bluezone.uploadKeys(token, System.currentTimeMillis() / 1000)
            notice.text = getString(R.string.shared, keys.toInt())
            verified = null
            share.visibility = View.GONE
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            notice.text = getString(R.string.failed, e.message)
        }
    }

    private fun statusText(message: StatusMessage): String = getString(
        when (message) {
            StatusMessage.OFF -> org.bluezone.android.R.string.bluezone_status_off
            StatusMessage.ON -> org.bluezone.android.R.string.bluezone_status_on
            StatusMessage.ON_NOT_ADVERTISING -> org.bluezone.android.R.string.bluezone_status_not_advertising
            StatusMessage.BLUETOOTH_OFF -> org.bluezone.android.R.string.bluezone_status_bluetooth_off
            StatusMessage.PERMISSION_MISSING -> org.bluezone.android.R.string.bluezone_status_permission
            StatusMessage.UNSUPPORTED -> org.bluezone.android.R.string.bluezone_status_unsupported
            StatusMessage.SCANNER_FAILING -> org.bluezone.android.R.string.bluezone_status_scanner_failing
        },
    )

    private fun layout(): View {
        val column = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(48, 48, 48, 48)
        }
        fun <T : View> T.add(): T = also { column.addView(it) }
        fun text(initial: Int? = null): TextView = TextView(this).apply {
            if (initial != null) setText(initial)
            textSize = 16f
        }.add()
        fun button(label: Int, onClick: () -> Unit): Button = Button(this).apply {
            setText(label)
            setOnClickListener { onClick() }
        }.add()
        status = text(R.string.status_starting)
        button(R.string.turn_on) { turnOn() }
        button(R.string.turn_off) { Bluezone.disable(this) }
        nearby = text(R.string.nearby_unknown)
        exposure = text()
        notice = text()
        text(R.string.positive_title).textSize = 20f
        code = EditText(this).apply {
            setHint(R.string.code_hint)
            inputType = InputType.TYPE_CLASS_NUMBER
        }.add()
        button(R.string.verify) { verify() }
        agree = CheckBox(this).apply {
            setText(R.string.consent)
            visibility = View.GONE
        }.add()
        share = button(R.string.share) { upload() }.apply { visibility = View.GONE }
        // Android 15 draws apps edge to edge: keep the content clear of the system bars.
        return ScrollView(this).apply {
            fitsSystemWindows = true
            addView(column)
        }
    }
}

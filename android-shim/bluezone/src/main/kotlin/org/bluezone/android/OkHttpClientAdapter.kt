package org.bluezone.android

import okhttp3.Call
import okhttp3.MediaType.Companion.toMediaType
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody.Companion.toRequestBody
import org.bluezone.core.BluezoneException
import org.bluezone.core.HttpResponse
import org.bluezone.shim.CancellableHttpClient
import java.io.IOException
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.TimeUnit

/**
 * The core's HTTP, over OkHttp and HTTPS to the authority's server. The core calls it on its
 * own worker thread; [cancelAll] aborts the request in flight (the download job was stopped).
 */
class OkHttpClientAdapter(private val baseUrl: String, private val client: OkHttpClient = shared) : CancellableHttpClient {
    private val inFlight = ConcurrentHashMap.newKeySet<Call>()
    @Volatile private var cancelled = false

    override fun post(path: String, body: ByteArray): HttpResponse =
        call(Request.Builder().url(baseUrl + path).post(body.toRequestBody("application/json".toMediaType())).build())

    override fun get(path: String): HttpResponse = call(Request.Builder().url(baseUrl + path).get().build())

    override fun cancelAll() {
        cancelled = true
        inFlight.forEach(Call::cancel)
    }

    private fun call(request: Request): HttpResponse {
        if (cancelled) throw BluezoneException.Network(NETWORK, "Canceled")
        val call = client.newCall(request)
        inFlight += call
        try {
            if (cancelled) call.cancel()
            return call.execute().use { HttpResponse(it.code.toUShort(), it.body?.bytes() ?: ByteArray(0)) }
        } catch (e: IOException) {
            // Only the exception's kind: its message may hold the URL.
            throw BluezoneException.Network(NETWORK, e.javaClass.simpleName)
        } finally {
            inFlight -= call
        }
    }

    private companion object {
        /** BluezoneError code: the server could not be reached. */
        const val NETWORK = 30u
        val shared: OkHttpClient = OkHttpClient.Builder()
            .connectTimeout(15, TimeUnit.SECONDS)
            .readTimeout(30, TimeUnit.SECONDS)
            .callTimeout(60, TimeUnit.SECONDS)
            .build()
    }
}

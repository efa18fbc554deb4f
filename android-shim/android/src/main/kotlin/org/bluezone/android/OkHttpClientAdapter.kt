package org.bluezone.android

import okhttp3.MediaType.Companion.toMediaType
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody.Companion.toRequestBody
import org.bluezone.core.BluezoneException
import org.bluezone.core.HttpClient
import org.bluezone.core.HttpResponse
import java.io.IOException

/** The core's HTTP, over OkHttp and HTTPS to the authority's server. */
class OkHttpClientAdapter(private val baseUrl: String, private val client: OkHttpClient = OkHttpClient()) : HttpClient {
    override fun post(path: String, body: ByteArray): HttpResponse =
        call(Request.Builder().url(baseUrl + path).post(body.toRequestBody("application/json".toMediaType())).build())

    override fun get(path: String): HttpResponse = call(Request.Builder().url(baseUrl + path).get().build())

    private fun call(request: Request): HttpResponse = try {
        client.newCall(request).execute().use { HttpResponse(it.code.toUShort(), it.body?.bytes() ?: ByteArray(0)) }
    } catch (e: IOException) {
        throw BluezoneException.Network(30u, e.javaClass.simpleName)
    }
}

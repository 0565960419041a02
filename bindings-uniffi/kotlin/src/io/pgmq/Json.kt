// Hand-written Kotlin over the generated bindings: bodies that are text, or values (JSON and other
// encodings) through a pluggable `Serializer`, labelled with the core's content-type attribute so that a reader in
// any language knows how to decode them.
@file:JvmName("PgmqExtras")
@file:JvmMultifileClass

package io.pgmq

/**
 * How values of type [T] become message bodies and back: `queue.send(value, serializer)` encodes and
 * sets the message's `content-type` attribute ([CONTENT_TYPE_ATTRIBUTE]) to [contentType];
 * `message.decode(serializer)` checks that attribute and decodes. Bytes stay the default (and the
 * fastest path): `queue.send(bytes)` sets no content type.
 *
 * pgmq depends on no JSON library. With kotlinx.serialization, one serializer per type:
 *
 * ```
 * // not run: needs kotlinx-serialization-json
 * class KotlinxJson<T>(private val type: KSerializer<T>, private val json: Json = Json) : Serializer<T> {
 *     override val contentType = JSON_CONTENT_TYPE   // plain JSON: Python's and Node's json() read it
 *     override fun encode(value: T) = json.encodeToString(type, value).encodeToByteArray()
 *     override fun decode(bytes: ByteArray) = json.decodeFromString(type, bytes.decodeToString())
 * }
 * @Serializable data class Order(val id: Long, val total: Double)
 * val orders = KotlinxJson(Order.serializer())
 * queue.send(Order(42, 9.5), orders)
 * queue.messages().collect { msg -> val order: Order = msg.decode(orders); msg.ack() }
 * ```
 *
 * (Jackson or Gson fit the same way: `mapper.writeValueAsBytes(value)`, `mapper.readValue(bytes, T::class.java)`.)
 */
interface Serializer<T> {
    /** The `content-type` attribute of the bodies it makes, e.g. [JSON_CONTENT_TYPE]. */
    val contentType: String

    /** A value as a body. What it throws reaches the caller of `send`. */
    fun encode(value: T): ByteArray

    /** A body as a value. What it throws reaches the caller of `decode`. */
    fun decode(bytes: ByteArray): T
}

/**
 * JSON text as it is: [encode] sends the string's UTF-8 bytes (the caller's text must be JSON), [decode]
 * returns the body's text (`CharacterCodingException` for malformed UTF-8); content type
 * [JSON_CONTENT_TYPE]. What `queue.sendJson(text)` and `message.json()` use.
 */
object JsonText : Serializer<String> {
    override val contentType: String get() = JSON_CONTENT_TYPE

    override fun encode(value: String): ByteArray = value.encodeToByteArray()

    override fun decode(bytes: ByteArray): String = bytes.decodeToString(throwOnInvalidSequence = true)
}

/**
 * `message.json()` or `message.decode(serializer)` was called on a message whose `content-type` attribute
 * names another encoding; the body was not decoded. [contentType] is the message's attribute, [expected]
 * the content type asked for.
 */
class ContentTypeException(
    message: String,
    /** The message's `content-type` attribute. */
    val contentType: AttributeValue,
    /** The content type that was asked for. */
    val expected: String,
) : IllegalArgumentException(message)

/** Sends a UTF-8 text body (no content type: readers get it as `body` or `text`). */
suspend fun Queue.send(body: String, options: SendOptions? = null): SentMessage =
    send(body.encodeToByteArray(), options)

/**
 * Sends [value] encoded by [serializer], with the attribute `content-type` set to the serializer's
 * content type (added to `options.attributes`); returns once the message is durable.
 * `PgmqException.InvalidOption` if `options.attributes` name another content type, and nothing is sent:
 * the bytes are the serializer's, so is their label (send a `ByteArray` to label bytes yourself).
 *
 * ```
 * queue.send(Point(1, 2), pointSerializer)
 * ```
 */
suspend fun <T> Queue.send(value: T, serializer: Serializer<T>, options: SendOptions? = null): SentMessage {
    val labelled = withContentType(options?.attributes ?: emptyMap(), serializer)
    return send(serializer.encode(value), (options ?: SendOptions()).copy(attributes = labelled))
}

/**
 * Sends JSON text (its UTF-8 bytes, which must be JSON) labelled `content-type: application/json`, so
 * that `json()` reads it back in every language: `queue.sendJson("""{"resize": 42}""")`.
 */
suspend fun Queue.sendJson(json: String, options: SendOptions? = null): SentMessage = send(json, JsonText, options)

/**
 * One message of a batch: [value] encoded by [serializer], labelled with its content type, and
 * [attributes]; [after] as in `outgoing(String)`. `PgmqException.InvalidOption` if [attributes] name
 * another content type.
 */
fun <T> outgoing(
    value: T,
    serializer: Serializer<T>,
    vararg attributes: Pair<String, Any?>,
    after: List<Int> = emptyList(),
): OutgoingMessage {
    val labelled = withContentType(attributes(*attributes), serializer)
    return OutgoingMessage(serializer.encode(value), labelled, after)
}

/**
 * [attributes] with `content-type` set to [serializer]'s content type. A different one given is
 * `PgmqException.InvalidOption`, as in Python, Node and Swift: silently replacing it would hide a
 * caller's mistake, and keeping it would mislabel the bytes.
 */
internal fun withContentType(attributes: Map<String, AttributeValue>, serializer: Serializer<*>): Map<String, AttributeValue> {
    val label = AttributeValue.Text(serializer.contentType)
    val given = attributes[CONTENT_TYPE_ATTRIBUTE] ?: return attributes + (CONTENT_TYPE_ATTRIBUTE to label)
    if (given != label) {
        throw PgmqException.InvalidOption(
            "invalid option: attribute $CONTENT_TYPE_ATTRIBUTE=${given.raw}, but the body is encoded as " +
                "${serializer.contentType}; send a ByteArray to label bytes yourself",
        )
    }
    return attributes
}

/**
 * [body] decoded by [serializer] unless [attributes] label it as another encoding ([ContentTypeException]
 * naming [what]): the one rule of `message.decode()`, `peekedMessage.decode()` and `reply.decode()`.
 */
internal fun <T> decoded(body: ByteArray, attributes: Map<String, AttributeValue>, serializer: Serializer<T>, what: String): T {
    val label = attributes[CONTENT_TYPE_ATTRIBUTE]
    if (label != null) {
        val expected = serializer.contentType
        val text = (label as? AttributeValue.Text)?.value
        val matches = text != null && if (expected == JSON_CONTENT_TYPE) isJsonContentType(text) else text == expected
        if (!matches) {
            throw ContentTypeException("$what: the message's $CONTENT_TYPE_ATTRIBUTE is ${label.raw}, not $expected", label, expected)
        }
    }
    return serializer.decode(body)
}

/**
 * The body decoded by [serializer]. A message without a `content-type` attribute is decoded too (bytes
 * sent as that encoding); one labelled with another content type is [ContentTypeException], undecoded
 * (for [JSON_CONTENT_TYPE], `application/json; charset=utf-8` and `application/<x>+json` count as JSON).
 */
fun <T> Message.decode(serializer: Serializer<T>): T = decoded(body, attributes, serializer, "message.decode()")

/**
 * The body as JSON text, for the JSON library of your choice: a message sent as JSON by any language
 * (`sendJson`, Python's `queue.send(dict)`, Node's `queue.send(object)`), or without a content type;
 * [ContentTypeException] if it is labelled as another encoding, `CharacterCodingException` if it is not
 * UTF-8.
 */
fun Message.json(): String = decode(JsonText)

/** The peeked body decoded by [serializer], as [Message.decode] does. */
fun <T> PeekedMessage.decode(serializer: Serializer<T>): T = decoded(body, attributes, serializer, "peekedMessage.decode()")

/** The peeked body as JSON text, as [Message.json] does. */
fun PeekedMessage.json(): String = decode(JsonText)

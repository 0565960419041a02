// Hand-written Kotlin over the generated bindings: attributes from Kotlin values, and filters built
// with `attr("color") eq "red" and (attr("size") gt 3 or attr("rush").exists())`.
@file:JvmName("PgmqExtras")
@file:JvmMultifileClass

package io.pgmq

/**
 * An [AttributeValue] from a Kotlin value: `null`, `Boolean`, integers (`Int`, `Long`, `Short`, `Byte`),
 * `Double` / `Float` (finite), `String`; an `AttributeValue` is returned as is.
 * Anything else is `IllegalArgumentException`.
 */
fun attributeValue(value: Any?): AttributeValue = when (value) {
    null -> AttributeValue.Null
    is AttributeValue -> value
    is Boolean -> AttributeValue.Bool(value)
    is kotlin.Int -> AttributeValue.Int(value.toLong())
    is Long -> AttributeValue.Int(value)
    is Short -> AttributeValue.Int(value.toLong())
    is Byte -> AttributeValue.Int(value.toLong())
    is Double -> AttributeValue.Float(value)
    is kotlin.Float -> AttributeValue.Float(value.toDouble())
    is String -> AttributeValue.Text(value)
    else -> throw IllegalArgumentException("not an attribute value (null, Boolean, integer, Double, String): ${value::class}")
}

/** Attributes from Kotlin values: `attributes("color" to "red", "size" to 3)`. */
fun attributes(vararg pairs: Pair<String, Any?>): Map<String, AttributeValue> =
    pairs.associate { (key, value) -> key to attributeValue(value) }

/** The Kotlin value of an attribute: `null`, `Boolean`, `Long`, `Double` or `String`. */
val AttributeValue.raw: Any?
    get() = when (this) {
        is AttributeValue.Null -> null
        is AttributeValue.Bool -> value
        is AttributeValue.Int -> value
        is AttributeValue.Float -> value
        is AttributeValue.Text -> value
    }

/**
 * One message of a batch with a UTF-8 text body and attributes from Kotlin values; [after]: the earlier
 * entries of the same batch (positions from 0) it depends on (see [OutgoingMessage.after]).
 *
 * ```
 * queue.sendBatch(listOf(outgoing("fetch"), outgoing("parse", after = listOf(0))))
 * ```
 */
fun outgoing(body: String, vararg attributes: Pair<String, Any?>, after: List<Int> = emptyList()): OutgoingMessage =
    OutgoingMessage(body.encodeToByteArray(), attributes(*attributes), after)

// ---------------------------------------------------------------------------------------------------
// Filters

/** Builds [Filter]s on one attribute key with the [Filter] constructors; start with [attr]. */
class AttributeKey(
    /** The attribute's key. */
    val key: String,
) {
    /** `key == value` (same type). */
    infix fun eq(value: Any?): Filter = Filter.eq(key, attributeValue(value))

    /** Present and `key != value`. */
    infix fun ne(value: Any?): Filter = Filter.ne(key, attributeValue(value))

    /** `key < value` (numbers numerically, strings textually). */
    infix fun lt(value: Any?): Filter = Filter.lt(key, attributeValue(value))

    /** `key > value`. */
    infix fun gt(value: Any?): Filter = Filter.gt(key, attributeValue(value))

    /** `key <= value`. */
    infix fun le(value: Any?): Filter = Filter.le(key, attributeValue(value))

    /** `key >= value`. */
    infix fun ge(value: Any?): Filter = Filter.ge(key, attributeValue(value))

    /** A string matching the SQL `LIKE` pattern (`%`, `_`). */
    infix fun like(pattern: String): Filter = Filter.isLike(key, pattern)

    /** A string not matching the SQL `LIKE` pattern. */
    infix fun notLike(pattern: String): Filter = Filter.isNotLike(key, pattern)

    /** Present and null. */
    fun isNull(): Filter = Filter.isNull(key)

    /** Present and not null. */
    fun isNotNull(): Filter = Filter.isNotNull(key)

    /** Present, whatever its value. */
    fun exists(): Filter = Filter.exists(key)

    /** Absent. */
    fun doesNotExist(): Filter = Filter.doesNotExist(key)
}

/** The attribute [key], to build a filter: `attr("color") eq "red"`. */
fun attr(key: String): AttributeKey = AttributeKey(key)

/**
 * How deeply `and` / `or` may nest in one filter (a chain `a and b and c ...` nests one level per `and`;
 * combine long lists pairwise): the core's limit, 100. `Filter.and` / `Filter.or` refuse to build a deeper
 * filter (`PgmqException.InvalidOption`).
 */
val MAX_FILTER_DEPTH: Int get() = maxFilterDepth().toInt()

/** Both filters hold: `Filter.and(this, other)`, `PgmqException.InvalidOption` past [MAX_FILTER_DEPTH] levels. */
infix fun Filter.and(other: Filter): Filter = Filter.and(this, other)

/** Either filter holds: `Filter.or(this, other)`, `PgmqException.InvalidOption` past [MAX_FILTER_DEPTH] levels. */
infix fun Filter.or(other: Filter): Filter = Filter.or(this, other)

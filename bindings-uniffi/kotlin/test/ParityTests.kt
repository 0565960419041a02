// One table of truths: the Kotlin layer's defaults, error classes and enums against the core's own
// (`truthsJson()`, the core's rendering of DEFAULTS and ERROR_CODES); the error table of docs/errors.md
// against the classes; and the Kotlin and Swift columns of docs/parity.md against the Kotlin classes
// (reflection on the generated and hand-written classes) and the Swift declarations (the generated
// Pgmq.swift and the hand-written layer), so that a core operation without a counterpart, or a name
// that does not exist, fails here.
package io.pgmq.tests

import io.pgmq.*
import java.io.File
import java.lang.reflect.Modifier

val parityTests = suite {
    test("DEFAULTS is the core's table, field by field (truthsJson)") {
        // The truths hold the defaults by section, and the limits and conventions beside them.
        val core = truths()
        val truths = (core["defaults"] as Map<*, *>) + mapOf("limits" to core["limits"], "conventions" to core["conventions"])
        val d = DEFAULTS
        val ours = mapOf(
            "queue" to mapOf(
                "ack_deadline_ms" to d.queue.ackDeadlineMs,
                "max_delivery_attempts" to d.queue.maxDeliveryAttempts,
                "retention_period_ms" to d.queue.retentionPeriodMs,
                "dead_letter_queue" to d.queue.deadLetterQueue,
                "backoff" to d.queue.backoff,
                "max_messages" to d.queue.maxMessages,
            ),
            "dead_letter_queue" to mapOf(
                "ack_deadline_ms" to d.deadLetterQueue.ackDeadlineMs,
                "max_delivery_attempts" to d.deadLetterQueue.maxDeliveryAttempts,
                "retention_period_ms" to d.deadLetterQueue.retentionPeriodMs,
            ),
            "backoff" to mapOf(
                "base_ms" to d.backoff.baseMs,
                "factor" to d.backoff.factor,
                "max_ms" to d.backoff.maxMs,
                "jitter" to d.backoff.jitter,
            ),
            "send" to mapOf(
                "track" to d.send.track,
                "wait_for_room_ms" to d.send.waitForRoomMs,
                "room_poll_interval_ms" to d.send.roomPollIntervalMs,
            ),
            "receive" to mapOf(
                "batch_size" to d.receive.batchSize,
                "max_batch_size" to d.receive.maxBatchSize,
                "poll_interval_ms" to d.receive.pollIntervalMs,
            ),
            "completion" to mapOf("poll_interval_ms" to d.completion.pollIntervalMs),
            "request" to mapOf("timeout_ms" to d.request.timeoutMs),
            "peek" to mapOf("limit" to d.peek.limit, "max_limit" to d.peek.maxLimit),
            "client" to mapOf(
                "pool_size" to d.client.poolSize,
                "connect_timeout_ms" to d.client.connectTimeoutMs,
                "statement_timeout_ms" to d.client.statementTimeoutMs,
                "connect_retry_ms" to d.client.connectRetryMs,
                "maintenance_interval_ms" to d.client.maintenanceIntervalMs,
                "schema" to d.client.schema,
                "application_name" to d.client.applicationName,
                "application_name_prefix" to d.client.applicationNamePrefix,
                "keepalives_idle_ms" to d.client.keepalivesIdleMs,
                "keepalives_interval_ms" to d.client.keepalivesIntervalMs,
                "keepalives_count" to d.client.keepalivesCount,
                "tcp_user_timeout_ms" to d.client.tcpUserTimeoutMs,
                "reconnect_backoff_min_ms" to d.client.reconnectBackoffMinMs,
                "reconnect_backoff_max_ms" to d.client.reconnectBackoffMaxMs,
            ),
            "limits" to mapOf(
                "max_send_bytes" to d.limits.maxSendBytes,
                "max_queue_name_len" to d.limits.maxQueueNameLen,
                "max_schema_name_len" to d.limits.maxSchemaNameLen,
                "max_filter_depth" to d.limits.maxFilterDepth,
                "min_ack_deadline_ms" to d.limits.minAckDeadlineMs,
                "max_delivery_attempts" to d.limits.maxDeliveryAttempts,
                "max_duration_ms" to d.limits.maxDurationMs,
                "notify_max_ids" to d.limits.notifyMaxIds,
                "migrate_lock_timeout_ms" to d.limits.migrateLockTimeoutMs,
                "max_messages" to d.limits.maxMessages,
                "max_group_len" to d.limits.maxGroupLen,
                "max_dependencies" to d.limits.maxDependencies,
            ),
            "conventions" to mapOf(
                "dlq_prefix" to d.conventions.dlqPrefix,
                "content_type_attribute" to d.conventions.contentTypeAttribute,
                "json_content_type" to d.conventions.jsonContentType,
            ),
        )
        assertEquals(truths.keys, ours.keys, "sections")
        for ((section, fields) in ours) {
            val core = truths[section] as Map<*, *>
            assertEquals(core.keys, fields.keys, "fields of $section")
            for ((field, value) in fields) assertEquals(normal(core[field]), normal(value), "$section.$field")
        }
        assertEquals(10_000uL, d.completion.pollIntervalMs, "waiting for outcomes re-reads every 10 s by default")
        assertEquals(d.request.timeoutMs.toLong(), d.request.timeout.inWholeMilliseconds, "RequestDefaults.timeout")
        assertEquals(d.send.waitForRoomMs.toLong(), d.send.waitForRoom.inWholeMilliseconds, "SendDefaults.waitForRoom")
        assertEquals(null, SendOptions().waitForRoomMs, "SendOptions(): null waits the core's default (DEFAULTS.send.waitForRoom)")
        assertEquals(0uL, sendOptions(waitForRoom = kotlin.time.Duration.ZERO).waitForRoomMs, "Duration.ZERO: fail at once")
        assertEquals(d.conventions.contentTypeAttribute, CONTENT_TYPE_ATTRIBUTE, "CONTENT_TYPE_ATTRIBUTE")
        assertEquals(d.conventions.jsonContentType, JSON_CONTENT_TYPE, "JSON_CONTENT_TYPE")
        assertEquals(d.limits.maxFilterDepth.toInt(), MAX_FILTER_DEPTH, "MAX_FILTER_DEPTH")
    }

    test("the option records' literal defaults are the core's: QueueOptions() == queueOptions(), ...") {
        // uniffi gives record fields literal defaults only; the Duration builders read DEFAULTS.
        assertEquals(queueOptions(), QueueOptions(), "QueueOptions()")
        assertEquals(deadLetterQueueOptions(), DeadLetterQueueOptions(), "DeadLetterQueueOptions()")
        assertEquals(backoff(), Backoff(), "Backoff()")
        assertEquals(clientOptions(), ClientOptions(), "ClientOptions()")
        assertEquals(defaultClientOptions(), ClientOptions(), "defaultClientOptions()")
        assertEquals(receiveOptions(), ReceiveOptions(), "ReceiveOptions()")
        assertEquals(sendOptions(), SendOptions(), "SendOptions()")
        assertEquals(DEFAULTS.peek.limit, PeekOptions().limit.toULong(), "PeekOptions().limit")
        assertEquals(DEFAULTS.queue.backoff, QueueOptions().backoff != null, "QueueOptions().backoff")
        assertEquals(DEFAULTS.queue.deadLetterQueue, QueueOptions().createDeadLetterQueue, "createDeadLetterQueue")
    }

    test("every PgmqException subclass has its core code (ERROR_CODES), transient as the core says; errorCodes() is the table") {
        val table = (truths()["error_codes"] as List<*>).map { it as Map<*, *> }
        assertEquals(
            table.map { Triple(it["code"], it["transient"], it["description"]) },
            errorCodes().map { Triple(it.code, it.transient, it.description) },
            "errorCodes() against truthsJson()",
        )
        val byCode = exceptionClasses().associateBy { sample(it).code }
        assertEquals(table.map { it["code"] as String }.toSet(), byCode.keys, "the codes of the PgmqException subclasses")
        assertEquals(table.size, exceptionClasses().size, "one subclass per code")
        for (row in table) {
            val e = sample(byCode.getValue(row["code"] as String))
            assertEquals(row["transient"], e.isTransient(), "${row["code"]}: isTransient()")
        }
    }

    test("docs/errors.md: its Kotlin column names, for each code, the PgmqException subclass with that code") {
        val text = File("docs/errors.md").readText()
        val table = text.substringAfter("<!-- generated: error-codes -->").substringBefore("<!-- end -->")
        val header = cells(table.lines().first { it.startsWith("|") })
        val kotlin = header.indexOfFirst { it.startsWith("Kotlin") }
        assertTrue(kotlin >= 0, "a Kotlin column in $header")
        val rows = table.lines().filter { it.startsWith("| `") }.map(::cells)
        assertEquals(errorCodes().map { it.code }, rows.map { it[0].trim('`') }, "one row per code, in the core's order")
        val classes = exceptionClasses().associateBy { it.simpleName }
        for (row in rows) {
            val name = row[kotlin].trim('`')
            val cls = classes[name] ?: fail("docs/errors.md names PgmqException.$name, which does not exist")
            assertEquals(row[0].trim('`'), sample(cls).code, "PgmqException.$name")
        }
    }

    test("Outcome and MessageState have the core's names, in its order") {
        val truths = truths()
        assertEquals(truths["outcomes"], Outcome.entries.map { it.name.lowercase() }, "Outcome")
        assertEquals(truths["message_states"], MessageState.entries.map { it.name.lowercase() }, "MessageState")
    }

    test("docs/parity.md: every name in the Kotlin column exists on the Kotlin classes; no core row is left without one") {
        val missing = mutableListOf<String>()
        var named = 0
        for (row in parityRows()) {
            for (name in row.names("Kotlin")) {
                named++
                if (!kotlinHas(name)) missing += "$name (row ${row.rust})"
            }
        }
        assertEquals(emptyList<String>(), missing, "names in the Kotlin column that the Kotlin API lacks")
        assertTrue(named > 60, "the Kotlin column was read ($named names)")
        val gaps = parityRows().filter { it.names("Kotlin").isEmpty() && it.names("Python") + it.names("Node") != emptyList<String>() }
        assertEquals(emptyList<String>(), gaps.map { it.rust }, "operations another binding has and Kotlin lacks")
    }

    test("docs/parity.md: every name in the Swift column is declared by the generated Pgmq.swift or the Swift layer") {
        val declared = swiftDeclarations()
        val missing = parityRows().flatMap { row -> row.names("Swift").filter { it !in declared }.map { "$it (row ${row.rust})" } }
        assertEquals(emptyList<String>(), missing, "names in the Swift column that the Swift API lacks")
        val gaps = parityRows().filter { it.names("Swift").isEmpty() && it.names("Kotlin").isNotEmpty() }
        assertEquals(emptyList<String>(), gaps.map { it.rust }, "operations Kotlin has and Swift lacks")
    }

    test("the generated Swift declares the new operations with their labels (signature check without a Swift toolchain)") {
        val swift = File("target/uniffi/swift/Pgmq.swift").readText().replace(Regex("\\s+"), " ")
        val expected = listOf(
            "func peek(options: PeekOptions? = nil)async throws -> [PeekedMessage]",
            "func purge()async throws -> UInt64",
            "func listQueues()async throws -> [QueueInfo]",
            "func listQueuesWithStats()async throws -> [QueueOverview]",
            "func schemaVersion()async throws -> Int32",
            "func redrive(from: String, to: String)async throws -> UInt64",
            "func completion(ids: [String])async throws -> SentBatch",
            "func waitForCompletion(ids: [String], pollIntervalMs: UInt64? = nil)async throws -> [String: Outcome]",
            "func completed(pollIntervalMs: UInt64? = nil)async throws -> Outcome",
            "func isTracked() -> Bool",
            "func isLeaseLost() -> Bool",
            "public func errorCode() -> String",
            "public func isTransient() -> Bool",
            "public protocol LogHandler: AnyObject, Sendable",
            "func log(level: LogLevel, target: String, message: String)",
            "public func setLogHandler(handler: LogHandler?)",
            "public func setDefaultLogHandler(handler: LogHandler) -> Bool",
            "public func defaults() -> Defaults",
            "public func errorCodes() -> [ErrorCode]",
            "public func truthsJson() -> String",
            "public var leaseToken: String",
            "public var backoff: Backoff?",
            "public var oldestReadyAgeMs: UInt64?",
            "public var contentTypeAttribute: String",
            "public static func connect(dsn: String, options: ClientOptions? = nil)async throws -> Client",
            "public func outboxStatement(kind: OutboxKind, schema: String?, style: ParamStyle)throws -> String",
            "public func attributesJson(attributes: [String: AttributeValue])throws -> String",
            "public func outboxSqlstates() -> [String: String]",
            "public func outboxError(sqlstate: String, reason: String)throws",
            "func ackWithResult(result: Data, contentType: String? = nil)async throws",
            "func reply(pollIntervalMs: UInt64? = nil)async throws -> Reply",
            "func replies(pollIntervalMs: UInt64? = nil)async throws -> [String: Reply]",
            "func request(message: OutgoingMessage, timeoutMs: UInt64? = nil)async throws -> Reply",
            "public var result: Data?",
            "case RequestFailed(",
            "public var timeoutMs: UInt64",
            "func setMaxMessages(max: UInt64?)async throws",
            "public var maxMessages: UInt64?",
            "public var waitForRoomMs: UInt64?",
            "public var waitForRoomMs: UInt64",
            "public var group: String?",
            "case QueueFull(",
            "func cancelGroup(group: String)async throws -> [String]",
            "func waitForGroup(group: String)async throws -> [String: Outcome]",
            "func groupStats(group: String)async throws -> GroupStats",
            "public var maxGroupLen: UInt64",
            "public var dependsOn: [String]",
            "public var after: [Int32]",
            "public var reason: String?",
            "public var maxDependencies: UInt64",
            "case waiting",
        )
        val absent = expected.filter { it !in swift }
        assertEquals(emptyList<String>(), absent, "declarations missing from target/uniffi/swift/Pgmq.swift")
    }

    test("bindings-uniffi/swift/main.swift calls the generated functions with their declared argument labels") {
        // Without a Swift toolchain the Swift tests do not compile here: this checks what it can.
        val labels = swiftLabels()
        val source = File("bindings-uniffi/swift/main.swift").readText().replace(Regex("//[^\n]*"), "")
        val wrong = Regex("""(?<![\w"])(\w+)\(\s*(\w+)\s*:(?!:)""").findAll(source).mapNotNull { call ->
            val (name, label) = call.destructured
            labels[name]?.let { declared -> if (label in declared) null else "$name($label:) (declared: ${declared.sorted()})" }
        }.toList()
        assertEquals(emptyList<String>(), wrong, "calls whose labels the generated Swift does not declare")
    }
}

// ---- the core's truths -------------------------------------------------------------------------------

@Suppress("UNCHECKED_CAST")
private fun truths(): Map<String, Any?> = parseJson(truthsJson()) as Map<String, Any?>

/** A value of the truths or of a Kotlin record, so that 10000 (JSON), 10000uL and 10000u compare equal. */
private fun normal(v: Any?): Any? = when (v) {
    is ULong, is UInt, is Long, is Int -> v.toString()
    is Double -> if (v % 1.0 == 0.0) v.toLong().toString() else v.toString()
    else -> v
}

/**
 * An instance of a PgmqException subclass, made by its one constructor: `reason` "r", and for the cases
 * that carry more (`RequestFailed`: the request's id and outcome) a value of each further field's type.
 */
private fun sample(cls: Class<out PgmqException>): PgmqException {
    val constructor = cls.constructors.single()
    val args = constructor.parameterTypes.map<Class<*>, Any> { type ->
        when (type) {
            String::class.java -> "r"
            Outcome::class.java -> Outcome.CANCELLED
            else -> fail("${cls.simpleName}: no sample value of a $type field")
        }
    }
    return constructor.newInstance(*args.toTypedArray()) as PgmqException
}

/** The generated subclasses of PgmqException (one per code). */
private fun exceptionClasses(): List<Class<out PgmqException>> =
    PgmqException::class.java.declaredClasses
        .filter { PgmqException::class.java.isAssignableFrom(it) && !Modifier.isAbstract(it.modifiers) }
        .map { it.asSubclass(PgmqException::class.java) }

// ---- docs/parity.md ----------------------------------------------------------------------------------

/** One row of the operations table: the Rust operation and each language's cell. */
private class ParityRow(val rust: String, private val cells: Map<String, String>) {
    /** The backticked names of [language]'s cell (none for `—`). */
    fun names(language: String): List<String> =
        Regex("`([^`]+)`").findAll(cells.getValue(language)).map { it.groupValues[1] }.toList()
}

private fun cells(line: String): List<String> = line.trim().removePrefix("|").removeSuffix("|").split("|").map { it.trim() }

private fun parityRows(): List<ParityRow> {
    val section = File("docs/parity.md").readText().substringAfter("## Operations").substringBefore("\n## ")
    val lines = section.lines().filter { it.startsWith("|") }
    val header = cells(lines.first())
    return lines.drop(2).map { line ->
        val row = cells(line)
        ParityRow(row[0], header.zip(row).toMap())
    }
}

/** The classes the Kotlin column's names live on: generated (`pgmq_uniffi.kt`) and hand-written (`PgmqExtras`). */
private val kotlinFacades = listOf("io.pgmq.Pgmq_uniffiKt", "io.pgmq.PgmqExtras").map { Class.forName(it) }

/** A JVM method name without the hash suffix of inline-class parameters (`nack-bqFruO8`) and `$default`. */
private fun jvmName(method: java.lang.reflect.Method) = method.name.substringBefore('-').removeSuffix("\$default")

/**
 * Whether the Kotlin API has [name]: `function` (a top-level function or object), or `Class.member` (a
 * method, property or companion function of the generated class, or a hand-written extension on it).
 */
private fun kotlinHas(name: String): Boolean {
    val type = name.substringBefore('.', "")
    val member = name.substringAfter('.')
    val accessors = setOf(member, "get" + member.replaceFirstChar { it.uppercase() })
    if (type.isEmpty()) {
        return kotlinFacades.any { f -> f.methods.any { jvmName(it) == member } } ||
            runCatching { Class.forName("io.pgmq.$member") }.isSuccess
    }
    val cls = runCatching { Class.forName("io.pgmq.$type") }.getOrNull() ?: return false
    val companion = cls.declaredClasses.firstOrNull { it.simpleName == "Companion" }
    val onClass = (listOfNotNull(cls, companion)).any { c -> c.methods.any { jvmName(it) in accessors } }
    val extension = kotlinFacades.any { f ->
        f.methods.any { m -> jvmName(m) in accessors && m.parameterTypes.firstOrNull().let { it == cls || it == companion } }
    }
    return onClass || extension
}

// ---- Swift declarations ------------------------------------------------------------------------------

/**
 * `Type.member` for every member declared inside a type or an extension of it, and `name` for every
 * top-level function, in the generated Pgmq.swift and the hand-written Swift sources (comments and
 * string literals dropped, braces counted).
 */
private fun swiftDeclarations(): Set<String> {
    val files = swiftSources()
    val declared = mutableSetOf<String>()
    val typeDecl = Regex("""^\s*(?:(?:public|open|internal|fileprivate|private|final|indirect)\s+)*(?:class|struct|enum|protocol|extension|actor)\s+(\w+)""")
    val memberDecl = Regex("""\b(?:func|var|let|case)\s+`?(\w+)`?""")
    for (file in files) {
        val text = file.readText()
            .replace(Regex("/\\*.*?\\*/", RegexOption.DOT_MATCHES_ALL), "")
            .replace(Regex("//[^\n]*"), "")
            .replace(Regex("\"(?:[^\"\\\\\n]|\\\\.)*\""), "\"\"")
        var depth = 0
        var owner: String? = null
        for (line in text.lines()) {
            if (depth == 0) {
                owner = typeDecl.find(line)?.groupValues?.get(1)
                if (owner == null) Regex("""\bfunc\s+(\w+)""").find(line)?.let { declared += it.groupValues[1] }
            } else if (owner != null) {
                memberDecl.findAll(line).forEach { declared += "$owner.${it.groupValues[1]}" }
            }
            depth += line.count { it == '{' } - line.count { it == '}' }
        }
    }
    return declared
}

/**
 * The argument labels of every function, initializer (under its type's name) and enum case that the
 * generated Pgmq.swift or the hand-written Swift layer declares: `"peek" -> {"options"}`.
 */
private fun swiftLabels(): Map<String, Set<String>> {
    val labels = mutableMapOf<String, MutableSet<String>>()
    for (file in swiftSources()) addSwiftLabels(file.readText().replace(Regex("/\\*.*?\\*/", RegexOption.DOT_MATCHES_ALL), ""), labels)
    return labels
}

/**
 * The generated Pgmq.swift and the hand-written Swift layer (the .swift files of Sources/Pgmq): not the copy
 * prepare-package.sh leaves in Sources/Pgmq/Generated, which, stale, would still declare a renamed name.
 */
private fun swiftSources(): List<File> =
    listOf(File("target/uniffi/swift/Pgmq.swift")) +
        (File("bindings-uniffi/swift/Sources/Pgmq").listFiles() ?: emptyArray()).filter { it.extension == "swift" }.sorted()

private fun addSwiftLabels(text: String, labels: MutableMap<String, MutableSet<String>>) {
    var owner: String? = null
    val decl = Regex("""\b(?:struct|class|enum|actor|extension)\s+(\w+)|\b(?:func\s+(\w+)|(init)|case\s+(\w+))\s*\(([^{]*?)\)\s*(?:async|throws|->|\{|\n)""")
    for (m in decl.findAll(text)) {
        if (m.groupValues[1].isNotEmpty()) {
            owner = m.groupValues[1]
            continue
        }
        val name = m.groupValues[2].ifEmpty { if (m.groupValues[3].isNotEmpty()) owner else m.groupValues[4].ifEmpty { null } } ?: continue
        val params = m.groupValues[5].split(',').mapNotNull { p -> p.substringBefore(':', "").trim().split(Regex("\\s+")).firstOrNull()?.takeIf { it.isNotEmpty() } }
        labels.getOrPut(name) { mutableSetOf() }.addAll(params)
    }
}

// ---- a small JSON reader (no JSON library is on this classpath) --------------------------------------

/** Parses JSON text into maps, lists, strings, numbers (Long or Double), booleans and null. */
fun parseJson(text: String): Any? {
    var i = 0
    fun ws() { while (i < text.length && text[i].isWhitespace()) i++ }
    fun value(): Any? {
        ws()
        return when (val c = text[i]) {
            '{' -> {
                i++
                val map = LinkedHashMap<String, Any?>()
                ws()
                if (text[i] == '}') { i++; return map }
                while (true) {
                    val key = value() as String
                    ws(); check(text[i++] == ':') { "':' expected at $i" }
                    map[key] = value()
                    ws()
                    if (text[i++] == '}') return map
                }
                @Suppress("UNREACHABLE_CODE") map
            }
            '[' -> {
                i++
                val list = ArrayList<Any?>()
                ws()
                if (text[i] == ']') { i++; return list }
                while (true) {
                    list += value()
                    ws()
                    if (text[i++] == ']') return list
                }
                @Suppress("UNREACHABLE_CODE") list
            }
            '"' -> {
                i++
                val s = StringBuilder()
                while (text[i] != '"') {
                    if (text[i] == '\\') {
                        i++
                        when (val e = text[i++]) {
                            'n' -> s.append('\n'); 't' -> s.append('\t'); 'r' -> s.append('\r')
                            'b' -> s.append('\b'); 'f' -> s.append('\u000c')
                            'u' -> { s.append(text.substring(i, i + 4).toInt(16).toChar()); i += 4 }
                            else -> s.append(e)
                        }
                    } else {
                        s.append(text[i++])
                    }
                }
                i++
                s.toString()
            }
            't' -> { i += 4; true }
            'f' -> { i += 5; false }
            'n' -> { i += 4; null }
            else -> {
                check(c == '-' || c.isDigit()) { "unexpected '$c' at $i" }
                val start = i
                while (i < text.length && (text[i].isDigit() || text[i] in "+-.eE")) i++
                val number = text.substring(start, i)
                number.toLongOrNull() ?: number.toDouble()
            }
        }
    }
    val result = value()
    ws()
    check(i == text.length) { "trailing text at $i" }
    return result
}

// The transactional send (the outbox): a message sent on the application's own JDBC connection is
// written with the application's rows and delivered when they commit, or not at all. `Outbox.sendJson`
// runs pgmq's SQL function in the connection's transaction and returns the message id, whose outcome any
// pgmq client can then wait for. Receivers are woken at commit, once per transaction.
//
//   kotlinc -classpath <pgmq.jar:jna.jar:kotlinx-coroutines-core-jvm.jar:postgresql.jar> \
//     -J-Djna.library.path=<dir> -script examples/kotlin/outbox.kts   (DATABASE_URL: the database; the
//     JDBC driver: Debian's libpostgresql-jdbc-java, /usr/share/java/postgresql.jar)
//
// Output:
//   rolled back: 0 orders, 0 messages
//   committed order 7 with its message
//   received {"order": 7, "total": 12.5} application/json
//   outcome, read by id: COMPLETED
import io.pgmq.*
import kotlinx.coroutines.*
import java.net.URI
import java.sql.Connection
import java.sql.DriverManager
import java.util.UUID

val dsn = System.getenv("DATABASE_URL") ?: "postgres://postgres@localhost/postgres"
// The same database through JDBC: postgres://user@host:port/db -> jdbc:postgresql://host:port/db?user=user
val url = URI(dsn).let { u -> "jdbc:postgresql://${u.host}:${if (u.port > 0) u.port else 5432}${u.path}?user=${u.userInfo.substringBefore(':')}" }

/** Stores an order and the message announcing it, in one transaction. */
fun placeOrder(db: Connection, id: Int, total: Double, fail: Boolean): UUID {
    db.autoCommit = false
    try {
        db.prepareStatement("INSERT INTO orders VALUES (?, ?)").use { it.setInt(1, id); it.setDouble(2, total); it.executeUpdate() }
        val messageId = Outbox.sendJson(db, "examples-kotlin-outbox", """{"order": $id, "total": $total}""")
        if (fail) throw IllegalStateException("payment declined")
        db.commit()
        return messageId
    } catch (e: Exception) {
        db.rollback() // the order and its message go together
        throw e
    }
}

runBlocking<Unit> {
    Client.connect(dsn).use { client ->
        client.migrate()
        client.createQueue("examples-kotlin-outbox", QueueOptions())
        val queue = client.queue("examples-kotlin-outbox")
        DriverManager.getConnection(url).use { db ->
            db.createStatement().use { it.execute("CREATE TEMP TABLE orders (id int PRIMARY KEY, total numeric)") }

            runCatching { placeOrder(db, 6, 99.0, fail = true) }
            val orders = db.createStatement().use { st -> st.executeQuery("SELECT count(*) FROM orders").use { it.next(); it.getLong(1) } }
            println("rolled back: $orders orders, ${queue.stats().messages} messages")

            val id = placeOrder(db, 7, 12.5, fail = false)
            println("committed order 7 with its message")

            val receiver = queue.receiver()
            val msg = receiver.next()!!
            println("received ${msg.json()} ${msg.attributes[CONTENT_TYPE_ATTRIBUTE]?.raw}")
            msg.ack()
            receiver.stop()
            val outcomes = queue.waitForCompletion(listOf(id.toString()))
            println("outcome, read by id: ${outcomes[id.toString()]}")
        }
        client.deleteQueue("examples-kotlin-outbox")
    }
}

// The seed example: two idle workers, one message. One worker receives it, works on it for a second and
// acks it; the sender's completion then resolves.
//
//   kotlinc -classpath <pgmq.jar:jna.jar:kotlinx-coroutines-core-jvm.jar> -J-Djna.library.path=<dir> \
//     -script examples/kotlin/seed.kts      (DATABASE_URL: the database; see bindings-uniffi/README.md)
//
// Output:
//   sent
//   received
//   done processing
//   acked
//   completed
import io.pgmq.*
import kotlinx.coroutines.*

runBlocking<Unit> {
    Client.connect(System.getenv("DATABASE_URL") ?: "postgres://postgres@localhost/postgres").use { client ->
        client.migrate()
        client.createQueue("examples-kotlin-seed", QueueOptions())
        val queue = client.queue("examples-kotlin-seed")

        val workers = List(2) {
            launch {
                val receiver = queue.receiver()
                val msg = receiver.next() ?: return@launch // null once the receiver is stopped
                println("received")
                delay(1_000)
                println("done processing")
                msg.ack()
                println("acked")
                receiver.stop()
            }
        }
        val sent = queue.send("""{"foo":"bar"}""")
        println("sent")
        sent.completed()
        println("completed")
        workers.forEach { it.cancelAndJoin() } // cancelling the idle worker's next() leaves nothing leased
        client.deleteQueue("examples-kotlin-seed")
    }
}

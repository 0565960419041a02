// ES module entry of the npm package `pgmq`: the same objects as the CommonJS entry (./index.cjs), so
// `import` and `require` in one process share classes (`instanceof` works across both).
import pgmq from './index.cjs'

export const {
  connect,
  setLogger,
  sql,
  getDlqName,
  DEFAULTS,
  ERROR_CODES,
  Outcome,
  MessageState,
  Attribute,
  Filter,
  jsonSerializer,
  CONTENT_TYPE_ATTRIBUTE,
  JSON_CONTENT_TYPE,
  MAX_FILTER_DEPTH,
  Client,
  Queue,
  Message,
  PeekedMessage,
  MessageStream,
  SentMessage,
  SentBatch,
  PgmqError,
  InvalidQueueNameError,
  InvalidOptionError,
  QueueNotFoundError,
  MessageNotFoundError,
  LeaseLostError,
  HandleError,
  SchemaMissingError,
  SchemaConflictError,
  ConnectionError,
  PgmqTimeoutError,
  DatabaseError,
  ClientClosedError,
  InternalError,
} = pgmq

export default pgmq

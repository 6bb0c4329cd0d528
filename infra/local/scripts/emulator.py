"""The local AWS emulator: moto's server (`moto_server`, same arguments), with its DynamoDB
requests taken one at a time.

moto's server answers requests on many threads, and its TransactWriteItems is not isolated
from them: it checks and applies its items one by one, and a cancelled transaction rolls back
by restoring the whole table from a copy taken when it began, wiping out whatever other requests
wrote meanwhile. A claim another request had just made could vanish that way, and its action be
performed twice. DynamoDB makes each transaction atomic and isolated; serializing the emulator's
DynamoDB operations gives the tests the same guarantee. SQS, Secrets Manager and IAM are left as
moto has them (an SQS long poll must not hold up everything else).
"""

import functools
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

# The operations that read or write tables (batch and transaction ones call the single-item
# ones, so the lock is reentrant).
OPERATIONS = [
    "batch_execute_statement",
    "batch_get_item",
    "batch_write_item",
    "create_table",
    "delete_item",
    "delete_table",
    "describe_table",
    "execute_statement",
    "execute_transaction",
    "get_item",
    "put_item",
    "query",
    "scan",
    "transact_get_items",
    "transact_write_items",
    "update_item",
    "update_table",
    "update_time_to_live",
]

_lock = threading.RLock()


def _one_at_a_time(operation):
    @functools.wraps(operation)
    def serialized(self, *args, **kwargs):
        with _lock:
            return operation(self, *args, **kwargs)

    return serialized


for _name in OPERATIONS:
    setattr(DynamoDBBackend, _name, _one_at_a_time(getattr(DynamoDBBackend, _name)))

if __name__ == "__main__":
    sys.exit(main())

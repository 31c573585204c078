"""The local stack: Kafka (KRaft) from Maven Central jars, FerretDB built with Go, the services.

One launcher serves ``make run`` and the test fixtures; ports and folders are configurable so
tests can run beside a running stack.
"""

from deploy.launcher.config import StackConfig
from deploy.launcher.stack import Stack

__all__ = ["Stack", "StackConfig"]

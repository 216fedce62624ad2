"""The local stack: AWS emulated on loopback, the API, and what AWS would run beside it."""

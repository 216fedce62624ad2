"""The benchmark suite (``make bench``): cold start, DynamoDB calls per operation, throughput under contention."""

"""The benchmark suite (``make bench``): cold start, DynamoDB calls per operation, update and event, throughput."""

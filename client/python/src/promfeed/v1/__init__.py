"""Generated promfeed.v1 protobuf and gRPC stubs (see client/python/scripts/gen_proto.py)."""

#!/usr/bin/env python3
"""Signs one AWS JSON 1.1 ECS request with botocore's SigV4 signer (the AWS CLI's).

Usage: bench/sign.py HOST:PORT OPERATION BODY ACCESS_KEY SECRET [REGION]
Prints two lines: the X-Amz-Date and the Authorization header values, for the request
`POST /` to HOST:PORT with Content-Type application/x-amz-json-1.1, X-Amz-Target
AmazonEC2ContainerServiceV20141113.OPERATION and BODY, as bench/wrk/common.lua sends it.
"""
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

host, op, body, key, secret = sys.argv[1:6]
region = sys.argv[6] if len(sys.argv) > 6 else "us-east-1"
req = AWSRequest(
    method="POST",
    url=f"http://{host}/",
    data=body.encode(),
    headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"AmazonEC2ContainerServiceV20141113.{op}",
    },
)
SigV4Auth(Credentials(key, secret), "ecs", region).add_auth(req)
print(req.headers["X-Amz-Date"])
print(req.headers["Authorization"])

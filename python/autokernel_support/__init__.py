"""Python helpers of autokernel: what the embedded interpreter (Triton backend) and the Python tests share."""

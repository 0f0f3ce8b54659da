"""The only package that imports boto3/botocore: one small gateway per service."""

"""Deploy the synthesized app to a local AWS: moto's server for S3/IAM/STS/KMS and the Personalize emulator.

Custom::Personalize* resources run through the real handler entry points with CloudFormation's events;
see docs/local-deploy.md and `python -m personalize_tools.localdeploy --help`.
"""

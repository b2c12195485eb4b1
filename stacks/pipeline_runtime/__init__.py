"""Code the rollout pipeline runs after each stage (CodeBuild), not at synth: boto3 and the standard library.

Its dependencies are locked in requirements.txt beside it, which the smoke-test step installs.
"""

"""Local tooling: the Personalize emulator, the local deployer, validate-data and the sample-data generator."""

"""Local tooling: the Personalize emulator, the local deployer, validate-data, the sample generator."""

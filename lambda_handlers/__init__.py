"""Custom-resource Lambda code. The asset is this folder; the code lives in the `personalize` package."""

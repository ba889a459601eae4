"""`python -m builder`: the command line (CONTRACT.md). Imports anything in builder."""

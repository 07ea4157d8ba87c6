"""Pinpoint protocol library: the code the coordinator and the workers share (job spec, Merkle tree). No torch here."""

"""The INDI backend: alt-az mount and cameras over indipyclient, and the bench tools."""

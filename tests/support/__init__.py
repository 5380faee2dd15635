"""Small, dependency-free helpers the unit tests share: an RFC 6902 applier and the kubelet's $(VAR) expansion."""

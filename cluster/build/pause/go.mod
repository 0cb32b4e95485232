module svc-conformance.local/pause

go 1.25

// Package harness holds the scenario tests that run every behaviour of Gatehouse twice: compiled,
// and loaded through Yaegi v0.16.1 exactly as Traefik loads it (see package loader).
package harness

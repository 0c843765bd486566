//go:build race
// +build race

package harness

// raceEnabled: the test binary runs under the race detector.
const raceEnabled = true
